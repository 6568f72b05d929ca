"""careplug.toml validation: every problem at once, each with key path, line and hint; secrets never echoed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib

import pytest
from pydantic import Field, SecretStr

import careplug
from careplug import ConfigError, Rule, RuleOptions, Source, SourceOptions
from careplug.config import key_lines, load, parse
from careplug.plugins import Plugins


class DeskOptions(SourceOptions):
    url: str
    token: SecretStr
    page_size: int = Field(100, ge=1, le=1000)


class Desk(Source):
    kind = "desk"
    Options = DeskOptions


class WaitOptions(RuleOptions):
    target_hours: float = Field(4, gt=0)
    channels: list[str] = []


class Wait(Rule):
    name = "wait"
    Options = WaitOptions


class TestPlugin:
    @careplug.hookimpl
    def careplug_register_sources(self, register):
        register(Desk)

    @careplug.hookimpl
    def careplug_register_rules(self, register):
        register(Wait)


@pytest.fixture
def plugins():
    p = Plugins(load_entry_points=False, builtins=())
    p.register(TestPlugin(), name="test")
    return p


def problems_of(text: str, plugins) -> list:
    with pytest.raises(ConfigError) as info:
        parse(textwrap.dedent(text), file="careplug.toml", plugins=plugins)
    return info.value.problems


def test_a_valid_config_gives_typed_options(plugins, monkeypatch):
    monkeypatch.setenv("DESK_TOKEN", "s3cr3t")
    config = parse(textwrap.dedent("""
        [sources.helpdesk]
        type = "desk"
        url = "http://127.0.0.1:9"
        token = "${DESK_TOKEN}"

        [rules.wait]
        target_hours = 2
    """), plugins=plugins)
    kind, options = config.sources["helpdesk"]
    assert kind == "desk" and options.token.get_secret_value() == "s3cr3t"
    assert config.rules["wait"].target_hours == 2


def test_five_mistakes_give_five_errors_with_key_path_and_line(plugins):
    problems = problems_of("""
        [store]
        pth = "x.db"

        [sources.helpdesk]
        type = "desk"
        url = "http://127.0.0.1:9"
        token = "t"
        page_size = 5000

        [sources.other]
        type = "dsek"

        [rules.wait]
        target_hours = "soon"

        [rules.unanswred]
        enabled = true
    """, plugins)
    found = sorted((p.path, p.line) for p in problems)
    assert found == [
        ("rules.unanswred", 17),
        ("rules.wait.target_hours", 15),
        ("sources.helpdesk.page_size", 9),
        ("sources.other.type", 12),
        ("store.pth", 3),
    ]
    by_path = {p.path: p for p in problems}
    assert by_path["store.pth"].hint == "did you mean 'path'?"
    assert by_path["sources.other.type"].hint == "did you mean 'desk'?"
    assert "less than or equal to 1000" in by_path["sources.helpdesk.page_size"].message


def test_an_unknown_calendar_is_reported_beside_another_problem_of_the_same_rule(tmp_path):
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [calendars.default]
        timezone = "Europe/Berlin"

        [rules.unanswered]
        calendar = "emea"
        next_reply = "8 hourz"
    """))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml")
    assert sorted(p.path for p in info.value.problems) == ["rules.unanswered.calendar", "rules.unanswered.next_reply"]


def test_unknown_keys_are_errors_so_a_typo_cannot_disable_a_rule(plugins):
    [problem] = problems_of("""
        [rules.wait]
        enabeld = false
    """, plugins)
    assert (problem.path, problem.message, problem.hint) == ("rules.wait.enabeld", "unknown key", "did you mean 'enabled'?")


