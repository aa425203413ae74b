"""Round and match ids are 64-bit hashes, another server's session ids 18 digits: every
`--json` of the CLI writes them as strings, as the export does (README "JSON ids";
JavaScript's numbers would round them above 2**53); `session`, `rating` and `predictions`
wrote them as raw integers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl_duck.cli import run
from etl_duck.ingest.run import ingest_paths
from tests.conftest import REAL

#: four players of the real files (balance, predict)
GUIDS = ("EDBB5DA9", "D8423F90", "5D989160", "2B5938F5")
G = GUIDS[0]


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("json-ids") / "data"
    ingest_paths(data, [REAL])
    return data


def wide_numbers(obj: Any, key: str = "") -> list[str]:
    """The ``*_id`` keys, at any depth, holding a whole number JavaScript would round."""
    if isinstance(obj, dict):
        return [bad for k, v in obj.items() for bad in wide_numbers(v, k)]
    if isinstance(obj, list):
        return [bad for v in obj for bad in wide_numbers(v, key)]
    wide = type(obj) is int and abs(obj) > 2**53
    return [key] if wide and key.endswith("_id") else []


def ids_as_text(obj: Any) -> set[str]:
    """The keys, at any depth, holding a string of digits."""
    if isinstance(obj, dict):
        return {k for k, v in obj.items() if isinstance(v, str) and v.lstrip("-").isdigit()} | {
            k for v in obj.values() for k in ids_as_text(v)
        }
    if isinstance(obj, list):
        return {k for v in obj for k in ids_as_text(v)}
    return set()


@pytest.mark.parametrize(
    ("command", "strings"),
    [
        (["session"], {"match_id", "session_id"}),
        (["rating", G], {"match_id"}),
        (["predictions"], {"match_id"}),
        (["status"], set()),
        (["sessions"], {"session_id"}),
        (["top", "kills", "--min-rounds", "0"], set()),
        (["player", G], set()),
        (["rating", "--min-maps", "0"], set()),
        (["teammates", G, "--min-maps", "1"], set()),
        (["rivals", G], set()),
        (["records"], {"session_id"}),
        (["bests", G], {"session_id"}),
        (["lineups", "--min-maps", "1"], set()),
        (["highlights"], set()),
        (["balance", *GUIDS], set()),
        (["predict", ",".join(GUIDS[:2]), ",".join(GUIDS[2:])], set()),
    ],
)
def test_no_json_holds_a_64_bit_id_as_a_number(
    capsys: pytest.CaptureFixture[str], real_lake: Path, command: list[str], strings: set[str]
) -> None:
    code = run(["--data-dir", str(real_lake), *command, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    got = json.loads(out)
    assert wide_numbers(got) == [], command
    assert strings <= ids_as_text(got), command  # the ids are there, as strings


def test_ids_as_text_keeps_every_other_value() -> None:
    from etl_duck.cli.app import wide_ids_as_text

    big = 2**63 - 5
    given = {
        "session_id": 20250924233255,  # a string too: one type per field, whichever server
        "round_id": big,
        "rows": [{"paired_round_id": big, "match_id": None, "kills": big, "flag": True}],
        "best_match_id": 7,
    }
    assert wide_ids_as_text(given) == {
        "session_id": "20250924233255",
        "round_id": str(big),
        "rows": [{"paired_round_id": str(big), "match_id": None, "kills": big, "flag": True}],
        "best_match_id": "7",
    }
