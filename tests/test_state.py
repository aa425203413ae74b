"""The ingest's state tables: looking rows up by key (the ledger by file name and by content,
the conflicts by file name) in one pass over the column, as one row per key, the first."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_duck.ingest.state import lookup

KEYS = st.sampled_from(["a", "b", "c", "d", "é", ""])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.one_of(st.none(), KEYS), st.integers(0, 9)), max_size=30),
    values=st.lists(KEYS, max_size=6),
)
def test_lookup_is_the_first_row_of_each_wanted_key(
    rows: list[tuple[str | None, int]], values: list[str]
) -> None:
    table = pa.table(
        {"key": pa.array([k for k, _ in rows], pa.string()), "n": [n for _, n in rows]}
    )
    expected: dict[str, dict[str, object]] = {}
    for k, n in rows:  # the first row holding each wanted key; null keys match nothing
        if k is not None and k in values and k not in expected:
            expected[k] = {"key": k, "n": n}
    assert lookup(table, "key", values) == expected
