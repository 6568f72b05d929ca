"""``careplug run`` in-process (``run_pipeline`` on an App): a run reports its own failures, each
once, and one plugin set serves one App after another."""

from __future__ import annotations

import textwrap
import types

import pytest

import careplug
from careplug.app import App
from careplug.check import evaluate_store
from careplug.pipeline import run_pipeline
from careplug.plugins import Plugins
from careplug.testing.generator import write_files

CONFIG = textwrap.dedent("""
    [store]
    path = "careplug.db"
    [sources.local]
    type = "files"
    path = "export/local"
    [rules.unanswered]
    first_reply = "4h"
""")


@pytest.fixture
def project(tmp_path):
    write_files(tmp_path / "export", 20, seed=5, sources=("local",))
    (tmp_path / "careplug.toml").write_text(CONFIG)
    return tmp_path / "careplug.toml"


def plugin(**hooks) -> types.ModuleType:
    module = types.ModuleType("a_plugin")
    for name, fn in hooks.items():
        setattr(module, name, careplug.hookimpl(fn))
    return module


def test_a_hook_failure_of_one_run_is_not_reported_by_the_next(project):
    calls = []

    def careplug_records_synced(stream):
        calls.append(stream)
        if len(calls) == 1:
            raise ConnectionError("statsd down")          # once, in the first run

    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_records_synced=careplug_records_synced), name="metrics")
    app = App.from_file(project, plugins=plugins)
    try:
        first = run_pipeline(app)
        second = run_pipeline(app)                        # nothing fails in this run
    finally:
        app.close()
    assert first.failures == ["sync: plugin 'metrics' failed in careplug_records_synced: "
                              "ConnectionError: statsd down"]
    assert second.ok, second.failures


def test_a_detect_neglect_failure_is_listed_once(project):
    failed_on = []

    def careplug_detect_neglect(subject):
        if not failed_on and subject.startswith("conversation:"):
            failed_on.append(subject)
            raise RuntimeError("CRM SLA lookup failed")
        return None

    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_detect_neglect=careplug_detect_neglect), name="crm_sla")
    app = App.from_file(project, plugins=plugins)
    try:
        result = run_pipeline(app)
    finally:
        app.close()
    assert [f for f in result.failures if "crm_sla" in f] == [
        f"check: plugin 'crm_sla' failed in careplug_detect_neglect on {failed_on[0]}: "
        "RuntimeError: CRM SLA lookup failed"]


def test_a_finding_resolved_failure_is_a_failure_of_the_check_that_resolved_it(project):
    def careplug_finding_resolved(finding):
        raise RuntimeError("audit log down")

    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_finding_resolved=careplug_finding_resolved), name="audit")
    app = App.from_file(project, plugins=plugins)
    try:
        assert run_pipeline(app).check.findings                # open findings, then the rule is off:
        result = evaluate_store(app.store, [], app.now(), plugins=plugins, full=True)    # all clear
    finally:
        app.close()
    assert result.resolved and len(result.failures) == len(result.resolved)
    assert result.failures[0] == (f"plugin 'audit' failed in careplug_finding_resolved for "
                                  f"{result.resolved[0].key}: RuntimeError: audit log down")


def test_a_register_hook_that_failed_is_reported_by_every_run(project):
    def careplug_register_rules(register):
        raise ImportError("no module named 'acme_sdk'")

    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_register_rules=careplug_register_rules), name="acme")
    app = App.from_file(project, plugins=plugins)
    try:
        runs = [run_pipeline(app), run_pipeline(app)]
    finally:
        app.close()
    for result in runs:
        assert result.failures == ["plugin 'acme' failed in careplug_register_rules: "
                                   "ImportError: no module named 'acme_sdk'"]


def test_one_plugin_set_serves_one_app_after_another(project):
    """E.g. the App reopened after careplug.toml was edited, in one test or one worker process."""
    plugins = Plugins(load_entry_points=False)
    results = []
    for _ in range(2):
        app = App.from_file(project, plugins=plugins)
        try:
            results.append(run_pipeline(app))
        finally:
            app.close()
    assert results[1].check.findings == results[0].check.findings != []


class Flaky(careplug.Source):
    """A source whose client cannot be built: ``error`` is what its constructor raises."""

    kind = "flaky"
    streams = ("tickets",)
    error: Exception

    def __init__(self, name, options, *, base_dir=None):
        super().__init__(name, options, base_dir=base_dir)
        raise self.error


def with_flaky(project, error: Exception) -> App:
    def careplug_register_sources(register):
        register(type("FlakyNow", (Flaky,), {"error": error}))

    project.write_text(CONFIG + '[sources.broken]\ntype = "flaky"\n')
    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_register_sources=careplug_register_sources), name="flaky_plugin")
    return App.from_file(project, plugins=plugins)


def test_a_source_that_cannot_be_created_fails_only_itself_and_never_shows_a_foreign_message(project):
    app = with_flaky(project, RuntimeError("cannot build client with token s3cr3t-t0ken"))
    try:
        result = run_pipeline(app)
    finally:
        app.close()
    assert result.failures == [
        "sync: source 'broken' (type 'flaky') could not be created: RuntimeError (its message is not "
        "shown: it may quote a secret; careplug -vv logs it)"]
    assert result.sync.read > 0 and {s.source for s in result.sync.streams} == {"local"}
    assert result.check.findings                       # the other source synced and was checked


def test_a_careplug_error_creating_a_source_is_shown(project):
    app = with_flaky(project, careplug.AuthError("set DESK_TOKEN", source="broken"))
    try:
        result = run_pipeline(app)
    finally:
        app.close()
    assert result.failures == [
        "sync: source 'broken' (type 'flaky') could not be created: AuthError: broken: set DESK_TOKEN"]


class ReadOnly(careplug.Source):
    """A source that can write back, with write-back switched off in its options."""

    kind = "readonly"
    streams = ("tickets",)

    @property
    def can_deliver(self) -> bool:
        return False

    def deliver(self, nudges):
        raise AssertionError("write-back is off")


def test_a_source_whose_write_back_is_off_is_no_nudge_target(project):
    def careplug_register_sources(register):
        register(ReadOnly)

    project.write_text(CONFIG + '[sources.quiet]\ntype = "readonly"\n')
    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin(careplug_register_sources=careplug_register_sources), name="readonly_plugin")
    app = App.from_file(project, plugins=plugins)
    try:
        assert "quiet" not in app.deliverable_targets and "local" in app.deliverable_targets
    finally:
        app.close()
