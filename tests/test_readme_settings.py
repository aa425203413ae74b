"""README is the admin's contract: every setting an admin can set is named in its settings
table, so the docs cannot drift from ``Settings``."""

from __future__ import annotations

import re
from pathlib import Path

from etl_duck.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def settings_table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Settings\n", 1)[1]
    return section.split("\n### ", 1)[0]


def test_every_setting_is_in_the_readme_settings_table() -> None:
    table = settings_table()
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = [n.upper() for n in Settings.model_fields if n.upper() not in named]
    assert not missing, f"README's settings table lacks: {', '.join(missing)}"


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    rows = [line for line in settings_table().splitlines() if line.startswith("| `")]
    first_cells = " ".join(row.split("|")[1] for row in rows)
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cells))
    fields = {n.upper() for n in Settings.model_fields}
    assert named and named <= fields, f"not settings: {', '.join(sorted(named - fields))}"
