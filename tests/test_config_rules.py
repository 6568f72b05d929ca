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


def by_path(problems) -> dict:
    return {p.path: p for p in problems}


def test_a_before_not_shorter_than_the_tightest_target_is_refused_and_names_that_target():
    """On a 1h phone target, before = "2h" (or "1h") is reached the moment the clock starts."""
    problems = by_path(problems_of("""
        [rules.unanswered]
        first_reply = "4h"
        channel_targets = { phone = "1h" }
        stages = [
          { name = "late", at = 0.9 },
          { name = "last-call", before = "2h" },
          { name = "edge", before = "1h" },
          { name = "ok", before = "59m" },
        ]
    """))
    assert set(problems) == {"rules.unanswered.stages.1.before", "rules.unanswered.stages.2.before"}
    p = problems["rules.unanswered.stages.1.before"]
    assert p.line == 7
    assert "before = '2h' is not shorter than the tightest target, channel_targets.phone = '1h'" in p.message
    assert "reached the moment the clock starts" in p.message and "at = 0.5" in p.message


@pytest.mark.parametrize("rule, target", [("neglected_lead", 'target = "2h"'), ("unhappy", 'target = "2h"'),
                                          ("quiet_customer", 'after = "2h"')])
def test_each_staged_rule_refuses_a_before_at_its_target(rule, target):
    [p] = problems_of(f"""
        [rules.{rule}]
        {target}
        stages = [{{ name = "pre", before = "2h" }}]
    """)
    assert (p.path, p.line) == (f"rules.{rule}.stages.0.before", 4)
    assert f"{target.split(' =')[0]} = '2h'" in p.message


@pytest.mark.parametrize("rule", ["unanswered", "broken_promise"])
def test_two_stages_that_always_fall_at_the_same_instant_are_refused(rule):
    problems = by_path(problems_of(f"""
        [rules.{rule}]
        stages = [
          {{ name = "a", at = 0.5 }},
          {{ name = "b", before = "1h" }},
          {{ name = "c", at = 0.5 }},
          {{ name = "d", before = "60m" }},
        ]
    """))
    assert set(problems) == {f"rules.{rule}.stages.2.at", f"rules.{rule}.stages.3.before"}
    assert problems[f"rules.{rule}.stages.2.at"].line == 6
    assert "stage 0 is already at at = 0.5" in problems[f"rules.{rule}.stages.2.at"].message
    assert "stage 1 is already at before = '1h'" in problems[f"rules.{rule}.stages.3.before"].message


def test_a_neglected_lead_lookback_not_longer_than_its_target_is_refused():
    [p] = problems_of("""
        [rules.neglected_lead]
        target = "2h"
        lookback = "1h"
    """)
    assert (p.path, p.line) == ("rules.neglected_lead.lookback", 4)
    assert "lookback = '1h' is not longer than target = '2h'" in p.message and "never breached" in p.message
    parse('[rules.neglected_lead]\ntarget = "2h"\nlookback = "3h"\n', plugins=Plugins())


def test_neglected_lead_without_first_inquiries_and_a_conversation_scope_is_refused():
    [p] = problems_of("""
        [rules.neglected_lead]
        first_inquiry = false
        scope = { channels = ["chat"] }
    """)
    assert (p.path, p.line) == ("rules.neglected_lead.first_inquiry", 3) and "never fire" in p.message


def test_a_check_in_that_expires_before_it_is_due_or_breached_is_refused():
    [p] = problems_of("""
        [rules.check_in]
        after = "3d"
        within = "2d"
        max_age = "1d"
    """)
    assert (p.path, p.line) == ("rules.check_in.max_age", 5)
    assert "max_age = '1d' is not longer than after + within = '5d'" in p.message and "never fires" in p.message
    [p] = problems_of('[rules.check_in]\nafter = "3d"\nwithin = "2d"\nmax_age = "4d"\n')
    assert p.path == "rules.check_in.max_age" and "never reported" in p.message
    [p] = problems_of('[rules.check_in]\nafter = "3d"\ncounts_after = "4d"\n')
    assert (p.path, p.line) == ("rules.check_in.counts_after", 3) and "would not count" in p.message


def test_the_example_a_counts_after_problem_suggests_is_shorter_than_after():
    [p] = problems_of('[rules.check_in]\nafter = "30m"\ncounts_after = "1h"\n')
    assert p.message.endswith("e.g. '15m'"), p.message


def test_a_channel_or_priority_target_that_is_never_tighter_is_refused():
    problems = by_path(problems_of("""
        [rules.unanswered]
        first_reply = "4h"
        next_reply = "8h"
        channel_targets = { email = "8h", chat = "6h" }
        priority_targets = { low = "24h" }
    """))
    assert set(problems) == {"rules.unanswered.channel_targets.email", "rules.unanswered.priority_targets.low"}
    p = problems["rules.unanswered.channel_targets.email"]
    assert p.line == 5 and "applies only when it is tighter" in p.message
    assert "first_reply = '4h' or next_reply = '8h'" in p.message


def test_the_cli_exits_3_on_a_config_that_can_never_work(tmp_path):
    cfg = tmp_path / "careplug.toml"
    cfg.write_text('[rules.unanswered]\nchannel_targets = { phone = "1h" }\n'
                   'stages = [{ name = "pre", before = "3h" }]\n')
    proc = subprocess.run([sys.executable, "-m", "careplug", "validate", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert f"{cfg}:3" in proc.stderr and "rules.unanswered.stages.0.before" in proc.stderr
