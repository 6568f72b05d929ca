"""Router: the built-in careplug_deliver_nudges routes a batch to the source or notifier named by its target."""

from __future__ import annotations

from careplug.notifier import Notifier
from careplug.nudges.model import Action, Nudge, Receipt
from careplug.nudges.routing import Router
from careplug.plugins import Plugins
from careplug.source import Source, SourceOptions

from nudge_app import T0


class ReadOnly(Source):
    kind = "read_only"


class Writer(Source):
    kind = "writer"

    def deliver(self, nudges):
        return [Receipt(n.key, f"w-{n.key}", T0) for n in nudges]

    def find_delivered(self, nudges):
        return {n.key: Receipt(n.key, "found", T0, existed=True) for n in nudges}

    def cancel(self, nudges):
        self.cancelled = [n.key for n in nudges]


class Chat(Notifier):
    kind = "chat"

    def send(self, nudges):
        return [Receipt(n.key, None, T0) for n in nudges]


def nudge(target: str) -> Nudge:
    return Nudge("k", "f", "warning", Action.TASK, target, "t")


def router() -> Router:
    opts = SourceOptions()
    return Router({"ro": ReadOnly("ro", opts), "crm": Writer("crm", opts)}, {"chat": Chat("chat", None)})


def test_batches_go_to_the_source_or_notifier_named_by_the_target():
    r = router()
    assert r.careplug_deliver_nudges("crm", [nudge("crm")])[0].external_ref == "w-k"
    assert r.careplug_deliver_nudges("chat", [nudge("chat")])[0].key == "k"


def test_a_source_that_cannot_deliver_or_an_unknown_target_is_not_owned():
    r = router()
    assert r.careplug_deliver_nudges("ro", [nudge("ro")]) is None
    assert r.careplug_deliver_nudges("nowhere", [nudge("nowhere")]) is None
    assert (r.owns("crm"), r.owns("chat"), r.owns("ro"), r.owns("nowhere")) == (True, True, False, False)


def test_lookups_and_closing_reach_sources_and_are_no_ops_for_notifiers():
    r = router()
    assert r.find_delivered("crm", [nudge("crm")])["k"].existed
    assert r.find_delivered("chat", [nudge("chat")]) == {}
    r.cancel("crm", [nudge("crm")])
    assert r.sources["crm"].cancelled == ["k"]
    r.cancel("chat", [nudge("chat")])


def test_a_plugin_that_owns_a_target_answers_before_the_router():
    plugins = Plugins(builtins=(), load_entry_points=False)
    plugins.register(router(), name="careplug.nudges.routing", origin="built-in")

    class Own:
        import careplug

        @careplug.hookimpl
        def careplug_deliver_nudges(self, target, nudges):
            return [Receipt(n.key, "mine", T0) for n in nudges] if target == "crm" else None

    plugins.register(Own(), name="own")
    assert plugins.deliver_nudges("crm", [nudge("crm")])[0].external_ref == "mine"
    assert plugins.deliver_nudges("chat", [nudge("chat")])[0].external_ref is None
