"""Errors raised while reading input files."""


class IngestError(ValueError):
    """A file or directory cannot be loaded; the message names the file and the problem.

    ``unmapped`` lists the table's columns that map to no field (for ``load_batches``);
    ``problem`` is the message without the way to fix a file (a ``--mapping`` row, a sheet),
    for callers that are not loading files (the 预分组 API).
    """

    def __init__(self, message: str, unmapped: tuple[str, ...] = (),
                 problem: str | None = None) -> None:
        super().__init__(message)
        self.unmapped = unmapped
        self.problem = problem or message


class PseudonymMethodChanged(IngestError):
    """The warehouse was pseudonymised by an earlier method: its pseudonyms cannot be matched."""
