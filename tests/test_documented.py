"""What admins set is documented: every environment variable careplug reads, every key the
calendars' opening hours take, and the example config says truthfully what it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
READ = re.compile(r"""(?:environ\.get|getenv|_truthy|_env_list)\(\s*["'](CAREPLUG_\w+)["']|^\w*ENV\s*=\s*["'](CAREPLUG_\w+)["']""",
                  re.M)


def variables_read() -> list[str]:
    found = set()
    for path in (ROOT / "src" / "careplug").rglob("*.py"):
        for m in READ.finditer(path.read_text()):
            found.add(m.group(1) or m.group(2))
    return sorted(found)


def test_the_variables_are_found():
    assert {"CAREPLUG_CONFIG", "CAREPLUG_WORKERS", "CAREPLUG_NOW"} <= set(variables_read())


@pytest.mark.parametrize("name", variables_read())
def test_every_environment_variable_careplug_reads_is_documented(name):
    assert f"`{name}" in DOCS or f"${name}" in DOCS, f"{name} is read in src/careplug but not in README.md or docs/"


def calendar_section() -> str:
    text = (ROOT / "docs" / "rules.md").read_text()
    return text.split("## The clock", 1)[1].split("\n## ", 1)[0]


def hours_keys_and_values() -> list[str]:
    from careplug.calendar import ALL_DAY, CLOSED, DAYS, NAMED_DAYS

    return [*DAYS, *NAMED_DAYS, *(v for v in (*CLOSED, *ALL_DAY) if v)]


@pytest.mark.parametrize("word", hours_keys_and_values())
def test_every_word_opening_hours_take_is_documented_in_the_calendar_section(word):
    assert f"`{word}`" in calendar_section() or f'"{word}"' in calendar_section(), \
        f"calendars' hours take {word!r}, docs/rules.md's calendar section does not say so"


def test_the_documented_opening_hours_mean_what_the_docs_say():
    from careplug.calendar import CalendarOptions

    def week(hours):
        return CalendarOptions(hours=hours).weekly()

    nine_to_five = [(540, 1020)]
    assert week({"weekdays": "09:00-17:00"}) == [nine_to_five] * 5 + [[], []]
    assert week({"daily": "08:00-20:00", "sun": "closed"}) == [[(480, 1200)]] * 6 + [[]]
    assert week({"EveryDay": "24h", "weekend": "off"}) == [[(0, 1440)]] * 5 + [[], []]
    assert week({"fri": "18:00-24:00", "sat": "00:00-02:00"})[4:6] == [[(1080, 1440)], [(0, 120)]]
    assert CalendarOptions().weekly() == [nine_to_five] * 5 + [[], []]


def test_the_example_s_undated_promise_default_is_what_its_comment_says(monkeypatch):
    """examples/careplug.toml: a promise without a date is due one working day later on the New
    York desk (08:00-20:00) and a day and a half later on the Berlin desk (8 open hours a day), as
    its comment says; "1d" there was 24 open hours, two New York working days."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from careplug.calendar import BusinessCalendar
    from careplug.config import load

    monkeypatch.setenv("SUPPORT_LEADS_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    path = ROOT / "examples" / "careplug.toml"
    config = load(path)
    due = config.rules["broken_promise"].undated_due
    comment = path.read_text().split("[rules.broken_promise]", 1)[1].split("undated_due", 1)[0]
    said = " ".join(comment.replace("#", " ").split())
    assert "one working day in New York" in said and "a day and a half in Berlin" in said

    def after(calendar, zone, start):
        cal = BusinessCalendar.from_options(config.calendars[calendar])
        return cal.add(datetime(*start, tzinfo=ZoneInfo(zone)), due).astimezone(ZoneInfo(zone)).replace(tzinfo=None)

    assert after("default", "America/New_York", (2026, 3, 2, 8, 0)) == datetime(2026, 3, 2, 20, 0)     # Monday
    assert after("default", "America/New_York", (2026, 3, 2, 14, 0)) == datetime(2026, 3, 3, 14, 0)
    assert after("emea", "Europe/Berlin", (2026, 3, 2, 9, 0)) == datetime(2026, 3, 3, 14, 0)