def test_a_missing_environment_variable_is_named(plugins, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    [problem] = problems_of("""
        [sources.helpdesk]
        type = "desk"
        url = "http://127.0.0.1:9"
        token = "${NOPE_TOKEN}"
    """, plugins)
    assert problem.path == "sources.helpdesk.token" and "NOPE_TOKEN is not set" in problem.message and problem.line == 5


def test_secret_values_are_never_echoed_in_errors(plugins, monkeypatch):
    monkeypatch.setenv("PAGE", "hunter2-secret")
    problems = problems_of("""
        [sources.helpdesk]
        type = "desk"
        url = "http://127.0.0.1:9"
        token = "t"
        page_size = "${PAGE}"
    """, plugins)
    assert problems and all("hunter2" not in str(p) for p in problems)


SECRET = "s3cr3t-token-value"


def test_a_secret_file_value_is_never_echoed_even_by_a_validator_that_quotes_its_input(tmp_path):
    """Validators say "bad duration '...'" or "unknown time zone '...'": when the value came from
    ${file:...} or ${NAME}, the message names the reference instead of the value."""
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [sources.zendesk]
        type = "files"
        path = "x"
        time_zone = "${file:secret.txt}"

        [rules.unanswered]
        next_reply = "${file:secret.txt}"

        [calendars.team]
        timezone = "${file:secret.txt}"
    """))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml")
    problems = info.value.problems
    assert {p.path for p in problems} >= {"sources.zendesk.time_zone", "rules.unanswered.next_reply",
                                          "calendars.team.timezone"}
    for p in problems:
        assert SECRET not in str(p) and SECRET not in repr(vars(p)), p
    assert all("${file:secret.txt}" in p.message for p in problems)   # what to look at instead


@pytest.mark.parametrize("secret", ["839201", "4Hunter2Zebra", "9-17,Zebra"])
def test_no_part_or_form_of_a_secret_is_echoed_when_a_validator_transforms_it(tmp_path, secret):
    """Validators suffix ('839201h' in an example), lowercase and split ('unknown unit 'hunter'')
    what they were given: a problem with an interpolated value says so and quotes nothing."""
    (tmp_path / "pin.txt").write_text(secret)
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [rules.unanswered]
        first_reply = "${file:pin.txt}"

        [calendars.team]
        timezone = "America/New_York"
        hours = { mon-fri = "${file:pin.txt}" }
    """))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml")
    text = " ".join(f"{p.message} {p.hint or ''}" for p in info.value.problems).lower()
    assert info.value.problems and "${file:pin.txt}" in text
    for piece in {secret.lower(), *secret.lower().replace(",", " ").replace("-", " ").split()} - {"9", "17"}:
        assert piece not in text, piece
    assert "hunter" not in text


def test_an_environment_value_is_never_echoed_on_the_cli(tmp_path):
    (tmp_path / "careplug.toml").write_text('[rules.unanswered]\nfirst_reply = "${FR}"\n')
    for args in (["validate"], ["--json", "validate"], ["check", "--dry-run"]):
        proc = subprocess.run([sys.executable, "-m", "careplug", "-c", str(tmp_path / "careplug.toml"), *args],
                              capture_output=True, text=True, env={**__import__("os").environ, "FR": SECRET})
        assert proc.returncode == 3, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr and "${FR}" in proc.stdout + proc.stderr


