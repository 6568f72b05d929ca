"""What admins set is documented: every environment variable careplug reads, every key the
calendars' opening hours take, and the example config says truthfully what it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
READ = re.compile(r"""(?:environ\.get|getenv|_truthy|_env_list)\(\s*["'](CAREPLUG_\w+)["']|^\w*ENV\s*=\s*["'](CAREPLUG_\w+)["']""",
                  re.M)


def variables_read() -> list[str]:
    found = set()
    for path in (ROOT / "src" / "careplug").rglob("*.py"):
        for m in READ.finditer(path.read_text()):
            found.add(m.group(1) or m.group(2))
    return sorted(found)


def test_the_variables_are_found():
    assert {"CAREPLUG_CONFIG", "CAREPLUG_WORKERS", "CAREPLUG_NOW"} <= set(variables_read())


@pytest.mark.parametrize("name", variables_read())
def test_every_environment_variable_careplug_reads_is_documented(name):
    assert f"`{name}" in DOCS or f"${name}" in DOCS, f"{name} is read in src/careplug but not in README.md or docs/"
