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


@pytest.mark.parametrize("url, says", [
    ("postgres://u:p@db/careplug", "no database driver for 'postgres'"),
    ("://nothing", "is not a database URL"),
])
def test_a_url_no_driver_reads_is_a_config_error_at_store_url(tmp_path, url, says):
    (tmp_path / "careplug.toml").write_text(f'# the store\n[store]\nurl = "{url}"\n')
    proc = careplug("check", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
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
