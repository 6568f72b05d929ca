"""Every command takes ``--json`` and ``-c FILE`` (README), before its name or after it: the
scheduling examples call ``careplug --config FILE run --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from careplug.cli_options import CommandGroup

ROOT = Path(__file__).resolve().parents[1]


def careplug(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "careplug", *args], cwd=cwd, capture_output=True, text=True,
                          env=os.environ, timeout=300)


@pytest.fixture
def project(tmp_path):
    """A careplug.toml over a small generated files export, in a folder of its own."""
    from careplug.testing.generator import write_files

    home = tmp_path / "project"
    write_files(home / "export", 20, seed=3, sources=("zendesk",))
    (home / "careplug.toml").write_text(textwrap.dedent(f"""
        [store]
        path = "{home / 'careplug.db'}"
        [sources.zendesk]
        type = "files"
        path = "{home / 'export/zendesk'}"
        [rules.unanswered]
        first_reply = "4h"
    """))
    return home


@pytest.mark.parametrize("example", ["crontab", "cronjob.yaml"])
def test_the_scheduling_examples_command_line_is_accepted(project, tmp_path, example):
    text = (ROOT / "examples" / "jobs" / example).read_text()
    assert "run --json" in text or '"run", "--json"' in text
    proc = careplug("--config", str(project / "careplug.toml"), "run", "--json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "streams" in json.dumps(json.loads(proc.stdout))


def test_json_and_config_may_follow_the_command_name(project, tmp_path):
    config = str(project / "careplug.toml")
    proc = careplug("nudge", "--dry-run", "--json", "-c", config, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    json.loads(proc.stdout)
    proc = careplug("validate", "--json", "--config", config, cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["file"] == config, proc.stderr


def test_before_the_command_name_they_still_work(project, tmp_path):
    proc = careplug("--json", "-c", str(project / "careplug.toml"), "check", "--dry-run", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "findings" in json.loads(proc.stdout)


def test_after_the_command_name_they_win_over_before_it(project, tmp_path):
    proc = careplug("-c", str(tmp_path / "missing.toml"), "validate", "-c", str(project / "careplug.toml"),
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_config_error_after_the_command_name_is_still_json(tmp_path):
    proc = careplug("check", "--json", "-c", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert proc.returncode == 3 and json.loads(proc.stdout)["error"] == "config"


def test_a_plugins_command_takes_them_too_and_keeps_its_own_flags():
    class State:
        json = False
        config_path = None

    group = CommandGroup()

    @group.command()
    @click.option("-c", "--count", type=int, default=1)
    @click.pass_obj
    def hello(state, count):
        click.echo(f"{count} {state.json} {state.config_path}")

    out = CliRunner().invoke(group, ["hello", "-c", "3", "--json", "--config", "x.toml"], obj=State()).output
    assert out.strip() == "3 True x.toml"


@pytest.mark.parametrize("args, says", [
    (["--json", "check", "--since", "30d"], "--since replays history and needs --dry-run"),
    (["check", "--since", "30d", "--json"], "--since replays history and needs --dry-run"),
    (["--json", "check", "--explain", ""], "--explain"),
    (["--json", "check", "--nope"], "No such option '--nope'"),
    (["check", "--nope", "--json"], "No such option '--nope'"),
    (["--json", "--nope", "check"], "No such option '--nope'"),
    (["--json", "chek"], "No such command 'chek'"),
    (["--json", "generate", "-n", "ten"], "--conversations"),
])
def test_a_usage_error_under_json_is_a_json_object_on_stdout_and_a_message_on_stderr(tmp_path, args, says):
    proc = careplug(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["ok"] is False and answer["error"] == "usage" and says in answer["message"]
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_a_usage_error_without_json_prints_nothing_on_stdout(tmp_path):
    proc = careplug("check", "--nope", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "" and "--nope" in proc.stderr
