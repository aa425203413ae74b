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


# (first player's name, second player's name, what is typed): Python's lower() decides
CASES = [
    # a KELVIN SIGN (U+212A) lowers to "k"
    ("\u212aaiser", "KAISER", ["kaiser", "KAISER", "\u212aaiser"]),
    # a final sigma: Python lowers "ΟΔΟΣ" to "οδος" (ς), DuckDB to "οδοσ" (σ)
    (
        "\u039f\u0394\u039f\u03a3",
        "\u03bf\u03b4\u03bf\u03c2",
        ["\u03bf\u03b4\u03bf\u03c2", "\u039f\u0394\u039f\u03a3"],
    ),
    # a capital I with a dot lowers to "i" plus a combining dot in Python
    ("\u0130van", "i\u0307van", ["i\u0307van", "\u0130van", "ivan"]),
    # one non-ASCII name: nothing else may match just because it is not ASCII
    ("\u00c9lan", "Plain", ["nobody", "\u00e9lan", "plain"]),
]


@pytest.mark.parametrize(
    ("first", "second", "typed"), CASES, ids=["kelvin", "sigma", "dotted-i", "one"]
)
def test_unicode_names_resolve_as_the_names_index_says(
    data_dir: Path, tmp_path: Path, first: str, second: str, typed: list[str]
) -> None:
    """Names whose lower case differs between Python and DuckDB: a fresh process answers
    what the index of every name answers (found, ambiguous or not found)."""
    src = tmp_path / "src"
    src.mkdir()
    for f in (R1, R2):
        raw = f.read_bytes().replace(b"^7Dr. ^2Fun", first.encode())
        (src / f.name).write_bytes(raw.replace(b"^2lefty^7:)", second.encode()))
    ingest_paths(data_dir, sorted(src.iterdir()))
    indexed = Stats(data_dir, min_rounds=1)
    indexed._names()
    for text in [*typed, "raven"]:
        assert _outcome(Stats(data_dir, min_rounds=1), text) == _outcome(indexed, text), text
    if first.lower() == second.lower():  # two players, one name as Python sees it
        kind, matches = _outcome(Stats(data_dir, min_rounds=1), second)
        assert kind == "ambiguous" and len(matches) == 2  # type: ignore[arg-type]
        with pytest.raises(PlayerAmbiguous):
            Stats(data_dir, min_rounds=1).player(second)
