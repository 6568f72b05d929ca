"""The command line with plugins from careplug.toml (``plugins = [...]``) and plugins that fail:
real subprocesses, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import careplug
from careplug.testing.generator import write_files

CAREPLUG_SRC = str(Path(careplug.__file__).resolve().parents[1])   # the careplug under test, in the child too


@pytest.fixture
def mods(tmp_path):
    """Write a plugin module importable by the child process: ``mods(name, code)``."""
    folder = tmp_path / "mods"
    folder.mkdir()

    def write(name: str, code: str) -> None:
        (folder / f"{name}.py").write_text(textwrap.dedent(code))

    return write


def careplug_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(cwd / "mods"), CAREPLUG_SRC, os.environ.get("PYTHONPATH", "")])
    environ = {k: v for k, v in os.environ.items() if k != "CAREPLUG_CONFIG"}
    return subprocess.run([sys.executable, "-m", "careplug", *args], cwd=cwd, capture_output=True, text=True,
                          env={**environ, "PYTHONPATH": path, **(env or {})}, timeout=300)


def project(tmp_path: Path, extra: str = "", plugins: tuple[str, ...] = ()) -> Path:
    write_files(tmp_path / "export", 20, seed=7, sources=("local",))
    config = tmp_path / "careplug.toml"
    config.write_text(f"plugins = {json.dumps(list(plugins))}\n" + textwrap.dedent("""
        [store]
        path = "careplug.db"
        [sources.local]
        type = "files"
        path = "export/local"
        [rules.unanswered]
        first_reply = "4h"
    """) + textwrap.dedent(extra))
    return config


# --- a plugin's failure is its own ---------------------------------------------------------------


def test_a_source_whose_constructor_raises_fails_only_itself(tmp_path, mods):
    mods("flaky_src", """
        import careplug
        class Flaky(careplug.Source):
            kind = "flaky"
            streams = ("tickets",)
            def __init__(self, name, options, *, base_dir=None):
                super().__init__(name, options, base_dir=base_dir)
                raise RuntimeError("cannot build client for token s3cr3t-t0ken")
        @careplug.hookimpl
        def careplug_register_sources(register):
            register(Flaky)
    """)
    project(tmp_path, '[sources.broken]\ntype = "flaky"\n', plugins=("flaky_src",))
    proc = careplug_cli("--json", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [f for f in data["failures"] if "broken" in f] == [
        "sync: source 'broken' (type 'flaky') could not be created: RuntimeError (its message is not shown: "
        "it may quote a secret; careplug -vv logs it)"]
    assert data["sync"]["read"] > 0 and data["check"]["open"] > 0
    assert "s3cr3t" not in proc.stdout + proc.stderr
    assert careplug_cli("sync", "--source", "local", cwd=tmp_path).returncode == 0   # only the one that works
    assert careplug_cli("sync", "--source", "broken", cwd=tmp_path).returncode == 1


def test_a_detect_neglect_plugin_returning_a_bare_finding_fails_only_itself(tmp_path, mods):
    mods("crm_sla", """
        import careplug
        @careplug.hookimpl
        def careplug_detect_neglect(subject, history, now):
            conv = history.conversation
            if conv is not None:
                return careplug.Finding("crm_sla", subject, "sla", "breach", careplug.Severity.BREACH, "sla",
                                        started_at=conv.created_at)
    """)
    project(tmp_path, plugins=("crm_sla",))
    proc = careplug_cli("--json", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["check"]["open"] > 0 and {f["rule"] for f in data["check"]["findings"]} == {"unanswered"}
    assert data["failures"][0].startswith("check: plugin 'crm_sla' failed in careplug_detect_neglect on ")
    assert data["failures"][0].endswith("ShapeError: returned a Finding, not a list of Finding "
                                        "(return [] or None for none)")


# --- config plugins: listed, and their commands registered ---------------------------------------

COMPANY_RULES = """
    import click, careplug
    class Vip(careplug.Rule):
        name = "company_vip"
        def evaluate(self, history, now):
            return []
    @careplug.hookimpl
    def careplug_register_rules(register):
        register(Vip)
    @careplug.hookimpl
    def careplug_register_commands(cli):
        @cli.command()
        def hello():
            \"\"\"Say hello.\"\"\"
            click.echo("hello from my plugin")
