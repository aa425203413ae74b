"""Ingest: stats files → raw store → rebuilt session-date partitions → one lake commit.

``run`` is the sequence (admit, regroup, build, state, serving, commit); ``build`` makes a
date's partitions (in worker processes for backfills); ``state`` keeps the ledger, the
rejected lines and the round index; ``options`` holds the settings and the report.
"""

from etl_duck.ingest.options import IngestOptions, IngestReport
from etl_duck.ingest.run import ingest_paths, rebuild

__all__ = ["IngestOptions", "IngestReport", "ingest_paths", "rebuild"]
