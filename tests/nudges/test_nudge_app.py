"""run_nudges on a real App built from careplug.toml: [nudges] validated by the config loader,
calendars from [calendars], sources and notifiers from their tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from careplug.app import App
from careplug.errors import ConfigError
from careplug.nudges.delivery import run_nudges
from careplug.nudges.policy import NudgePolicy
from careplug.plugins import Plugins

from nudge_app import T0, finding, save

CONFIG = """
plugins = ["nudge_taskcrm"]

[store]
path = "{store}"

[sources.crm]
type = "test_task_crm"
url = "{url}"

[calendars.default]
timezone = "UTC"
hours = {{ daily = "08:00-18:00" }}

[nudges.stages.breach]
actions = ["task"]
assign_to = "manager"

[nudges.hierarchy]
managers = {{ alice = "maria" }}
"""


def app_for(tmp_path, crm_url: str, extra: str = "") -> App:
    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    text = CONFIG.format(store=tmp_path / "c.db", url=crm_url) + extra
    return App.from_text(text, base_dir=tmp_path, plugins=plugins)


def test_an_app_from_careplug_toml_delivers_the_breach_to_the_manager_in_business_hours(crm, tmp_path):
    app = app_for(tmp_path, crm.url)
    assert isinstance(app.policy, NudgePolicy)
    save(app.store, finding(1, owner="alice", stage="breach"))
    night = run_nudges(app, T0.replace(hour=22))
    assert night.ok and night.count("defer") == 1 and crm.tasks == []
    morning = run_nudges(app, T0.replace(hour=22) + timedelta(hours=11))
    assert morning.ok and [t["assignee"] for t in crm.tasks] == ["maria"]


def test_a_mistake_in_the_nudges_table_is_a_config_error_naming_the_key(crm, tmp_path):
    with pytest.raises(ConfigError) as info:
        app_for(tmp_path, crm.url, '\n[nudges.limits]\nper_person_per_dya = 3\n')
    assert "nudges.limits.per_person_per_dya" in str(info.value)


def app_on(plugins: Plugins, tmp_path, crm_url: str, db: str = "c.db") -> App:
    return App.from_text(CONFIG.format(store=tmp_path / db, url=crm_url), base_dir=tmp_path, plugins=plugins)


def test_one_plugin_set_serves_one_app_after_another(crm, tmp_path):
    """E.g. the App reopened after careplug.toml was edited, in one process."""
    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    for n in (1, 2):
        app = app_on(plugins, tmp_path, crm.url)
        try:
            save(app.store, finding(n, owner="alice", stage="breach"))
            assert run_nudges(app, T0).ok
        finally:
            app.close()
    assert [t["assignee"] for t in crm.tasks] == ["maria", "maria"]


def test_two_open_apps_on_one_plugin_set_each_deliver_to_their_own_crm(tmp_path):
    """Each run routes to its own App's sources: another open App's source of the same name never
    answers for it."""
    from nudge_taskcrm import FakeTaskCRM

    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    with FakeTaskCRM() as crm_a, FakeTaskCRM() as crm_b:
        app_a = app_on(plugins, tmp_path, crm_a.url, "a.db")
        app_b = app_on(plugins, tmp_path, crm_b.url, "b.db")
        try:
            app_b.sources                                    # both Apps' parts exist before either runs
            save(app_a.store, finding(1, owner="alice", stage="breach"))
            save(app_b.store, finding(2, owner="alice", stage="breach"))
            assert run_nudges(app_a, T0).ok and run_nudges(app_b, T0).ok
        finally:
            app_a.close()
            app_b.close()
        assert [t["conversation"] for t in crm_a.tasks] == ["1"]
        assert [t["conversation"] for t in crm_b.tasks] == ["2"]


def test_nudges_for_a_source_that_could_not_be_created_wait_for_it(crm, tmp_path, monkeypatch):
    """Planned for their own source as always, kept pending without spending an attempt, and
    delivered by the next run that can create the source."""
    from nudge_taskcrm import TaskCrmSource

    def cannot(self, *args, **kwargs):
        raise RuntimeError("no client")

    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    app = app_on(plugins, tmp_path, crm.url)
    with monkeypatch.context() as m:
        m.setattr(TaskCrmSource, "__init__", cannot)
        try:
            save(app.store, finding(1, owner="alice", stage="breach"))
            down = run_nudges(app, T0)
        finally:
            app.close()
    assert list(app.source_failures) == ["crm"]
    assert [(line.op, line.target) for line in down.lines] == [("defer", "crm")] and down.ok
    assert crm.tasks == []
    app = app_on(plugins, tmp_path, crm.url)
    try:
        assert run_nudges(app, T0).ok
    finally:
        app.close()
    assert [t["assignee"] for t in crm.tasks] == ["maria"]
