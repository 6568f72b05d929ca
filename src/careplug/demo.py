"""``careplug demo``: the whole loop, offline, in seconds.

It generates a synthetic history of three CRMs as ``files`` exports, writes a careplug.toml that
enables every built-in rule, runs ``careplug run`` on it (sync → check → nudge into outbox files)
and prints what a team lead wants to see first: who is waiting, for how long, on which channel.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

DEMO_SOURCES = ("zendesk", "salesforce", "hubspot")
#: rules whose findings are a person waiting on us (shown first); the others are summarized
WAITING_RULES = ("unanswered", "broken_promise", "unhappy", "neglected_lead")

DEMO_CONFIG = """\
# careplug demo: three CRMs exported as files, every built-in rule on, nudges to outbox files.
[store]
path = "careplug.db"

[sources.zendesk]
type = "files"
path = "export/zendesk"

[sources.salesforce]
type = "files"
path = "export/salesforce"

[sources.hubspot]
type = "files"
path = "export/hubspot"

[calendars.default]
timezone = "America/New_York"
hours = { mon-fri = "08:00-20:00", sat = "10:00-14:00" }
country = "US"
subdivision = "NY"

[rules.unanswered]
[rules.broken_promise]
[rules.run_around]
[rules.quiet_customer]
[rules.unhappy]
[rules.check_in]
[rules.neglected_lead]

[nudges]
# the demo delivers at once, whatever the hour; left out, nudges wait for each person's business hours
[nudges.quiet_hours]
enabled = false
"""


def run_demo(console: Console, *, directory: str | None, conversations: int, keep: bool, as_json: bool) -> int:
    from .app import App
    from .pipeline import run_pipeline
    from .store import findings as findings_store
    from .testing.generator import write_files

    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="careplug-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    now = App.now().replace(microsecond=0)          # CAREPLUG_NOW pins it: the history ends where the run looks
    stats = write_files(folder / "export", conversations, seed=7, now=now, sources=DEMO_SOURCES)
    (folder / "careplug.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    from .plugins import get_plugins

    app = App.from_file(folder / "careplug.toml", plugins=get_plugins())
    try:
        result = run_pipeline(app, progress_console=None)
        open_findings = findings_store.open_findings(app.store)
        outboxes = {name: Path(getattr(src, "outbox_path", folder / "export" / name / "outbox.jsonl"))
                    for name, src in app.sources.items()}
        customers = len({uid for uid in (f.customer_uid for f in open_findings) if uid})
        summary = {
            "folder": str(folder),
            "generated": stats,
            "run": result.as_dict(),
            "open_findings": len(open_findings),
            "customers_waiting": customers,
            "by_rule": dict(Counter(f.rule for f in open_findings)),
            "by_channel": dict(Counter(f.channel or "-" for f in open_findings)),
            "outboxes": {k: str(v) for k, v in outboxes.items()},
        }
        if as_json:
            console.print_json(json.dumps(summary, default=str))
        else:
            _print(console, app, result, open_findings, now, outboxes, folder if keep else None, stats)
    finally:
        app.close()
        if not keep and not directory:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if result.ok else 1


def _print(console: Console, app: Any, result: Any, findings: list, now: datetime, outboxes: dict[str, Path],
           folder: Path | None, stats: dict[str, Any]) -> None:
    """``folder`` is None when the demo folder is temporary (removed after printing)."""
    from rich.table import Table

    from .render import waiting_table

    records = sum(stats.get("records", {}).values())
    console.rule("[bold]careplug demo")
    console.print(f"Generated {stats.get('conversations', 0):,} conversations ({records:,} records) across "
                  f"{', '.join(DEMO_SOURCES)}; synced {result.sync.read:,} records, checked and nudged in {result.seconds:.1f}s.")
    customers = len({f.customer_uid for f in findings if f.customer_uid})
    console.print(f"[bold]{len(findings)}[/] open findings for [bold]{customers}[/] customers.\n")
    waiting = [f for f in findings if f.rule in WAITING_RULES]
    console.print(waiting_table(waiting or findings, now, title="Who is waiting, for how long, on which channel",
                                limit=15, label=app.store.customer_label))

    by = Table(title="Open findings by rule and channel")
    channels = sorted({f.channel or "-" for f in findings})
    by.add_column("rule")
    for ch in channels:
        by.add_column(ch, justify="right")
    for rule in sorted({f.rule for f in findings}):
        counts = Counter(f.channel or "-" for f in findings if f.rule == rule)
        by.add_row(rule, *[str(counts.get(ch, "")) for ch in channels])
    console.print(by)

    if result.nudges is not None:
        c = result.nudges.counts()
        console.print(f"Nudges: {c['planned']} planned, {c['create']} written to the outboxes, "
                      f"{c['defer']} waiting for business hours, {c['cancel']} cancelled.")
    for name, path in outboxes.items():
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            console.print(f"  outbox {name}: {path} ({len(lines)} entries)")
            for line in lines[:2]:
                entry = json.loads(line)
                console.print(f"    → {entry.get('action', '')} for {entry.get('assignee') or '-'}: "
                              f"{entry.get('title', '')}", highlight=False)
    example = next((f for f in findings if f.customer_uid), None)
    if folder is None:
        console.print("\nThis demo ran in a temporary folder. To explore it afterwards, keep it:")
        console.print("  careplug demo --dir careplug-demo")
        folder = Path("careplug-demo")
    console.print("\nThen:" if str(folder) == "careplug-demo" else "\nNext:")
    if findings:
        console.print(f"  careplug -c {folder}/careplug.toml check --explain '{findings[0].key}'", soft_wrap=True)
    if example:
        console.print(f"  careplug -c {folder}/careplug.toml history '{example.customer_uid}'", soft_wrap=True)
    console.print(f"  careplug -c {folder}/careplug.toml nudge --dry-run", soft_wrap=True)
