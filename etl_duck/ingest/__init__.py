"""Ingest: stats files → raw store → rebuilt session-date partitions → one lake commit.

``run`` is the sequence (admit, regroup, build, state, serving, commit); ``build`` makes a
date's partitions (in worker processes for backfills); ``state`` keeps the ledger, the
rejected lines and the round index; ``options`` holds the settings and the report.
"""

from typing import TYPE_CHECKING, Any

from etl_duck.ingest.options import IngestOptions, IngestReport

if TYPE_CHECKING:
    from etl_duck.ingest.run import ingest_paths, rebuild

__all__ = ["IngestOptions", "IngestReport", "ingest_paths", "rebuild"]


def __getattr__(name: str) -> Any:
    # the ingest (PyArrow, ~55 MiB) loads when first used: the settings and the bot import
    # the options without it
    if name in ("ingest_paths", "rebuild"):
        from etl_duck.ingest import run

        return getattr(run, name)
    raise AttributeError(name)
