"""`careplug history WHO` finds a customer by what an admin has at hand: a phone is compared by its
digits and a leading '+' (docs/architecture.md), and looked up with or without that '+'."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from careplug.history import find_customer
from careplug.model import Customer
from careplug.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "careplug.db"))
    s.commit_batch("zd", "users", [Customer("zd", "1", name="Ada", phones=["+1 555 000 0000"]),
                                   Customer("zd", "2", name="Bo", phones=["1 (555) 000-0001"])])
    yield s
    s.close()


@pytest.mark.parametrize("who", ["+1 555 000 0000", "+15550000000", "15550000000", "1-555-000-0000",
                                 "(1) 555 000 0000"])
def test_a_phone_written_with_a_plus_is_found_with_or_without_it(store, who):
    assert find_customer(store, who) == store.customer_uid("zd", "1")


@pytest.mark.parametrize("who", ["15550000001", "+1 555 000 0001"])
def test_a_phone_written_without_a_plus_is_found_with_or_without_it(store, who):
    assert find_customer(store, who) == store.customer_uid("zd", "2")


def test_other_numbers_and_words_find_no_one(store):
    assert find_customer(store, "15550000002") is None
    assert find_customer(store, "555") is None and find_customer(store, "nobody") is None


def test_the_cli_finds_a_customer_by_the_digits_of_their_phone(tmp_path, store):
    (tmp_path / "careplug.toml").write_text('[store]\npath = "careplug.db"\n')
    proc = subprocess.run([sys.executable, "-m", "careplug", "history", "15550000000"], cwd=tmp_path,
                          capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode == 0 and "linked zd/1" in proc.stdout, proc.stderr
