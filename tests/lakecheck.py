"""Helpers for lake tests: content digests, file builders."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from etl_duck.lake.layout import TABLES
from etl_duck.lake.snapshot import Lake
from tests.conftest import FIXTURES

R1 = FIXTURES / "2026-03-14-213512-supply-round-1.txt"
R2 = FIXTURES / "2026-03-14-214449-supply-round-2.txt"
HEADER_ONLY = FIXTURES / "2026-03-14-223140-etl_frostbite-round-1.txt"


def content_digest(data_dir: Path) -> str:
    """A digest of every table's rows, the serving tables and the round index, independent
    of file names and versions."""
    lake = Lake(data_dir)
    snap = lake.current_dir()
    if snap is None:
        return "empty"
    h = hashlib.sha256()
    con = duckdb.connect()
    for table in TABLES:
        files = [str(p) for p in lake.partition_files(table, snap)]
        if not files:
            h.update(f"{table}:none".encode())
            continue
        rows = con.execute(
            "SELECT * FROM read_parquet($f, hive_partitioning = true) ORDER BY ALL", {"f": files}
        ).fetchall()
        h.update(f"{table}:{len(rows)}:{rows!r}".encode())
    # derived data maintained incrementally must equal what one batch would build
    derived = {f"serving/{k}": v for k, v in sorted(lake.read_serving(snap).items())}
    derived["state/round_index"] = lake.read_state("round_index", snap)
    for name, arrow in derived.items():
        if not arrow.num_columns:  # a serving table that never had a row (no endstats yet)
            h.update(f"{name}:empty".encode())
            continue
        con.register("t", arrow)
        rows = con.execute("SELECT * FROM t ORDER BY ALL").fetchall()
        con.unregister("t")
        h.update(f"{name}:{len(rows)}:{rows!r}".encode())
    return h.hexdigest()


def by_evening(folder: Path) -> list[list[Path]]:
    """The round files of ``folder`` grouped by the day they were played, in play order."""
    days: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        days.setdefault(p.name[:10], []).append(p)
    return [days[d] for d in sorted(days)]


def num(value: object) -> float:
    """A Polars scalar (``Series.max()`` and friends) as a number, for comparisons."""
    assert isinstance(value, int | float), value
    return float(value)


def table_rows(data_dir: Path, table: str, where: str = "true") -> list[dict[str, object]]:
    glob = str(data_dir / "lake" / table / "**" / "*.parquet")
    con = duckdb.connect()
    cur = con.execute(
        f"SELECT * FROM read_parquet($g, hive_partitioning = true) WHERE {where} ORDER BY ALL",
        {"g": glob},
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def one_player_round(
    folder: Path, stamp: str, map_name: str = "etl_frostbite", tag: str = ""
) -> Path:
    """A valid round-1 file named for ``stamp`` (YYYY-MM-DD-HHMMSS): the header-only
    fixture's header and the smallest game — one player a side (BlueJay's line of the
    supply round 1, team 1, and Dr. Fun's, team 2). A round needs players on both sides to
    be part of an evening: a header-only one (nobody played) or a one-sided one (a player
    alone) never links rounds into a session, nor counts."""
    text = HEADER_ONLY.read_bytes().replace(b"etl_frostbite", map_name.encode())
    text = text.replace(b"Server", f"Server{stamp}{tag}".encode(), 1)  # unique content
    lines = R1.read_bytes().splitlines(keepends=True)
    path = folder / f"{stamp}-{map_name}-round-1.txt"
    path.write_bytes(text + lines[2] + lines[1])  # BlueJay (team 1), Dr. Fun (team 2)
    return path


def renamed_pair(folder: Path, r1_stamp: str, r2_stamp: str, tag: str) -> tuple[Path, Path]:
    """The supply fixture pair under new timestamps, with unique content."""
    out = []
    for src, stamp, n in ((R1, r1_stamp, 1), (R2, r2_stamp, 2)):
        text = src.read_bytes().replace(b"Server", f"Server {tag}".encode(), 1)
        p = folder / f"{stamp}-supply-round-{n}.txt"
        p.write_bytes(text)
        out.append(p)
    return out[0], out[1]


#: the settings a test of the CLI clears (the host's and a stray .env's are not the test's)
CLI_SETTINGS = (
    "ETL_DUCK_DATA_DIR", "ETL_DUCK_SESSION_GAP_MINUTES", "ETL_DUCK_FILLER_MAPS",
    "ETL_DUCK_TIMEZONE",
)  # fmt: skip


def clean_cli(capsys: Any, monkeypatch: Any, folder: Path) -> Callable[..., tuple[int, str, str]]:
    """``etl-duck ARGS`` through the real entry point, run in ``folder`` with none of
    :data:`CLI_SETTINGS` set: (exit code, stdout, stderr), each on one line."""
    from etl_duck.cli import run

    monkeypatch.chdir(folder)
    for name in CLI_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    def call(*args: str | Path) -> tuple[int, str, str]:
        code = run([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, " ".join(out.split()), " ".join(err.split())

    return call
