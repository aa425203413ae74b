"""A long-running reader (the bot's Stats) across another lake under the same data dir.

A lake deleted and rebuilt from raw/ numbers its versions from 1 again, and a backup of the
data dir restored and committed on reuses the numbers after its own: the same version
number then names other content. The reader must notice (the manifest's lake id, a
snapshot folder that is another one, a partition that differs yet is not newer than the
version served) and read the lake anew, keeping no answer of the old one — cached or
never asked before — whatever the version number. A lake written before lakes had an id
still loads, serves, and takes one at its next commit without a reread.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from etl_duck.ingest.run import ingest_paths, rebuild
from etl_duck.lake.manifest import Manifest
from etl_duck.lake.snapshot import Lake
from etl_duck.query.stats import Stats
from tests.conftest import REAL

REAL_FILES = sorted(REAL.glob("*.txt"))
#: three evenings up to 2025-10-02 (20 files that evening)
UP_TO_OCT_2 = [f for f in REAL_FILES if "2025-09-24" <= f.name < "2025-10-03"]
OCT_12 = [f for f in REAL_FILES if f.name.startswith("2025-10-12")]
NOV_1 = [f for f in REAL_FILES if f.name.startswith(("2025-11-01", "2025-11-02"))]
NOV_11 = [f for f in REAL_FILES if f.name.startswith("2025-11-11")]
OCT_2 = date(2025, 10, 2)
#: half of that evening's files: a backup of raw/ that lacks them
LOST = [f for f in UP_TO_OCT_2 if f.name.startswith("2025-10-02")][-10:]


def answers(stats: Stats) -> dict[str, Any]:
    """What the questions below answer, for comparing two readers."""
    kills = stats.leaderboard("kills", limit=100)
    guid = str(kills["guid"][0])
    card = stats.player(guid)
    return {
        "version": stats.version(),
        "kills": kills.rows(),
        "revives": stats.leaderboard("revives", limit=100).rows(),
        "dpm_season": stats.leaderboard("dpm", "2025-09-01..2025-12-31", limit=100).rows(),
        "sessions": stats.sessions().rows(),
        "oct_2": stats.session(OCT_2).players.rows(),
        "card": (card.totals, card.weapons.rows(), card.aliases.rows()),
        "rating": stats.rating_top(limit=100, min_maps=0).rows(),
    }


def ask_some(stats: Stats) -> None:
    """The questions a bot has answered (and cached) before the lake goes."""
    stats.leaderboard("kills", limit=100)
    stats.session(OCT_2)
    stats.sessions()
    stats.rating_top(limit=100, min_maps=0)


def lake_id(data_dir: Path) -> str:
    """The id in the current manifest (read as JSON: "" for a manifest without one)."""
    snap = Lake(data_dir).current_dir()
    assert snap is not None
    return str(json.loads((snap / "_manifest.json").read_text()).get("lake", ""))


def drop_lake(data_dir: Path) -> None:
    """What the admin deletes: the link and every snapshot (raw/ stays)."""
    (data_dir / "lake").unlink()
    shutil.rmtree(data_dir / ".lake")


def drop_raw(data_dir: Path, files: list[Path]) -> None:
    for f in files:
        (data_dir / "raw" / f.name[:10] / f.name).unlink()


def test_a_reader_reads_a_rebuilt_lake_anew_at_a_reused_version(data_dir: Path) -> None:
    """Two bots: one looks when the new lake is at the version it served (v3), the other
    only once it is beyond (v4)."""
    ingest_paths(data_dir, UP_TO_OCT_2)  # v1
    ingest_paths(data_dir, OCT_12)  # v2
    ingest_paths(data_dir, NOV_1)  # v3
    bot, other_bot = Stats(data_dir, min_rounds=0), Stats(data_dir, min_rounds=0)
    ask_some(bot)
    ask_some(other_bot)
    old = answers(bot)
    assert old["version"] == 3
    old_id = lake_id(data_dir)

    # raw/ restored from an older backup that lacks some files, the lake deleted and
    # rebuilt, and the fetch goes on (other files): the version numbers come again
    drop_raw(data_dir, LOST + NOV_1)
    drop_lake(data_dir)
    assert rebuild(data_dir).version == 1
    assert ingest_paths(data_dir, NOV_11[:10]).version == 2
    assert ingest_paths(data_dir, NOV_11[10:]).version == 3
    fresh = answers(Stats(data_dir, min_rounds=0))
    assert fresh["version"] == 3
    assert fresh["kills"] != old["kills"]  # the new lake answers otherwise
    assert fresh["oct_2"] != old["oct_2"]
    # the same object: every answer the new lake's, cached before or never asked
    assert answers(bot) == fresh

    # beyond the version served (NOV_1 again, the old lake's v3): the dates both lakes
    # hold were written at v1 by both, with other content
    assert ingest_paths(data_dir, NOV_1).version == 4
    fresh = answers(Stats(data_dir, min_rounds=0))
    assert fresh["oct_2"] != old["oct_2"]
    assert answers(other_bot) == fresh
    assert answers(bot) == fresh

    new_id = lake_id(data_dir)
    assert old_id and new_id and new_id != old_id
    assert bot.serving.lake_id == other_bot.serving.lake_id == new_id
    assert bot.serving.epoch == other_bot.serving.epoch == 1


def test_a_reader_reads_a_restored_backup_anew_once_it_is_committed_on(
    data_dir: Path, tmp_path: Path
) -> None:
    """A backup of the whole data dir (the same lake id) restored and committed on: its
    next versions reuse numbers the reader served, with other content."""
    ingest_paths(data_dir, UP_TO_OCT_2)  # v1
    backup = tmp_path / "backup"
    shutil.copytree(data_dir, backup, symlinks=True)
    ingest_paths(data_dir, OCT_12)  # v2
    ingest_paths(data_dir, NOV_1)  # v3
    bot = Stats(data_dir, min_rounds=0)
    ask_some(bot)
    old = answers(bot)
    before = lake_id(data_dir)

    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir, symlinks=True)
    assert ingest_paths(data_dir, NOV_11).version == 2
    assert ingest_paths(data_dir, OCT_12).version == 3

    fresh = answers(Stats(data_dir, min_rounds=0))
    assert fresh["version"] == 3
    assert fresh["kills"] != old["kills"]
    assert answers(bot) == fresh
    assert lake_id(data_dir) == before != ""  # the same lake, by its id
    assert bot.serving.epoch == 1


def test_a_lake_without_an_id_loads_serves_and_takes_one_at_its_next_commit(
    data_dir: Path,
) -> None:
    """A manifest written before lakes had an id (no ``lake`` key) reads as before; the
    next commit gives the lake an id, and a reader that served it reads on incrementally
    (no reread: it is the same lake)."""
    ingest_paths(data_dir, UP_TO_OCT_2)
    lake = Lake(data_dir)
    path = lake.current_dir() / "_manifest.json"  # type: ignore[operator]
    raw = json.loads(path.read_text())
    assert raw.pop("lake")
    path.write_text(json.dumps(raw))  # as older code wrote it
    assert lake.manifest().lake == ""
    assert Manifest.from_json(json.dumps({**raw, "someday": 1})).version == 1  # unknown keys

    bot = Stats(data_dir, min_rounds=0)
    before = answers(bot)
    assert before == answers(Stats(data_dir, min_rounds=0)) and before["kills"]
    assert bot.serving.lake_id == ""

    ingest_paths(data_dir, OCT_12)
    assert lake.manifest().lake  # given one
    assert answers(bot) == answers(Stats(data_dir, min_rounds=0))
    assert bot.serving.epoch == 0 and bot.serving.lake_id == lake.manifest().lake


def test_a_snapshot_folder_whose_status_changed_is_not_another_lake(data_dir: Path) -> None:
    """A new stamp on the served folder (an owner or mode set by hand) reads the manifest
    once, and finds the same lake at the same version: nothing is forgotten."""
    ingest_paths(data_dir, UP_TO_OCT_2)
    bot = Stats(data_dir, min_rounds=0)
    before = answers(bot)
    hits = bot.cache.stats().hits
    snap = Lake(data_dir).current_dir()
    assert snap is not None
    os.chmod(snap, 0o750)
    os.chmod(snap, 0o755)
    assert answers(bot) == before
    assert bot.serving.epoch == 0
    assert bot.cache.stats().hits > hits  # answered from the cache
