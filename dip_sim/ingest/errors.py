"""Errors raised while reading input files."""


class IngestError(ValueError):
    """A file or directory cannot be loaded; the message names the file and the problem.

    ``unmapped`` lists the table's columns that map to no field (for ``load_batches``).
    """

    def __init__(self, message: str, unmapped: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unmapped = unmapped


class PseudonymMethodChanged(IngestError):
    """The warehouse was pseudonymised by an earlier method: its pseudonyms cannot be matched."""