def test_defaults_and_secret_files(plugins, tmp_path, monkeypatch):
    monkeypatch.delenv("DESK_URL", raising=False)
    (tmp_path / "token.txt").write_text("from-file\n")
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [sources.helpdesk]
        type = "desk"
        url = "${DESK_URL:-http://127.0.0.1:8080}"
        token = "${file:token.txt}"
    """))
    config = load(tmp_path / "careplug.toml", plugins=plugins)
    _, options = config.sources["helpdesk"]
    assert options.url == "http://127.0.0.1:8080" and options.token.get_secret_value() == "from-file"


def test_broken_toml_names_the_line(plugins):
    [problem] = problems_of('[store]\npath = "unterminated\n', plugins)
    assert problem.line == 2 and "not valid TOML" in problem.message


def test_key_lines_follow_tables_and_dotted_keys():
    lines = key_lines('a = 1\n[rules.wait]\nx.y = 2\n[[list]]\nz = 3\n')
    assert lines[("a",)] == 1 and lines[("rules", "wait")] == 2 and lines[("rules", "wait", "x", "y")] == 3
    assert lines[("list", "z")] == 5


def test_key_lines_number_array_elements_like_error_locations():
    text = textwrap.dedent("""\
        [[a.items]]          # line 1
        x = 1
        [[a.items]]          # line 3
        x = 2
        [a.items.sub]        # line 5: a table inside the second element
        y = "[not a header] # nor a comment"
        s = '''
        [still.a.string]
        '''
        arr = [              # line 10
          { name = "one", at = 0.5 },
          # a comment
          { name = "two",
            at = 2 },        # at: line 14
        ]
    """)
    lines = key_lines(text)
    assert lines[("a", "items", 0)] == 1 and lines[("a", "items", 1)] == 3 and lines[("a", "items", 1, "x")] == 4
    assert lines[("a", "items", 1, "sub")] == 5 and lines[("a", "items", 1, "sub", "y")] == 6
    assert ("still", "a", "string") not in lines
    assert lines[("a", "items", 1, "sub", "arr", 0)] == 11 and lines[("a", "items", 1, "sub", "arr", 1)] == 13
    assert lines[("a", "items", 1, "sub", "arr", 1, "at")] == 14
    assert lines[("a",)] == 1


def test_each_problem_points_at_its_own_line(plugins):
    """Under [[arrays.of.tables]], inside an inline array spread over lines and in a misspelt table
    header, the line is the one holding the mistake, not the first line of the array or none."""
    [problem] = problems_of("""
        [rules.wait]
        target_hours = 2

        [rule.wait]
        target_hours = 2
    """, plugins)
    assert (problem.path, problem.line, problem.hint) == ("rule", 5, "did you mean 'rules'?")
    problems = problems_of("""
        [rules.unanswered]
        first_reply = "4h"
        stages = [
          { name = "early", at = 0.5 },
          { name = "late", at = 1.5 },
        ]

        [rules.unhappy]
        [[rules.unhappy.stages]]
        name = "a"
        at = 0.5
        [[rules.unhappy.stages]]
        name = "b"
        at = 3
    """, Plugins(load_entry_points=True))
    lines = {p.path: p.line for p in problems}
    assert lines["rules.unanswered.stages.1.at"] == 6
    assert lines["rules.unhappy.stages.1.at"] == 15


def test_the_cli_prints_every_problem_and_exits_3_without_a_traceback(tmp_path):
    cfg = tmp_path / "careplug.toml"
    cfg.write_text('[store]\npth = "x"\nbogus = 1\n[sources.a]\ntype = "nonexistent"\n[rules.nope]\n[nudges]\nwat = 1\n')
    proc = subprocess.run([sys.executable, "-m", "careplug", "validate", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in ("store.pth", "store.bogus", "sources.a.type", "rules.nope"):
        assert needle in proc.stderr
    assert f"{cfg}:2" in proc.stderr


def test_the_shipped_example_configs_validate(monkeypatch):
    """examples/careplug.toml and the `careplug init` template are valid with the installed plugins."""
    from pathlib import Path

    monkeypatch.setenv("SUPPORT_LEADS_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    root = Path(__file__).resolve().parents[1]
    for path in (root / "examples" / "careplug.toml", root / "src" / "careplug" / "templates" / "careplug.toml"):
        config = load(path)
        assert config.rules, path


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b'[rules.unanswered]\nfirst_reply = "4h"\n# caf\xe9\n'), "not UTF-8"),
])
def test_an_unreadable_config_file_is_a_config_error_naming_the_file(tmp_path, make, says):
    """A directory or a file that is not UTF-8 is a config problem (exit 3) that names the file and
    what is wrong with it, never an "internal error"."""
    cfg = tmp_path / "team.toml"
    make(cfg)
    with pytest.raises(ConfigError) as info:
        load(cfg)
    [problem] = info.value.problems
    assert says in problem.message and str(cfg) in str(problem)
    proc = subprocess.run([sys.executable, "-m", "careplug", "-c", str(cfg), "check"], capture_output=True, text=True)
    assert proc.returncode == 3 and "internal error" not in proc.stderr and says in proc.stderr
    assert f"{cfg} has 1 problem(s)" in proc.stderr        # the heading names the file given


def test_a_calendar_with_problems_is_reported_once_not_again_as_missing_where_it_is_used():
    problems = problems_of("""
        [calendars.closed]
        hours = { mon-fri = "closed" }

        [rules.unanswered]
        calendar = "closed"
    """, Plugins())
    assert [(p.path, p.line) for p in problems] == [("calendars.closed.hours", 3)]
    assert "never open" in problems[0].message


def test_a_repeated_stage_name_is_reported_with_the_other_stage_problems_on_the_repeating_stage():
    problems = problems_of("""
        [rules.unanswered]
        stages = [
          { name = "warning", at = 1.5 },
          { name = "late", at = 0.9 },
          { name = "warning", before = "30m" },
          { before = "10m" },
        ]
    """, Plugins())
    found = {(p.path, p.line) for p in problems}
    assert found == {("rules.unanswered.stages.0.at", 4), ("rules.unanswered.stages.2.name", 6),
                     ("rules.unanswered.stages.3", 7)}
    by_path = {p.path: p.message for p in problems}
    assert "stage 0 is already called 'warning'" in by_path["rules.unanswered.stages.2.name"]
    assert "without a name is 'warning'" in by_path["rules.unanswered.stages.3"]


def test_messages_read_as_plain_sentences_and_an_unset_variable_is_one_problem(monkeypatch):
    """No pydantic "Value error, " prefix, no hint repeating the message, and an unset ${NAME} is
    not reported a second time as the empty value it left behind."""
    monkeypatch.delenv("NOPE_TARGET", raising=False)
    problems = problems_of("""
        [rules.unanswered]
        first_reply = "${NOPE_TARGET}"
        next_reply = "soon"
        breach_severity = "fatal"
    """, Plugins())
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {"rules.unanswered.first_reply", "rules.unanswered.next_reply",
                            "rules.unanswered.breach_severity"}
    assert "NOPE_TARGET is not set" in by_path["rules.unanswered.first_reply"].message
    assert by_path["rules.unanswered.next_reply"].message.startswith("bad duration 'soon'")
    assert by_path["rules.unanswered.breach_severity"].hint is None
    assert not any("Value error" in str(p) for p in problems)


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path):
    (tmp_path / "careplug.toml").write_bytes(b"\xef\xbb\xbf" + b'[rules.unanswered]\nfirst_reply = "2h"\n')
    assert load(tmp_path / "careplug.toml").rules["unanswered"].first_reply.total_seconds() == 7200


FILES_SOURCES = """
[store]
path = "careplug.db"

