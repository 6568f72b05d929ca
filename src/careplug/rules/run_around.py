"""run_around: the customer is bounced around, or has to come back again and again.

Two findings, one concept — the customer has to push to be helped:

- *reassigned*: a conversation that has been in ``max_groups`` or more distinct groups (teams), or
  with ``max_agents`` or more distinct agents ("that is not my department"); or, with
  ``max_group_transfers`` / ``max_agent_transfers``, that was handed from one group (agent) to
  another that many times, back and forth included (support -> billing -> support -> billing is
  three group transfers between two groups);
- *repeated*: a customer (across every connected source) who opened ``repeat_conversations`` or
  more conversations on the same subject within ``repeat_window`` — repeating themselves.

No clock: the finding holds from the moment the threshold is reached until the conversation (all of
the repeated conversations) is solved.

    [rules.run_around]
    max_groups = 3
    max_agents = 4
    max_group_transfers = 3         # off unless set
    max_agent_transfers = 4         # off unless set
    repeat_conversations = 3
    repeat_window = "7d"
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import Field

import careplug

from ..finding import Finding, Severity
from ..history import History
from ..model import Conversation, EventKind
from .base import Assessment, CareRule, iso
from .options import CareRuleOptions, Duration, format_duration, in_scope

_STOP = frozenset("a an the and or of to for in on at my our your is are was with re fw fwd about not "
                  "can't cannot i we you it this that still again please help issue problem".split())
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=65536)
def subject_words(subject: str) -> frozenset[str]:
    """The meaningful words of a conversation subject ("Re: Cannot log in!" -> {"log", "cannot"...})."""
    return frozenset(w for w in _WORD.findall(subject.lower()) if w not in _STOP and len(w) > 1)


def similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= threshold


class RunAroundOptions(CareRuleOptions):
    max_groups: int | None = Field(3, ge=2)
    """Distinct groups the conversation has been in (the first one included)."""
    max_agents: int | None = Field(4, ge=2)
    """Distinct agents it has been assigned to (the first one included)."""
    max_group_transfers: int | None = Field(None, ge=2)
    """Hand-offs from one group to another (back and forth included); None: not counted."""
    max_agent_transfers: int | None = Field(None, ge=2)
    """Hand-offs from one agent to another (back and forth included); None: not counted."""
    repeat_conversations: int | None = Field(3, ge=2)
    repeat_window: Duration = timedelta(days=7)
    similarity: float = Field(0.5, gt=0, le=1)
    """How alike two subjects must be to count as the same (share of common words)."""
    severity: Severity = Severity.WARNING


class RunAround(CareRule):
    name = "run_around"
    Options = RunAroundOptions
    subjects = ("conversation", "customer")
    description = "A conversation bounced across teams or agents, or a customer repeating themselves."

    def assess(self, history: History, now: datetime) -> Assessment:
        out = Assessment()
        if history.subject.startswith("conversation:"):
            for conv in history.conversations:
                if in_scope(self.options.scope, conv, history) and not conv.status.is_done:
                    self._reassigned(out, history, conv, now)
        elif history.subject.startswith("customer:"):
            self._repeated(out, history, now)
        return out

    def _finding(self, history: History, occurrence: str, started: datetime, summary: str,
                 now: datetime, conv: Conversation | None, explain: dict[str, Any]) -> Finding:
        o: RunAroundOptions = self.options  # type: ignore[assignment]
        f = Finding(rule=self.name, subject=history.subject, occurrence=occurrence, stage="breach",
                    severity=o.severity, summary=summary, started_at=started, due_at=started, detected_at=now,
                    customer_uid=history.customer_uid, explain=explain)
        if conv is not None:
            f.source, f.conversation_id, f.account_id = conv.source, conv.external_id, conv.account_id
            f.owner, f.group, f.channel = conv.assignee, conv.group, conv.channel.value
        return f

    def _reassigned(self, out: Assessment, history: History, conv: Conversation, now: datetime) -> None:
        o: RunAroundOptions = self.options  # type: ignore[assignment]
        for kind, limit, transfer_limit, label in (
                (EventKind.GROUP, o.max_groups, o.max_group_transfers, "groups"),
                (EventKind.ASSIGNEE, o.max_agents, o.max_agent_transfers, "agents")):
            if limit is None and transfer_limit is None:
                continue
            seen: list[str] = []
            path: list[str] = []            # the holders in turn: each change of holder is a transfer
            reached: datetime | None = None
            changes = []
            for e in history.grouped("events").get((conv.source, conv.external_id), ()):
                if e.type is not kind or e.created_at is None or e.created_at > now:
                    continue
                for value in (e.from_value, e.to_value):
                    if value and value not in seen:
                        seen.append(value)
                if not path and e.from_value:
                    path.append(e.from_value)
                if e.to_value and (not path or e.to_value != path[-1]):
                    path.append(e.to_value)     # unassigned in between is not a holder of its own
                changes.append(e)
                if reached is None and ((limit is not None and len(seen) >= limit) or (
                        transfer_limit is not None and len(path) - 1 >= transfer_limit)):
                    reached = e.created_at
            if reached is None:
                continue
            transfers = len(path) - 1
            trail = [{"at": iso(e.created_at.timestamp()), "from": e.from_value, "to": e.to_value} for e in changes]
            threshold = [f"{n} {what}" for n, what in ((limit, label), (transfer_limit, f"{label[:-1]} transfers"))
                         if n is not None]
            out.findings.append(self._finding(
                history, label, reached,
                f"passed through {len(seen)} {label} in {transfers} transfer{'s' * (transfers != 1)}: "
                f"{' -> '.join(path)}", now, conv,
                {"threshold": " or ".join(threshold), "seen": seen, "transfers": transfers, "changes": trail}))

    def _repeated(self, out: Assessment, history: History, now: datetime) -> None:
        o: RunAroundOptions = self.options  # type: ignore[assignment]
        if o.repeat_conversations is None:
            return
        convs = sorted((c for c in history.conversations
                        if c.created_at is not None and c.created_at <= now and in_scope(o.scope, c, history)),
                       key=lambda c: (c.created_at, c.source, c.external_id))
        words = [subject_words(c.subject) for c in convs]
        window = o.repeat_window
        # the next conversation still open from each one on: a cluster with none inside its window
        # would be all solved (alert tickets: thousands of solved look-alikes) and is not built
        next_open: list[int | None] = [None] * len(convs)
        following: int | None = None
        for k in range(len(convs) - 1, -1, -1):
            if not convs[k].status.is_done:
                following = k
            next_open[k] = following
        used: set[int] = set()
        for i, first in enumerate(convs):
            if i in used:
                continue
            k = next_open[i]
            if k is None or convs[k].created_at - first.created_at > window:
                continue
            cluster = [i]
            for j in range(i + 1, len(convs)):
                if convs[j].created_at - first.created_at > window:
                    break
                if j not in used and similar(words[i], words[j], o.similarity):
                    cluster.append(j)
            if len(cluster) < o.repeat_conversations:
                continue
            members = [convs[k] for k in cluster]
            if all(c.status.is_done for c in members):
                continue                # all solved: these may still count with a later contact
            used.update(cluster)
            last = members[-1]
            out.findings.append(self._finding(
                history, f"repeat:{first.source}:{first.external_id}",
                members[o.repeat_conversations - 1].created_at,
                f"{len(members)} conversations about \"{first.subject}\" within {format_duration(window)}",
                now, last,
                {"threshold": f"{o.repeat_conversations} conversations within {format_duration(window)}",
                 "conversations": [{"source": c.source, "id": c.external_id, "subject": c.subject,
                                    "opened": iso(c.created_at.timestamp()), "status": c.status.value}
                                   for c in members]}))


@careplug.hookimpl
def careplug_register_rules(register):
    register(RunAround)
