"""A hook implementation that returns the wrong shape (a bare Finding instead of a list, [None], a
dict) fails only itself: its failure names the plugin, the hook and what it returned, and the other
plugins' results are used (careplug.shapes)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import careplug
from careplug import Finding, Nudge, Severity, TimelineItem
from careplug.errors import ShapeError
from careplug.nudges.model import Action
from careplug.plugins import Plugins

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SUBJECT = "conversation:desk:1"


def sla(occurrence: str = "sla") -> Finding:
    return Finding("crm_sla", SUBJECT, occurrence, "breach", Severity.BREACH, "sla", started_at=T0)


def plugins_with(**impls) -> Plugins:
    """One plugin per keyword: its name, and what its careplug_detect_neglect returns."""
    plugins = Plugins(load_entry_points=False, builtins=())
    for name, returned in impls.items():
        class P:
            @careplug.hookimpl
            def careplug_detect_neglect(self, subject, _r=returned):
                return _r

        plugins.register(P(), name=name)
    return plugins


@pytest.mark.parametrize("returned, says", [
    (sla(), "returned a Finding, not a list of Finding"),
    ([None], "returned a list holding None at index 0, not only Finding objects"),
    ([sla(), {"rule": "x"}], "returned a list holding a dict at index 1"),
    ({"findings": []}, "returned a dict, not a list of Finding"),
    ("sla", "returned a str, not a list of Finding"),
])
def test_a_detect_neglect_result_of_the_wrong_shape_is_that_plugins_failure(returned, says):
    plugins = plugins_with(sloppy=returned, fine=[sla("fine")])
    assert [f.occurrence for f in plugins.detect_neglect(SUBJECT, None, T0)] == ["fine"]
    (failure,) = plugins.hook_failures
    assert (failure.plugin, failure.hook) == ("sloppy", "careplug_detect_neglect")
    assert isinstance(failure.error, ShapeError) and says in str(failure.error)


def test_none_an_empty_list_a_tuple_or_a_generator_are_fine():
    def gen():
        yield sla("gen")

    plugins = plugins_with(a=None, b=[], c=(sla("tuple"),), d=gen())
    assert sorted(f.occurrence for f in plugins.detect_neglect(SUBJECT, None, T0)) == ["gen", "tuple"]
    assert list(plugins.hook_failures) == []


def test_a_relationship_history_result_of_the_wrong_shape_is_that_plugins_failure():
    plugins = Plugins(load_entry_points=False, builtins=())
    item = TimelineItem(T0, "shop", "order", "order 1")

    class Bare:
        @careplug.hookimpl
        def careplug_relationship_history(self, customer_uid):
            return item                          # forgot the [ ]

    class Fine:
        @careplug.hookimpl
        def careplug_relationship_history(self, customer_uid):
            return [item]

    plugins.register(Bare(), name="bare")
    plugins.register(Fine(), name="fine")
    assert plugins.relationship_history("u1", None) == [item]
    assert [(f.plugin, f.hook) for f in plugins.hook_failures] == [("bare", "careplug_relationship_history")]
    assert "returned a TimelineItem, not a list of TimelineItem" in str(plugins.hook_failures[0].error)


def test_a_planner_returning_the_wrong_shape_fails_and_the_next_planner_decides():
    plugins = Plugins(load_entry_points=False, builtins=())
    nudge = Nudge("k", "f", "breach", Action.TASK, "crm", "title")

    class Bare:
        @careplug.hookimpl(tryfirst=True)
        def careplug_plan_follow_up(self, finding):
            return nudge                         # forgot the [ ]

    class Fallback:
        @careplug.hookimpl(trylast=True)
        def careplug_plan_follow_up(self, finding):
            return [nudge]

    plugins.register(Bare(), name="bare")
    plugins.register(Fallback(), name="fallback")
    assert plugins.plan_follow_up(sla(), None) == [nudge]
    assert [(f.plugin, f.hook) for f in plugins.hook_failures] == [("bare", "careplug_plan_follow_up")]