[sources.helpdesk]
type = "files"
path = "data/helpdesk"

[sources.other]
type = "files"
path = "does/not/exist"

[sources.notes]
type = "files"
path = "notes.txt"
"""


def test_validate_reports_a_files_source_folder_that_does_not_exist_with_key_path_and_line(tmp_path):
    (tmp_path / "data" / "helpdesk").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "careplug.toml").write_text(FILES_SOURCES)
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml", check_paths=True)
    assert [(p.path, p.line) for p in info.value.problems] == [("sources.other.path", 11), ("sources.notes.path", 15)]
    missing, a_file = info.value.problems
    assert f"folder {tmp_path / 'does/not/exist'} does not exist" in missing.message
    assert "is a file, not a folder" in a_file.message
    proc = subprocess.run([sys.executable, "-m", "careplug", "validate"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 3 and "careplug.toml:11: sources.other.path: folder" in proc.stderr, proc.stderr


def test_a_run_loads_a_config_whose_export_folder_is_missing_so_the_other_sources_still_sync(tmp_path):
    """Only `careplug validate` checks the paths: in a run the missing folder fails its own source."""
    (tmp_path / "data" / "helpdesk").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "careplug.toml").write_text(FILES_SOURCES.replace("notes.txt", "notes"))
    assert set(load(tmp_path / "careplug.toml").sources) == {"helpdesk", "other", "notes"}


@pytest.mark.parametrize("hours, got", [("9", "got 9"), ('["09:00-12:00", 5]', "got 5 in the list"),
                                        ("{ from = 9 }", "got {'from': 9}")])
def test_opening_hours_of_the_wrong_type_are_one_problem_at_the_day_saying_what_is_accepted(hours, got):
    problems = problems_of(f"""
        [calendars.default]
        timezone = "Europe/Berlin"
        hours = {{ mon-fri = {hours} }}
    """, Plugins(load_entry_points=False, builtins=()))
    [problem] = problems
    assert (problem.path, problem.line) == ("calendars.default.hours.mon-fri", 4)
    assert problem.message.startswith('opening hours are a string like "09:00-17:00"')
    assert 'or a list of them like ["09:00-12:00", "13:00-17:00"]' in problem.message and got in problem.message


class PagesOptions(SourceOptions):
    pages: int | list[int] = 1
    mode: str | list[str] = "all"


class Pages(Source):
    kind = "pages"
    Options = PagesOptions


class PagesPlugin:
    @careplug.hookimpl
    def careplug_register_sources(self, register):
        register(Pages)


def test_a_plugins_union_option_is_reported_at_its_key_never_under_pydantic_s_member_names():
    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(PagesPlugin(), name="pages")
    problems = problems_of("""
        [sources.p]
        type = "pages"
        pages = [1, "two"]
        mode = { all = true }
    """, plugins)
    assert [(p.path, p.line, p.message) for p in problems] == [
        ("sources.p.pages.1", 4, "Input should be a valid integer, unable to parse string as an integer"),
        ("sources.p.mode", 5, "Input should be a valid string or a valid list"),
    ]


@pytest.mark.parametrize("table, key, written", [
    ("rules.unanswered", "enabled", '"no"'),
    ("rules.unhappy", "enabled", "0"),
    ("rules.unanswered", "stop_when_solved", '"yes"'),
    ("rules.neglected_lead", "first_inquiry", '"off"'),
    ("nudges", "enabled", "1"),
    ("nudges.quiet_hours", "enabled", '"False"'),
    ("nudges.limits", "escalations_exempt", '"n"'),
])
def test_a_boolean_is_true_or_false_never_a_word_or_number_guessed_at(table, key, written):
    """pydantic's plain bool read "no", "off", 0 and "1" as booleans: an admin's `enabled = "no"`
    passed by guessing. It is a problem at the key, on its line, saying what to write."""
    text = f"# a comment\n[{table}]\n{key} = {written}\n"
    with pytest.raises(ConfigError) as info:
        parse(text, file="careplug.toml")
    [problem] = info.value.problems
    assert (problem.path, problem.line) == (f"{table}.{key}", 3)
    assert problem.message == f"{tomllib.loads(f'v = {written}')['v']!r} is not a boolean: write true or false"
    assert str(problem).startswith(f"careplug.toml:3: {table}.{key}: ")


def test_a_notifier_s_boolean_is_strict_too(tmp_path):
    (tmp_path / "careplug.toml").write_text('[notifiers.mail]\ntype = "email"\nhost = "localhost"\n'
                                            'sender = "care@example.com"\nstarttls = "yes"\n')
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml")
    [problem] = info.value.problems
    assert (problem.path, problem.line) == ("notifiers.mail.starttls", 5)
    assert problem.message == "'yes' is not a boolean: write true or false"


def test_a_boolean_from_the_environment_is_the_word_true_or_false(monkeypatch):
    """${NAME} gives a string: exactly "true" or "false" is that boolean, anything else a problem
    that (as for every interpolated value) does not show the value."""
    monkeypatch.setenv("NUDGES_ON", "false")
    assert parse('[nudges]\nenabled = "${NUDGES_ON:-true}"\n').nudges.enabled is False
    assert parse('[nudges]\nenabled = "${UNSET_FLAG_X:-true}"\n').nudges.enabled is True
    monkeypatch.setenv("NUDGES_ON", "no")
    with pytest.raises(ConfigError) as info:
        parse('[nudges]\nenabled = "${NUDGES_ON}"\n')
    [problem] = info.value.problems
    assert problem.path == "nudges.enabled" and "${NUDGES_ON}" in problem.message


def test_every_boolean_option_of_the_shipped_models_is_strict():
    """A new boolean option declared as plain ``bool`` (not ``careplug.Flag``) would accept "no" again."""
    from typing import Annotated, get_args

    from pydantic import BaseModel, TypeAdapter, ValidationError

    from careplug.calendar import CalendarOptions
    from careplug.nudges.policy import NudgePolicy

    plugins = Plugins()
    models = [CalendarOptions, NudgePolicy, *(c.Options for c in plugins.rules().values()),
              *(c.Options for c in plugins.sources().values()), *(c.Options for c in plugins.notifiers().values())]
    seen, lax = set(), []

    def walk(model):
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            kinds = [field.annotation, *get_args(field.annotation)]
            kinds += [a for k in kinds for a in get_args(k)]
            if bool in kinds:
                try:
                    kind = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
                    TypeAdapter(kind).validate_python("no")
                    lax.append(f"{model.__name__}.{name}")
                except ValidationError:
                    pass
            for k in kinds:
                if isinstance(k, type) and issubclass(k, BaseModel):
                    walk(k)

    for model in models:
        walk(model)
    assert len(seen) > 10 and not lax, lax
