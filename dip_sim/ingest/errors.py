"""Errors raised while reading input files."""


class IngestError(ValueError):
    """A file or directory cannot be loaded; the message names the file and the problem."""
