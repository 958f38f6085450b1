"""Ingest: read extracts, type and standardise them, pseudonymise, load idempotently."""

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.load import IngestSummary, ingest_directory

__all__ = ["IngestError", "IngestSummary", "ingest_directory"]
