"""The SQL files in ``queries/``: one query per file, named parameters only.

The top-level ``queries/`` folder is what a reader looks for; the wheel ships it inside the
package as ``etl_duck/queries`` (pyproject's force-include), and that copy wins when it
exists, so an installed etl-duck runs its queries from any directory.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _query_dir() -> Path:
    env = os.environ.get("ETL_DUCK_QUERIES")
    if env:
        return Path(env)
    packaged = _HERE / "queries"
    return packaged if packaged.is_dir() else _HERE.parent / "queries"


QUERY_DIR = _query_dir()
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_DETAIL = re.compile(r"\bFROM\s+(player_rounds|weapon_rounds)\b", re.IGNORECASE)


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql`` (names come from code, never from users)."""
    return (QUERY_DIR / f"{name}.sql").read_text()


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERY_DIR.glob("*.sql"))


def parameters(name: str) -> set[str]:
    """The named parameters (``$name``) a query takes."""
    text = "\n".join(line.split("--", 1)[0] for line in sql(name).splitlines())
    return set(_PARAM.findall(text))


def reads_detail(name: str) -> bool:
    """Whether the query reads the per-date partitions (it must be scoped to dates)."""
    return _DETAIL.search(sql(name)) is not None
