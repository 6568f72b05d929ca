"""The built-in rules' options in careplug.toml: an option a rule would ignore, or a combination that
can never work, is a config problem that names the key, its line and why (exit 3 on the CLI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from careplug import ConfigError
from careplug.config import parse
from careplug.plugins import Plugins


def problems_of(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse(textwrap.dedent(text), file="careplug.toml", plugins=Plugins())
    return info.value.problems


@pytest.mark.parametrize("rule", ["quiet_customer", "run_around", "check_in"])
def test_pause_on_is_refused_by_the_rules_it_would_not_pause(rule):
    """quiet_customer watches customers and accounts, run_around counts hand-offs and repeats, and
    check_in follows solved conversations (a paused one is no longer solved): none has a clock a
    status could stop, so pause_on there is an unknown key, not an option that does nothing."""
    [problem] = problems_of(f"""
        [rules.{rule}]
        enabled = true
        pause_on = ["pending"]
    """)
    assert (problem.path, problem.line, problem.message) == (f"rules.{rule}.pause_on", 4, "unknown key")


@pytest.mark.parametrize("rule", ["unanswered", "neglected_lead", "unhappy", "broken_promise"])
def test_pause_on_is_taken_by_the_rules_that_pause(rule):
    config = parse(f'[rules.{rule}]\npause_on = ["on_hold"]\n', plugins=Plugins())
    assert [s.value for s in config.rules[rule].pause_on] == ["on_hold"]


def test_the_cli_exits_3_on_pause_on_for_quiet_customer(tmp_path):
    cfg = tmp_path / "careplug.toml"
    cfg.write_text('[rules.quiet_customer]\nafter = "30d"\npause_on = []\n')
    proc = subprocess.run([sys.executable, "-m", "careplug", "validate", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert f"{cfg}:3" in proc.stderr and "rules.quiet_customer.pause_on" in proc.stderr