"""


@pytest.mark.parametrize("how", ["-c", "--config=", "CAREPLUG_CONFIG", "./careplug.toml"])
def test_careplug_plugins_lists_the_config_files_plugins(tmp_path, mods, how):
    mods("company_rules", COMPANY_RULES)
    config = tmp_path / "conf" / "careplug.toml"
    config.parent.mkdir()
    config.write_text('plugins = ["company_rules"]\n')
    args, env, cwd = {"-c": (["-c", str(config)], {}, tmp_path),
                      "--config=": ([f"--config={config}"], {}, tmp_path),
                      "CAREPLUG_CONFIG": ([], {"CAREPLUG_CONFIG": str(config)}, tmp_path),
                      "./careplug.toml": ([], {}, config.parent)}[how]
    if how == "./careplug.toml":
        (config.parent / "mods").symlink_to(tmp_path / "mods")
    proc = careplug_cli(*args, "--json", "plugins", cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {p["name"]: p["origin"] for p in data["plugins"]}["company_rules"] == "config"
    assert "company_vip" in data["rules"]


def test_careplug_plugins_without_a_config_lists_the_installed_ones(tmp_path):
    proc = careplug_cli("--json", "plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    origins = {p["origin"] for p in json.loads(proc.stdout)["plugins"]}
    assert "built-in" in origins and "config" not in origins


def test_a_config_plugin_that_fails_to_import_is_listed_as_failed(tmp_path, mods):
    mods("broken_rules", "raise ImportError('no module named acme_sdk')\n")
    (tmp_path / "careplug.toml").write_text('plugins = ["broken_rules"]\n')
    proc = careplug_cli("--json", "plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (failed,) = json.loads(proc.stdout)["failed"]
    assert (failed["name"], failed["origin"]) == ("broken_rules", "config") and "acme_sdk" in failed["error"]


@pytest.mark.parametrize("args", [["-c", "careplug.toml"], ["-vccareplug.toml"], []])
def test_a_config_plugins_commands_are_registered(tmp_path, mods, args):
    mods("company_rules", COMPANY_RULES)
    (tmp_path / "careplug.toml").write_text('plugins = ["company_rules"]\n')
    proc = careplug_cli(*args, "hello", cwd=tmp_path)
    assert proc.returncode == 0 and "hello from my plugin" in proc.stdout, proc.stderr
    assert "hello" in careplug_cli(*args, "--help", cwd=tmp_path).stdout


def test_a_broken_config_breaks_neither_help_nor_validates_report(tmp_path, mods):
    (tmp_path / "careplug.toml").write_text('plugins = ["company_rules"\n[rules.unanswered]\n')   # not TOML
    assert careplug_cli("--help", cwd=tmp_path).returncode == 0
    proc = careplug_cli("validate", cwd=tmp_path)
    assert proc.returncode == 3 and "not valid TOML" in proc.stderr, proc.stderr

    mods("exploding", """
        import careplug
        @careplug.hookimpl
        def careplug_register_commands(cli):
            raise RuntimeError("boom")
    """)
    mods("unimportable", "raise ImportError('no module named acme_sdk')\n")
    (tmp_path / "careplug.toml").write_text('plugins = ["exploding", "unimportable"]\n'
                                            '[rules.company_vip]\n')
    help_ = careplug_cli("--help", cwd=tmp_path)
    assert help_.returncode == 0 and "validate" in help_.stdout, help_.stderr
    proc = careplug_cli("validate", cwd=tmp_path)
    assert proc.returncode == 3 and "unknown rule 'company_vip'" in proc.stderr, proc.stderr
    assert proc.stderr.count("'unimportable' (config) failed to load") == 1


def test_validate_another_file_checks_it_with_its_own_plugins_only(tmp_path, mods):
    mods("company_rules", COMPANY_RULES)
    (tmp_path / "careplug.toml").write_text('plugins = ["company_rules"]\n')
    (tmp_path / "other.toml").write_text('[rules.company_vip]\n')            # needs company_rules
    proc = careplug_cli("validate", "other.toml", cwd=tmp_path)
    assert proc.returncode == 3 and "unknown rule 'company_vip'" in proc.stderr, proc.stderr
    assert careplug_cli("validate", cwd=tmp_path).returncode == 0


def test_a_plugin_that_fails_to_import_makes_the_run_exit_1_and_is_in_the_json(tmp_path, mods):
    project(tmp_path, plugins=("no_such_plugin_mod",))
    assert careplug_cli("sync", cwd=tmp_path).returncode in (0, 1)
    proc = careplug_cli("--json", "check", cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["ok"] is False, proc.stderr
    assert any("no_such_plugin_mod" in f and "failed to load" in f for f in out["failures"])
