"""Looking a player up by name in a process that has not built the index of every name (a
fresh bot's first /player NAME): an exact alias is one small read, and the answer is the
one the index gives, for every alias, in any case, ambiguous or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from etl_duck.query.stats import PlayerAmbiguous, PlayerNotFound, Stats
from tests.lakecheck import R1, R2

Outcome = tuple[str, object]


def _outcome(stats: Stats, text: str) -> Outcome:
    try:
        return ("found", stats.resolve_player(text))
    except PlayerAmbiguous as exc:
        return ("ambiguous", sorted(exc.candidates))
    except PlayerNotFound as exc:
        return ("not found", exc.suggestions)


def _texts(stats: Stats) -> list[str]:
    names = [str(n) for n in stats.aliases()["name"]]
    return sorted({t for n in names for t in (n, n.upper(), n.lower())} | {"nobody", "raven!"})


def test_every_alias_resolves_as_the_names_index_says(
    synthetic_lake: tuple[Path, object],
) -> None:
    data, _ = synthetic_lake
    indexed = Stats(data)
    indexed._names()  # the index of every name, built first
    texts = _texts(indexed)
    assert len(texts) > 50
    expected = {t: _outcome(indexed, t) for t in texts}
    assert any(kind == "found" for kind, _ in expected.values())
    fresh = Stats(data)
    for text in texts:
        fresh._player_names = None  # no index built: the first lookup of a new process
        assert _outcome(fresh, text) == expected[text], text


def test_an_exact_alias_is_found_without_the_index_of_every_name(
    synthetic_lake: tuple[Path, object],
) -> None:
    data, _ = synthetic_lake
    guid, name = Stats(data).resolve_player(str(Stats(data).aliases()["guid"][0]))
    fresh = Stats(data)
    assert fresh.resolve_player(name.upper()) == (guid, name)
    assert fresh._player_names is None  # one small read answered it


def test_names_that_lower_case_alike_in_unicode_are_ambiguous(
    data_dir: Path, tmp_path: Path
) -> None:
    """Two players whose names differ only by a KELVIN SIGN (U+212A, lower case "k") and
    case: Python calls both "kaiser", so "kaiser" names two players, fresh or not."""
    src = tmp_path / "src"
    src.mkdir()
    for f in (R1, R2):
        raw = f.read_bytes().replace(b"^7Dr. ^2Fun", "\u212aaiser".encode())
        (src / f.name).write_bytes(raw.replace(b"^2lefty^7:)", b"KAISER"))
    ingest_paths(data_dir, sorted(src.iterdir()))
    indexed = Stats(data_dir, min_rounds=1)
    indexed._names()
    for text in ("kaiser", "KAISER", "\u212aaiser", "raven"):
        assert _outcome(Stats(data_dir, min_rounds=1), text) == _outcome(indexed, text), text
    kind, matches = _outcome(Stats(data_dir, min_rounds=1), "kaiser")
    assert kind == "ambiguous" and len(matches) == 2  # type: ignore[arg-type]
    with pytest.raises(PlayerAmbiguous):
        Stats(data_dir, min_rounds=1).player("kaiser")
