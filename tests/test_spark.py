"""The same SQL on an existing distributed engine: Spark reads the lake's partition folders
as they are (hive-style ``session_date=…`` folders of plain Parquet) and, with the same
definitions — counted rows only, Σ first then the ratio — gives etl-duck's answers.

Spark SQL in local mode (``local[2]``) over the synthetic lake: the kills and DPM
leaderboards and one session's per-player totals. Nothing in the lake is changed or
exported for it: the folders a notebook globs are the folders Spark lists.

Runs with ``--spark`` (``make test-spark``; ``.ci/run`` installs the ``spark`` extra when it
can). Skipped, saying why, when pyspark or Java 17+ is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl_duck.query.stats import Stats

pytestmark = pytest.mark.spark

LIMIT = 10
MIN_ROUNDS = 10


def _why_not() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    java = shutil.which("java")
    if java is None:
        return "no Java runtime (Spark 4 needs Java 17+: apt-get install openjdk-17-jre-headless)"
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', out)
    if found is None or int(found.group(1)) < 17:
        return f"Spark 4 needs Java 17+, found: {out.splitlines()[0] if out else 'unknown'}"
    return None


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    why = _why_not()
    if why is not None:
        pytest.skip(f"Spark test: {why}")
    from pyspark.sql import SparkSession

    work = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("etl-duck-same-sql")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", str(work))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def lake(spark: Any, synthetic_lake: tuple[Path, object]) -> Path:
    """The lake's tables as Spark views, read from the current snapshot's folders."""
    data, _ = synthetic_lake
    snapshot = (data / "lake").resolve()  # one version, as any reader resolves the link once
    for table in ("rounds", "player_rounds", "weapon_rounds"):
        spark.read.option("basePath", str(snapshot / table)).parquet(
            str(snapshot / table)
        ).createOrReplaceTempView(table)
    return data


def _board(spark: Any, value: str, order: str) -> list[tuple[str, float, int]]:
    rows = spark.sql(
        f"""
        SELECT guid, {value} AS value, count(*) AS rounds
        FROM player_rounds
        WHERE counted
        GROUP BY guid
        HAVING count(*) >= {MIN_ROUNDS} AND {value} IS NOT NULL
        ORDER BY value {order}, rounds DESC, guid
        LIMIT {LIMIT}
        """
    ).collect()
    return [(r["guid"], float(r["value"]), int(r["rounds"])) for r in rows]


def _etl_board(data: Path, metric: str) -> list[tuple[str, float, int]]:
    board = Stats(data).leaderboard(metric, "all", limit=LIMIT, min_rounds=MIN_ROUNDS)
    return [
        (str(r["guid"]), float(r["value"]), int(r["rounds"])) for r in board.iter_rows(named=True)
    ]


def test_spark_sees_every_partition(spark: Any, lake: Path) -> None:
    stats = Stats(lake).status()
    assert spark.sql("SELECT count(*) AS n FROM rounds").collect()[0]["n"] == stats["rounds"]
    assert (
        spark.sql("SELECT count(*) AS n FROM player_rounds").collect()[0]["n"]
        == stats["player_rounds"]
    )
    dates = spark.sql("SELECT min(session_date) AS a, max(session_date) AS b FROM rounds").collect()
    assert (dates[0]["a"], dates[0]["b"]) == (stats["first_date"], stats["last_date"])


def test_kills_leaderboard_is_the_same(spark: Any, lake: Path) -> None:
    assert _board(spark, "sum(kills)", "DESC") == _etl_board(lake, "kills")


def test_dpm_leaderboard_is_the_same(spark: Any, lake: Path) -> None:
    # DPM = Σdamage·60 / Σown seconds; rows with zero time add neither damage nor time
    dpm = (
        "CAST(sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) AS DOUBLE) * 60 "
        "/ sum(time_played_s)"
    )
    spark_board = _board(spark, dpm, "DESC")
    etl_board = _etl_board(lake, "dpm")
    assert [(g, n) for g, _, n in spark_board] == [(g, n) for g, _, n in etl_board]
    for (_, a, _), (_, b, _) in zip(spark_board, etl_board, strict=True):
        assert a == pytest.approx(b, rel=1e-12)  # integer sums, one division: the same


def test_one_sessions_totals_are_the_same(spark: Any, lake: Path) -> None:
    rep = Stats(lake).last_session()
    rows = spark.sql(
        f"""
        SELECT guid, count(*) AS rounds, sum(kills) AS kills, sum(deaths) AS deaths,
               sum(damage_given) AS damage_given, sum(time_played_s) AS time_played_s,
               sum(revives_given) AS revives,
               CAST(sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END) AS DOUBLE)
                   * 60 / sum(time_played_s) AS dpm
        FROM player_rounds
        WHERE counted AND session_id = {rep.session_id}
        GROUP BY guid
        """
    ).collect()
    spark_rows = {r["guid"]: r.asDict() for r in rows}
    etl_rows = {r["guid"]: r for r in rep.players.iter_rows(named=True)}
    assert spark_rows.keys() == etl_rows.keys() and len(spark_rows) >= 4
    for guid, s in spark_rows.items():
        e = etl_rows[guid]
        for key in ("rounds", "kills", "deaths", "damage_given", "time_played_s", "revives"):
            assert s[key] == e[key], (guid, key)
        assert s["dpm"] == pytest.approx(e["dpm"], rel=1e-12)
    rounds = spark.sql(
        f"SELECT count(*) AS n FROM rounds WHERE counted AND session_id = {rep.session_id}"
    ).collect()[0]["n"]
    assert rounds == rep.rounds.filter(rep.rounds["counted"]).height
