"""docs/rules.md tells the truth: every careplug.toml example in it validates."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from careplug.calendar import CalendarOptions
from careplug.plugins import Plugins

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_documents_every_built_in_rule():
    text = DOC.read_text()
    for name in Plugins(load_entry_points=False).rules():
        assert f"### {name}" in text, name


@pytest.mark.parametrize("block", BLOCKS)
def test_every_toml_example_validates(block):
    data = tomllib.loads(block)
    rules = Plugins(load_entry_points=False).rules()
    for name, table in data.get("rules", {}).items():
        rules[name].Options(**table)
    for table in data.get("calendars", {}).values():
        CalendarOptions(**table)
    assert data
