"""Readable terminal output for people (``--json`` bypasses all of this)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .durations import format_duration


def plugins_table(infos: list[Any]) -> Table:
    table = Table(title="careplug plugins", show_lines=False)
    for col in ("plugin", "version", "origin", "hooks"):
        table.add_column(col)
    for info in infos:
        hooks = ", ".join(h.removeprefix("careplug_") for h in info.hooks) or "-"
        table.add_row(escape(info.name), escape(info.version or "-"), escape(info.origin), escape(hooks))
    return table


@contextmanager
def sync_progress(console: Console | None, *, enabled: bool) -> Iterator[Any]:
    """A progress callback for ``sync_stream`` showing records read per stream (None when off)."""
    if not enabled or console is None:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[read]:>10,} read"),
                  TextColumn("{task.fields[changed]:>10,} changed"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        tasks: dict[tuple[str, str], Any] = {}

        def update(result: Any) -> None:
            key = (result.source, result.stream)
            if key not in tasks:
                tasks[key] = progress.add_task(escape(f"{result.source}:{result.stream}"), total=None, read=0,
                                               changed=0)
            progress.update(tasks[key], read=result.read, changed=sum(result.changed.values()))

        yield update


QUARANTINE_SHOWN = 5
"""Quarantine reasons printed per stream (``--json`` lists more; the store keeps every one)."""


def print_sync(console: Console, result: Any) -> None:
    """The sync table, then why each stream quarantined what it did (the first reasons) and what
    the sources said they do not read."""
    table = Table(title="sync")
    for col in ("stream", "read", "changed", "quarantined", "status"):
        table.add_column(col, justify="right" if col in ("read", "changed", "quarantined") else "left")
    for s in result.streams:
        status = "[green]ok[/]" if s.ok else f"[red]{escape(str(s.error))}[/]"
        table.add_row(escape(f"{s.source}:{s.stream}"), f"{s.read:,}", f"{sum(s.changed.values()):,}", f"{s.quarantined:,}", status)
    console.print(table)
    for line in quarantine_lines(result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for warning in getattr(result, "warnings", []):
        console.print(f"[yellow]! {escape(warning)}[/]", highlight=False, soft_wrap=True)


def quarantine_lines(result: Any, *, shown: int = QUARANTINE_SHOWN) -> list[str]:
    """Per stream that quarantined payloads: a heading with the count, the first ``shown`` reasons
    and how many more there are."""
    lines: list[str] = []
    for s in result.streams:
        if not s.quarantined:
            continue
        reasons = list(getattr(s, "quarantine", []))[:shown]
        lines.append(f"{s.source}:{s.stream}: {s.quarantined:,} quarantined (not synced):")
        lines += [f"  {reason}" for reason in reasons]
        if s.quarantined > len(reasons):
            lines.append(f"  … and {s.quarantined - len(reasons):,} more (careplug --json sync lists more; "
                         "the store's quarantine table keeps every one)")
    return lines


def waiting_table(findings: list[Any], now: datetime, *, title: str, limit: int = 25,
                  label: Any = None, show_keys: bool = False) -> Table:
    """Who is waiting, for how long, on which channel: open findings, longest wait first.
    ``label(uid)`` names a customer (default: the uid); ``show_keys`` adds each finding's key (what
    ``check --explain`` takes) under its summary."""
    table = Table(title=title, expand=True)
    table.add_column("waiting", no_wrap=True)
    table.add_column("rule · stage", no_wrap=True)
    table.add_column("channel", no_wrap=True)
    table.add_column("customer", ratio=1, overflow="fold")
    table.add_column("what", ratio=2, overflow="fold")
    ordered = sorted(findings, key=lambda f: f.started_at)
    for f in ordered[:limit]:
        severity = str(getattr(f.severity, "value", f.severity))
        style = {"breach": "red", "critical": "bold red", "warning": "yellow"}.get(severity, "")
        stage = f"[{style}]{escape(f.stage)}[/]" if style else escape(f.stage)
        who = (label(f.customer_uid) if label and f.customer_uid else f.customer_uid) or f.subject
        owner = f" → {f.owner}" if f.owner else ""
        what = escape(f.summary + owner) + (f"\n[dim]{escape(f.key)}[/]" if show_keys else "")
        table.add_row(format_duration(now - f.started_at), f"{escape(f.rule)} · {stage}", escape(f.channel or "-"),
                      escape(who), what)
    captions = []
    if len(ordered) > limit:
        captions.append(f"… and {len(ordered) - limit} more (use --json for all)")
    if show_keys and ordered:
        captions.append("why? careplug check --explain 'KEY' (the grey line; quote it)")
    table.caption = "\n".join(captions) or None
    return table


def _utc(value: Any) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _same_year(fired: list[dict[str, Any]]) -> bool:
    return len({_utc(item["at"]).year for item in fired}) <= 1


def replay_table(result: Any, *, limit: int = 50, label: Any = None) -> Table:
    """What would have fired in a replay (``check --dry-run --since``), in time order: when, the
    rule and stage reached, whose, what, and whether the finding cleared later in the window."""
    by_key = {f.key: f for f in getattr(result, "findings", []) or []}
    fired = list(getattr(result, "fired", []) or [])
    window = format_duration(result.since) if getattr(result, "since", None) else "the window"
    table = Table(title=f"would have fired in the last {window} ({len(fired)} stage(s) reached)", expand=True)
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("rule · stage", min_width=12)
    table.add_column("customer", ratio=1, min_width=10, overflow="fold")
    table.add_column("what", ratio=2, min_width=16, overflow="fold")
    table.add_column("cleared", no_wrap=True)
    fmt = "%m-%d %H:%M" if _same_year(fired) else "%Y-%m-%d %H:%M"
    names: dict[str, str] = {}
    for item in fired[:limit]:
        f = by_key.get(item["key"])
        severity = str(item.get("severity") or "")
        style = {"breach": "red", "critical": "bold red", "warning": "yellow"}.get(severity, "")
        stage = f"[{style}]{escape(item['stage'])}[/]" if style else escape(item["stage"])
        rule = item.get("rule") or (f.rule if f is not None else item["key"].split("|", 1)[0])
        who = item.get("subject") or (f.subject if f is not None else "-")
        uid = item.get("customer_uid") or (f.customer_uid if f is not None else None)
        if uid:
            if uid not in names:
                names[uid] = label(uid) if label else uid
            who = names[uid]
        cleared = "[bold]open[/]"
        if f is not None and f.resolved_at is not None:
            at = _utc(f.resolved_at)
            # gone only at the replay's last evaluation (now): it cleared at some point since
            cleared = "by now" if getattr(result, "now", None) is not None and at >= _utc(result.now) else at.strftime(fmt)
        table.add_row(_utc(item["at"]).strftime(fmt), f"{escape(rule)} · {stage}", escape(who),
                      escape(item.get("summary") or ""), cleared)
    if len(fired) > limit:
        table.caption = f"… and {len(fired) - limit} more (use --json for all)"
    return table


def replay_counts(result: Any) -> str:
    """One line of replay totals: stages fired, findings, how many cleared, per rule."""
    by_key = {f.key: f for f in getattr(result, "findings", []) or []}
    fired = list(getattr(result, "fired", []) or [])
    keys = list(dict.fromkeys(item["key"] for item in fired))
    cleared = sum(1 for k in keys if k in by_key and by_key[k].resolved_at is not None)
    per_rule: dict[str, int] = {}
    for k in keys:
        rule = k.split("|", 1)[0]
        per_rule[rule] = per_rule.get(rule, 0) + 1
    text = (f"would have fired: {len(keys):,} finding(s), {len(fired):,} stage(s) reached; "
            f"cleared later: {cleared:,}; still open: {len(keys) - cleared:,}; "
            f"already open when the window began: {getattr(result, 'open_at_start', 0):,}; "
            f"subjects replayed: {getattr(result, 'evaluated', 0):,}")
    if per_rule:
        text += "\nby rule: " + ", ".join(f"{r} {n:,}" for r, n in sorted(per_rule.items(), key=lambda x: (-x[1], x[0])))
    return text + "\nnothing was written (dry run)"


def print_findings(console: Console, result: Any, now: datetime, label: Any = None) -> None:
    if getattr(result, "since", None) is not None:
        console.print(replay_table(result, label=label))
        console.print(replay_counts(result), highlight=False, markup=False)
        for failure in getattr(result, "failures", []):
            console.print(f"[red]✗ {escape(failure)}[/]", highlight=False)
        return
    findings = list(getattr(result, "findings", []) or [])
    console.print(waiting_table(findings, now, title=f"open findings ({len(findings)})", label=label, show_keys=True))
    summary = result.as_dict()
    counts = {k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)
              and k != "open_at_start"}                     # a replay's count
    if counts:
        console.print("  ".join(f"{k}: {v:,}" for k, v in counts.items()))
    for note in getattr(result, "notes", []):
        console.print(f"[dim]{escape(note)}[/]", highlight=False)
    for failure in getattr(result, "failures", []):
        console.print(f"[red]✗ {escape(failure)}[/]", highlight=False)


def print_nudges(console: Console, result: Any, *, dry_run: bool) -> None:
    """Every line of the nudge run: creates, retries, closes, cancels, deferrals and failures."""
    console.print(result.render(), highlight=False, markup=False)


def print_run(console: Console, result: Any) -> None:
    if result.sync is not None:
        print_sync(console, result.sync)
    if result.check is not None:
        findings = list(getattr(result.check, "findings", []) or [])
        console.print(f"check: {len(findings)} open finding(s)  " + "  ".join(
            f"{k}: {v:,}" for k, v in result.check.as_dict().items() if isinstance(v, int) and not isinstance(v, bool)))
    if result.nudges is not None:
        console.print("nudges: " + "  ".join(
            f"{k}: {v:,}" for k, v in result.nudges.as_dict().items() if isinstance(v, int) and not isinstance(v, bool)))
    if result.failures:
        for f in result.failures:
            console.print(f"[red]✗ {escape(f)}[/]", highlight=False)
    else:
        console.print(f"[green]✓ run finished in {result.seconds:.1f}s[/]")


def print_timeline(console: Console, timeline: Any) -> None:
    """A customer's links, timeline and findings; every value is printed as written (a subject or a
    body holding "[x]" is not markup), and each finding says ``[open]`` or ``[resolved …]``."""
    console.print(f"[bold]customer {escape(timeline.uid)}[/]")
    for link in timeline.links:
        console.print(f"  linked {link['source']}/{link['external_id']}: {link['reason']}", markup=False,
                      highlight=False)
    table = Table()
    for col in ("when (UTC)", "source", "channel", "", "what"):
        table.add_column(col, overflow="fold")
    for item in timeline.items:
        arrow = {"inbound": "←", "outbound": "→"}.get(item.direction or "", " ")
        table.add_row(item.at.strftime("%Y-%m-%d %H:%M"), escape(item.source), escape(item.channel or "-"), arrow,
                      escape(item.summary))
    console.print(table)
    for f in timeline.findings:
        state = "open" if f.resolved_at is None else f"resolved {f.resolved_at:%Y-%m-%d %H:%M}"
        console.print(f"  finding [{state}] {f.rule} ({f.stage}): {f.summary}", markup=False, highlight=False)
