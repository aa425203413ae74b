"""The skill rating's state kept between processes: ``<data dir>/cache/rating.pickle``.

A long-running process (the bot, ``etl-duck watch``) keeps its :class:`RatingRun` in memory
and brings it forward one commit at a time. A short one (``etl-duck site``, ``rating``,
``predict``) would otherwise replay every map of the history first (~1 s at ten years, of
a 3 s budget for the site after a commit). So short processes save the run here, and
every process starts from it: only the session dates whose rows differ are read again,
and the replay starts at the last checkpoint before the first map that differs (the same
result as a full replay, bit for bit).

This module owns the ``cache/`` folder. It holds nothing that cannot be recomputed:
deleting it costs one full replay. A saved state is used only if the code that made it,
the rating's settings and the lake's ingest settings are the same, and it is compared
with the lake date by date on content (partition files and checksums), not on version
numbers, which a recreated lake reuses. An unreadable file is ignored.

Pickle is safe here because only this program writes the file, inside the operator's own
data directory (which also holds the raw files and the lake it trusts).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pickle, tempfile and the rating load when a rating is asked for
    from etl_duck.domain.rating import MapResult, RatingConfig, RatingRun
    from etl_duck.lake.manifest import Manifest

log = logging.getLogger(__name__)

FORMAT = 1
FOLDER = "cache"
NAME = "rating.pickle"
TEMP_PREFIX = ".rating-"


@dataclass(frozen=True)
class SavedRating:
    key: tuple[Any, ...]  # format, code, rating settings, ingest settings
    content: dict[str, tuple[Any, ...]]  # session date (ISO) → its rows (date_content)
    by_date: dict[date, list[MapResult]]
    run: RatingRun


def store_path(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER / NAME


def date_content(manifest: Manifest) -> dict[str, tuple[Any, ...]]:
    """What each session date's rows are: its ``rounds`` and ``player_rounds`` partitions as
    (rows, checksum) — a rebuild rewrites the same rows at a new version, and a recreated
    lake reuses version numbers, so neither is compared."""
    rounds, players = manifest.partitions["rounds"], manifest.partitions["player_rounds"]
    return {
        d: tuple(
            None if p is None else (p.rows, p.checksum) if p.checksum else tuple(p)
            for p in (rounds.get(d), players.get(d))
        )
        for d in rounds.keys() | players.keys()
    }


def state_key(
    config: RatingConfig, options: dict[str, Any], serving: dict[str, dict[str, str]]
) -> tuple[Any, ...]:
    """What a saved state must have been made under: the format, the rating's code, its
    settings, the lake's ingest settings and which serving tables exist (one derived later,
    e.g. by an upgrade, changes the rows of every date without touching a partition)."""
    tables = tuple(sorted(name for name, shards in serving.items() if shards))
    return (FORMAT, _code_fingerprint(), config, tuple(sorted(options.items(), key=str)), tables)


class RatingStore:
    """Where a process finds the saved rating, and whether it saves its own."""

    def __init__(self, path: Path, *, save: bool) -> None:
        self.path = path
        self.saves = save

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, save: bool) -> RatingStore:
        return cls(store_path(data_dir), save=save)

    def load(self, key: tuple[Any, ...]) -> SavedRating | None:
        import pickle

        try:
            with open(self.path, "rb") as f:
                saved = pickle.load(f)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a torn or foreign file: recompute, say why in the log
            log.warning("ignoring the saved rating %s (%s); replaying every map", self.path, exc)
            return None
        if not isinstance(saved, SavedRating) or saved.key != key:
            log.info("the saved rating was made by other code or settings; replaying")
            return None
        return saved

    def save(self, saved: SavedRating) -> None:
        if not self.saves:
            return
        import pickle
        import tempfile

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _drop_stale_temps(self.path.parent)
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.path.parent)
            try:
                os.fchmod(fd, 0o644)  # readable by a bot running as another user, as the lake
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(saved, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path)  # whole or not at all, for readers
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        except OSError as exc:  # a cache: a full disk or a read-only dir costs speed only
            log.warning("could not save the rating to %s (%s)", self.path, exc)


def _drop_stale_temps(folder: Path, older_than_s: float = 600.0) -> None:
    """Temp files of a save that was killed mid-write (nothing else removes them)."""
    cutoff = time.time() - older_than_s
    for tmp in folder.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


@functools.cache
def _code_fingerprint() -> str:
    """A hash of the code and SQL that make a :class:`RatingRun`: a new release never
    trusts a state its predecessor pickled."""
    import hashlib
    from importlib import resources

    digest = hashlib.blake2b(digest_size=12)
    for pkg, name in (
        ("etl_duck.domain", "rating.py"),
        ("etl_duck.domain", "thurstone.py"),
        ("etl_duck.query", "rating.py"),
        ("etl_duck.query", "ratingstore.py"),
        ("etl_duck.lake", "manifest.py"),  # Partition, pickled inside the content
    ):
        digest.update(resources.files(pkg).joinpath(name).read_bytes())
    from etl_duck.sqlfiles import sql

    for query in ("rating_map_players", "rollup_map_players"):
        digest.update(sql(query).encode())
    return digest.hexdigest()
