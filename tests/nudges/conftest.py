from __future__ import annotations

import pytest

from nudge_taskcrm import FakeTaskCRM


@pytest.fixture
def crm():
    with FakeTaskCRM() as fake:
        yield fake


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "careplug.db")
