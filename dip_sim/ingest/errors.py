"""Errors raised while reading input files."""


class IngestError(ValueError):
    """A file or directory cannot be loaded; the message names the file and the problem."""


class PseudonymMethodChanged(IngestError):
    """The warehouse was pseudonymised by an earlier method: its pseudonyms cannot be matched."""
