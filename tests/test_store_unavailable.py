"""A store that cannot be created, opened or reached is an error naming the store (its password
never shown) and what is wrong: exit 1 (nothing was done; the next run retries), with --json a JSON
error object, never "internal error (a bug)". A URL no driver reads is a config error at store.url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from careplug.errors import StoreUnavailable
from careplug.store_access import store_label, unavailable


def careplug(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "careplug", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("command", [["check"], ["sync"], ["nudge", "--dry-run"], ["run"], ["history", "ada"]])
def test_an_unreachable_postgresql_names_the_store_without_its_password(tmp_path, command):
    pytest.importorskip("psycopg")
    (tmp_path / "careplug.toml").write_text('[store]\nurl = "postgresql+psycopg://careplug:${DB_PASSWORD}'
                                            '@127.0.0.1:1/careplug"\n')
    proc = careplug(*command, cwd=tmp_path, env={"DB_PASSWORD": "hunter2-secret"})
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "cannot open the store postgresql+psycopg://***@127.0.0.1:1/careplug" in proc.stderr
    assert "refused" in proc.stderr.lower()
    assert "hunter2" not in proc.stderr + proc.stdout and "//careplug" not in proc.stderr


def test_with_json_the_error_is_a_json_object(tmp_path):
    pytest.importorskip("psycopg")
    (tmp_path / "careplug.toml").write_text('[store]\nurl = "postgresql+psycopg://u:pw1234@127.0.0.1:1/db"\n')
    proc = careplug("run", "--json", cwd=tmp_path)
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["ok"] is False and error["error"] == "store"
    assert error["store"] == "postgresql+psycopg://***@127.0.0.1:1/db" and "pw1234" not in proc.stdout


def test_a_store_path_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    (tmp_path / "careplug.toml").write_text('[store]\npath = "blocker/careplug.db"\n')
    proc = careplug("--json", "check", cwd=tmp_path)
    assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
    assert f"cannot open the store {tmp_path / 'blocker' / 'careplug.db'}" in proc.stderr
    assert json.loads(proc.stdout)["error"] == "store"


@pytest.mark.parametrize("command", ["check", "validate"])
@pytest.mark.parametrize("url, says", [
    ("postgres://u:p@db/careplug", "no database driver for 'postgres'"),
    ("://nothing", "is not a database URL"),
])
def test_a_url_no_driver_reads_is_a_config_error_at_store_url(tmp_path, url, says, command):
    """A run finds it opening the store; validate finds it without (the same problem)."""
    (tmp_path / "careplug.toml").write_text(f'# the store\n[store]\nurl = "{url}"\n')
    proc = careplug(command, cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"careplug.toml:3: store.url: {says}" in proc.stderr


def test_store_labels_hide_user_password_and_query():
    assert store_label("postgresql+psycopg://ann:s3cret@db:5432/care?sslpassword=x") == \
        "postgresql+psycopg://***@db:5432/care"
    assert store_label("postgresql+psycopg://db/care") == "postgresql+psycopg://db/care"
    assert store_label("sqlite:////var/lib/careplug/careplug.db") == "/var/lib/careplug/careplug.db"


def test_a_driver_message_quoting_the_password_is_scrubbed():
    class DriverError(Exception):
        pass

    wrapped = DriverError("x")
    wrapped.orig = Exception('could not connect with "postgresql://ann:s3cret-pw@db/care": timeout\n'
                             "(Background on this error at: https://sqlalche.me/e/20/e3q8)")
    error = unavailable("postgresql://ann:s3cret-pw@db/care", wrapped)
    assert isinstance(error, StoreUnavailable) and error.store == "postgresql://***@db/care"
    assert "s3cret" not in str(error) and "Background" not in str(error) and "timeout" in str(error)


def test_a_bad_query_is_still_a_bug_not_a_store_error():
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from careplug.store_access import is_database_error

    def said(message):
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert is_database_error(said("database is locked")) and is_database_error(said("disk I/O error"))
    assert not is_database_error(said("no such column: records.nope"))
    assert not is_database_error(ValueError("database is locked"))


# --- what `careplug validate` sees of the store without connecting ---------------------------------

NO_PSYCOPG = "import sys; sys.modules['psycopg'] = None; from careplug.cli import main; main()"
"""careplug with psycopg not importable (``import psycopg`` fails as when it is not installed)."""


def test_validate_reports_a_missing_postgresql_driver_at_store_url_without_the_password(tmp_path, monkeypatch):
    from careplug import ConfigError
    from careplug.config import load

    (tmp_path / "careplug.toml").write_text('# the store\n[store]\nurl = "postgresql+psycopg://careplug:'
                                            '${DB_PASSWORD}@db.internal/careplug"\n')
    monkeypatch.setenv("DB_PASSWORD", "hunter2-secret")
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml", check_paths=True)
    [problem] = info.value.problems
    assert (problem.path, problem.line) == ("store.url", 3)
    assert problem.message == "the database driver 'psycopg' for 'postgresql+psycopg' is not installed"
    assert problem.hint == "for PostgreSQL: pip install 'careplug[postgres]'"
    assert "hunter2" not in str(problem)
    load(tmp_path / "careplug.toml")          # a run's load leaves it to opening the store (a config error there too)


def test_validate_on_the_command_line_exits_3_naming_the_driver_and_never_the_password(tmp_path):
    (tmp_path / "careplug.toml").write_text('[store]\nurl = "postgresql+psycopg://careplug:hunter2-secret'
                                            '@db.internal/careplug?sslpassword=hunter3"\n')
    for args in (["validate"], ["--json", "validate"]):
        proc = subprocess.run([sys.executable, "-c", NO_PSYCOPG, *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 3, out
        assert "store.url: the database driver 'psycopg' for 'postgresql+psycopg' is not installed" in out \
            or json.loads(proc.stdout)["problems"][0]["message"] == \
            "the database driver 'psycopg' for 'postgresql+psycopg' is not installed"
        assert "hunter" not in out and "db.internal" not in out


def test_validate_does_not_connect_to_the_store(tmp_path):
    """Whether a server is up is the run's to find out (exit 1, retried): validate checks the config."""
    pytest.importorskip("psycopg")
    (tmp_path / "careplug.toml").write_text('[store]\nurl = "postgresql+psycopg://u:pw1234@127.0.0.1:1/db"\n')
    proc = careplug("validate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("make, key, says", [
    (lambda d: (d / "blocker").write_text("a file"), "path", "is a file, so the store's folder"),
    (lambda d: (d / "blocker" / "careplug.db").mkdir(parents=True), "path", "is a folder, not a database file"),
    (lambda d: (d / "blocker").write_text("a file"), "url", "is a file, so the store's folder"),
])
def test_validate_reports_a_sqlite_store_that_could_never_be_created(tmp_path, make, key, says):
    make(tmp_path)
    where = "blocker/careplug.db" if key == "path" else f"sqlite:///{tmp_path}/blocker/careplug.db"
    (tmp_path / "careplug.toml").write_text(f'[rules.unanswered]\n\n[store]\n{key} = "{where}"\n')
    proc = careplug("validate", cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"careplug.toml:4: store.{key}: {tmp_path / 'blocker'}" in proc.stderr and says in proc.stderr
