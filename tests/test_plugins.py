"""The plugin manager: built-ins like third parties, forgiving loading, strict mode, allow/block lists,
rejection of misnamed hooks, failure isolation."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest

import careplug
from careplug import PluginError, Rule, RuleOptions, Source
from careplug.plugins import BUILTIN_PLUGINS, Plugins


def make_module(name: str, body: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(body), module.__dict__)
    return module


@pytest.fixture
def entry_point_dist(tmp_path, monkeypatch):
    """An installed distribution (a dist-info on sys.path) with entry points in the careplug group."""

    def install(name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        for mod, code in modules.items():
            (tmp_path / f"{mod}.py").write_text(textwrap.dedent(code))
        dist = tmp_path / f"{name}-1.2.3.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
        eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
        (dist / "entry_points.txt").write_text(f"[careplug]\n{eps}\n")
        monkeypatch.syspath_prepend(str(tmp_path))

    yield install
    for mod in ("good_plugin", "broken_plugin"):
        sys.modules.pop(mod, None)


GOOD = """
import careplug
from careplug import Source

class Good(Source):
    kind = "good"

@careplug.hookimpl
def careplug_register_sources(register):
    register(Good)
"""


def test_builtins_are_registered_like_any_plugin():
    plugins = Plugins(load_entry_points=False)
    names = {i.name for i in plugins.list() if i.origin == "built-in"}
    assert set(BUILTIN_PLUGINS) <= names | {f.name for f in plugins.load_failures}


def test_entry_point_plugins_are_listed_with_version_origin_and_hooks(entry_point_dist):
    entry_point_dist("careplug-good", {"good": "good_plugin"}, {"good_plugin": GOOD})
    plugins = Plugins(builtins=())
    info = next(i for i in plugins.list() if i.name == "good")
    assert (info.origin, info.version, info.hooks) == ("entry point", "1.2.3", ["careplug_register_sources"])
    assert "good" in plugins.sources()


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(entry_point_dist):
    entry_point_dist("careplug-mixed", {"broken": "broken_plugin", "good": "good_plugin"},
                     {"broken_plugin": "raise RuntimeError('missing dependency xyz')", "good_plugin": GOOD})
    plugins = Plugins(builtins=())
    assert [f.name for f in plugins.load_failures] == ["broken"]
    assert "missing dependency xyz" in plugins.load_failures[0].error
    assert "good" in plugins.sources()


def test_strict_mode_makes_a_failed_import_fatal(entry_point_dist, monkeypatch):
    entry_point_dist("careplug-broken", {"broken": "broken_plugin"}, {"broken_plugin": "raise RuntimeError('boom')"})
    monkeypatch.setenv("CAREPLUG_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'broken'.*failed to load.*boom"):
        Plugins(builtins=())


def test_block_list_and_allow_list(entry_point_dist, monkeypatch):
    entry_point_dist("careplug-good", {"good": "good_plugin"}, {"good_plugin": GOOD})
    monkeypatch.setenv("CAREPLUG_BLOCK_PLUGINS", "good")
    assert "good" not in {i.name for i in Plugins(builtins=()).list()}
    monkeypatch.delenv("CAREPLUG_BLOCK_PLUGINS")
    monkeypatch.setenv("CAREPLUG_PLUGINS", "good")
    assert {i.name for i in Plugins().list()} == {"good"}


def test_a_misnamed_hook_is_rejected_with_a_hint():
    plugins = Plugins(load_entry_points=False, builtins=())
    module = make_module("typo_plugin", """
        import careplug
        @careplug.hookimpl
        def careplug_register_rule(register):
            pass
    """)
    with pytest.raises(PluginError, match="careplug_register_rule matches no careplug hook.*careplug_register_rules"):
        plugins.register(module, name="typo")
    assert "typo" not in {i.name for i in plugins.list()}


def test_an_unknown_argument_name_is_rejected():
    plugins = Plugins(load_entry_points=False, builtins=())
    module = make_module("badarg_plugin", """
        import careplug
        @careplug.hookimpl
        def careplug_register_rules(registr):
            pass
    """)
    with pytest.raises(PluginError, match="badarg"):
        plugins.register(module, name="badarg")


@pytest.mark.parametrize("marker", ["wrapper=True", "hookwrapper=True"])
def test_a_hook_wrapper_is_refused_naming_the_plugin_and_the_hook(marker):
    """careplug calls each implementation on its own (one that raises fails only itself), so a
    wrapper would never wrap anything: it is refused, never silently run as a plain implementation."""
    plugins = Plugins(load_entry_points=False, builtins=())
    module = make_module("timing_plugin", f"""
        import careplug
        @careplug.hookimpl({marker})
        def careplug_detect_neglect(subject, history, now):
            result = yield
            return result
    """)
    with pytest.raises(PluginError, match=r"'timing'.*careplug_detect_neglect.*wrapper"):
        plugins.register(module, name="timing")
    assert "timing" not in {i.name for i in plugins.list()}
    assert plugins.detect_neglect("conversation:x:1", None, None) == []     # nothing left registered


def test_a_hook_wrapper_in_an_installed_plugin_is_a_load_failure(entry_point_dist):
    entry_point_dist("careplug-timing", {"timing": "good_plugin"}, {"good_plugin": """
        import careplug
        @careplug.hookimpl(wrapper=True)
        def careplug_nudge_delivered(nudge, receipt):
            return (yield)
    """})
    plugins = Plugins(builtins=())
    assert [(f.name, f.origin) for f in plugins.load_failures] == [("timing", "entry point")]
    assert "wrapper" in plugins.load_failures[0].error


def test_two_plugins_registering_one_kind_are_both_named():
    plugins = Plugins(load_entry_points=False, builtins=())

    class A(Source):
        kind = "desk"

    class B(Source):
        kind = "desk"

    for name, cls in (("first", A), ("second", B)):
        plugins.register(make_plugin_registering(cls), name=name)
    with pytest.raises(PluginError, match="'desk' is registered twice: by '(first|second)' and by '(first|second)'"):
        plugins.sources()


def make_plugin_registering(cls):
    class P:
        @careplug.hookimpl
        def careplug_register_sources(self, register):
            register(cls)

    return P()


def test_a_plugin_raising_in_a_run_hook_fails_only_its_part():
    plugins = Plugins(load_entry_points=False, builtins=())
    seen = []

    class Exploding:
        @careplug.hookimpl
        def careplug_detect_neglect(self, subject, history, now):
            raise ValueError("bad plugin")

    class Fine:
        @careplug.hookimpl
        def careplug_detect_neglect(self, subject):
            seen.append(subject)
            return []

    plugins.register(Exploding(), name="exploding")
    plugins.register(Fine(), name="fine")
    assert plugins.detect_neglect("conversation:x:1", None, None) == []
    assert seen == ["conversation:x:1"]
    assert [(f.plugin, f.hook) for f in plugins.hook_failures] == [("exploding", "careplug_detect_neglect")]


def test_registered_rules_and_options_are_available():
    plugins = Plugins(load_entry_points=False, builtins=())

    class QuietOptions(RuleOptions):
        days: int = 30

    class Quiet(Rule):
        name = "quiet"
        Options = QuietOptions

    class P:
        @careplug.hookimpl
        def careplug_register_rules(self, register):
            register(Quiet)

    plugins.register(P(), name="p")
    assert plugins.rules() == {"quiet": Quiet}


def test_tracing_writes_hook_calls_to_stderr(monkeypatch, capsys):
    monkeypatch.setenv("CAREPLUG_TRACE_HOOKS", "1")
    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(make_plugin_registering(type("S", (Source,), {"kind": "s"})), name="p")
    plugins.sources()
    assert "careplug_register_sources -> p" in capsys.readouterr().err


def test_a_plugin_installed_and_also_listed_in_the_config_loads_once_without_a_failure(entry_point_dist):
    entry_point_dist("good", {"good": "good_plugin"}, {"good_plugin": """
        import careplug
        @careplug.hookimpl
        def careplug_register_rules(register):
            pass
    """})
    plugins = Plugins(extra=["good_plugin"])
    assert "good" in plugins.infos and "good_plugin" not in plugins.infos
    assert plugins.load_failures == [] and plugins.setup_failures == []


def test_registering_a_plugin_again_under_another_name_is_a_plugin_error():
    plugins = Plugins(load_entry_points=False, builtins=())
    module = make_module("twice", "")
    plugins.register(module, name="first")
    with pytest.raises(PluginError, match="'second' is already registered"):
        plugins.register(module, name="second")
