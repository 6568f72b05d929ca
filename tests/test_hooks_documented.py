"""Every hook is documented where it is declared and in docs/hooks.md (as datasette does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from careplug import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
HOOKS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("careplug_") and callable(fn))


def documented_headings() -> set[str]:
    return set(re.findall(r"^###\s+(careplug_\w+)\(", DOCS.read_text(), flags=re.M))


def test_there_are_hooks():
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_docs_hooks_md(hook):
    assert hook in documented_headings(), f"{hook} is declared in hookspecs.py but has no '### {hook}(' section in docs/hooks.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_section_shows_an_example(hook):
    text = DOCS.read_text()
    section = text.split(f"### {hook}(", 1)[1].split("\n### ", 1)[0]
    assert "```python" in section, f"the docs/hooks.md section of {hook} has no example"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_states_its_contract_where_declared(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 60, f"{hook} needs a docstring stating its contract"


@pytest.mark.parametrize("hook", HOOKS)
def test_documented_signature_matches_the_declaration(hook):
    declared = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = re.search(rf"^###\s+{hook}\(([^)]*)\)", DOCS.read_text(), flags=re.M)
    documented = [p.strip() for p in heading.group(1).split(",") if p.strip()]
    assert documented == declared


def test_docs_document_no_hook_that_does_not_exist():
    assert documented_headings() <= set(HOOKS)
