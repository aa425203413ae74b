"""The SQL files in ``queries/``: one query per file, named parameters only."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

QUERY_DIR = Path(
    os.environ.get("ETL_DUCK_QUERIES", Path(__file__).resolve().parents[1] / "queries")
)


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql`` (names come from code, never from users)."""
    return (QUERY_DIR / f"{name}.sql").read_text()


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERY_DIR.glob("*.sql"))
