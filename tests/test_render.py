"""What people read in the terminal: every value from a CRM or a config is printed as written,
never read as Rich markup (a subject "[URGENT] refund" keeps its brackets)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from rich.console import Console

from careplug.finding import Finding, Severity
from careplug.history import Timeline, TimelineItem
from careplug.render import plugins_table, print_sync, print_timeline, waiting_table

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)


def _text(*renderables) -> str:
    console = Console(record=True, width=200)
    for r in renderables:
        console.print(r)
    return console.export_text()


def _timeline(findings) -> Timeline:
    items = [TimelineItem(NOW - timedelta(hours=8), "helpdesk", "message", "customer: [URGENT] refund [b]now[/b]",
                          "email", "inbound", "c1")]
    links = [{"source": "helpdesk", "external_id": "cus-[1]", "reason": "email ada@example.com"}]
    return Timeline("uid-[7]", links, items, findings)


def test_history_says_whether_each_finding_is_open_or_resolved():
    waiting = Finding("unanswered", "conversation:helpdesk:c1", "m1", "breach", Severity.BREACH,
                      "email inquiry waiting for a first reply for 7h30", NOW - timedelta(hours=8))
    answered = Finding("unanswered", "conversation:helpdesk:c2", "m2", "breach", Severity.BREACH,
                       "email inquiry waiting", NOW - timedelta(hours=9), resolved_at=NOW - timedelta(hours=1))
    console = Console(record=True, width=200)
    print_timeline(console, _timeline([waiting, answered]))
    lines = [line.strip() for line in console.export_text().splitlines() if "finding" in line]
    assert lines == ["finding [open] unanswered (breach): email inquiry waiting for a first reply for 7h30",
                     "finding [resolved 2026-11-24 14:00] unanswered (breach): email inquiry waiting"]


def test_history_prints_customer_ids_links_and_message_text_with_their_brackets():
    tagged = Finding("unhappy", "conversation:helpdesk:c1", "r1", "breach", Severity.BREACH,
                     "[VIP] complaint about [billing]", NOW - timedelta(hours=1))
    console = Console(record=True, width=200)
    print_timeline(console, _timeline([tagged]))
    out = console.export_text()
    assert "customer uid-[7]" in out and "helpdesk/cus-[1]" in out
    assert "customer: [URGENT] refund [b]now[/b]" in out
    assert "[VIP] complaint about [billing]" in out


def test_the_waiting_table_prints_names_stages_and_channels_as_written():
    f = Finding("unanswered", "conversation:helpdesk:c1", "m1", "[late]", Severity.BREACH, "subject [x]",
                NOW - timedelta(hours=5), customer_uid="u1", channel="[chat]", owner="agt-[9]")
    out = _text(waiting_table([f], NOW, title="open", label={"u1": "Ada [Acme]"}.get))
    assert "Ada [Acme]" in out and "unanswered · [late]" in out and "[chat]" in out
    assert "subject [x] → agt-[9]" in out


def test_a_sync_error_is_printed_as_written():
    stream = SimpleNamespace(source="hd", stream="messages", read=3, changed={"messages": 1}, quarantined=0, ok=False,
                             error="SourceError: got '[1, 2]' [bold]")
    console = Console(record=True, width=200)
    print_sync(console, SimpleNamespace(streams=[stream]))
    assert "got '[1, 2]' [bold]" in console.export_text()


def test_the_plugins_table_prints_names_as_written():
    info = SimpleNamespace(name="acme[beta]", version="1.0[rc]", origin="config", hooks=["careplug_register_rules"])
    out = _text(plugins_table([info]))
    assert "acme[beta]" in out and "1.0[rc]" in out


def test_sync_prints_the_first_quarantine_reasons_of_each_stream_and_how_many_more():
    from careplug.sync import StreamResult, SyncResult

    reasons = [f"conversations.jsonl line {n}: status: Input should be 'open' (got 'Open')" for n in range(2, 10)]
    bad = StreamResult("hd", "conversations", read=1, changed={"conversation": 1}, quarantined=8, quarantine=reasons)
    result = SyncResult([StreamResult("hd", "customers"), bad], warnings=["hd: customers.json is not read"])
    console = Console(record=True, width=100)
    print_sync(console, result)
    lines = console.export_text().splitlines()
    start = lines.index("hd:conversations: 8 quarantined (not synced):")
    assert [line.strip() for line in lines[start + 1:start + 6]] == reasons[:5]
    assert lines[start + 6].strip().startswith("… and 3 more (careplug --json sync lists more")
    assert lines[start + 7] == "! hd: customers.json is not read"
    assert not any("hd:customers:" in line for line in lines)
