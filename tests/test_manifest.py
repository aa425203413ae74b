"""The manifest's text: encoded a year at a time with unchanged years' text reused, it is
byte for byte the one ``json.dumps`` of the whole gives, for any keys and any change."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from etl_duck.lake import manifest
from etl_duck.lake.manifest import Partition

KEYS = st.one_of(
    st.dates().map(lambda d: d.isoformat()),  # years 0001-9999, 9999 included
    st.text(max_size=6),  # anything else: short, empty, non-ASCII, "all", "\U0010ffff"
)
PARTS = st.builds(
    Partition,
    st.text(max_size=8),
    st.integers(0, 99),
    st.integers(0, 999),
    st.text(max_size=4),
)
TABLES = st.dictionaries(st.sampled_from(["rounds", "player_rounds"]),
                         st.dictionaries(KEYS, PARTS, max_size=12), max_size=2)  # fmt: skip


def _reference(partitions: dict[str, dict[str, Partition]]) -> str:
    return json.dumps(manifest._parts_to_json(partitions), separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(first=TABLES, changes=TABLES)
def test_partitions_text_equals_one_whole_encoding(
    first: dict[str, dict[str, Partition]], changes: dict[str, dict[str, Partition]]
) -> None:
    manifest._YEAR_TEXT = {}
    assert manifest._partitions_json(first) == _reference(first)
    # the next commit's manifest: some partitions replaced or added, the rest the same
    # objects (the cached text of their years is reused)
    second = {t: {**first.get(t, {}), **changes.get(t, {})} for t in first.keys() | changes}
    assert manifest._partitions_json(second) == _reference(second)
