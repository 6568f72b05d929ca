"""unanswered: an inquiry nobody replied to within target, on every channel.

The clock starts at the first customer inquiry after the last touch (email, chat, social comment,
SMS, web form, a missed call or voicemail alike) and stops at the next touch: a public reply from a
person, a call, a completed task. Bots and internal notes do not stop it. The target is
``first_reply`` while nobody has replied yet in the conversation, ``next_reply`` after; a channel
or priority target applies when tighter. Time in a paused status does not count.

    [rules.unanswered]
    first_reply = "4h"
    next_reply = "8h"
    channel_targets = { chat = "15m", social = "2h", phone = "2h" }
    priority_targets = { urgent = "1h" }
    stages = [{ name = "warning", at = 0.75 }]
    scope = { exclude_tags = ["spam"] }
"""

from __future__ import annotations

from datetime import datetime, timedelta

import careplug

from ..finding import Severity
from ..flags import Flag
from ..history import History
from ..model import Channel, Priority
from .base import Assessment, CareRule
from .options import Conflict, Duration, PausableRuleOptions, in_scope, quoted
from .clock import conversation_pauses
from .stages import StageOptions, Stages, before_within
from .touches import answered_on_the_spot, conversation_touches, is_inquiry


class UnansweredOptions(PausableRuleOptions):
    first_reply: Duration = timedelta(hours=4)
    next_reply: Duration | None = timedelta(hours=8)
    """None: only the first reply is timed."""
    channel_targets: dict[Channel, Duration] = {}
    priority_targets: dict[Priority, Duration] = {}
    stages: Stages = [StageOptions(name="warning", at=0.75)]
    breach_severity: Severity = Severity.BREACH
    stop_when_solved: Flag = True
    """A solved or closed conversation stops the clock."""

    def conflicts(self) -> list[Conflict]:
        """A channel or priority target applies only when tighter than first_reply or next_reply:
        one that is not never applies. A ``before`` stage must be shorter than every target used."""
        bases = {"first_reply": self.first_reply}
        if self.next_reply is not None:
            bases["next_reply"] = self.next_reply
        targets = dict(bases)
        out: list[Conflict] = []
        for option, what in (("channel_targets", "channel"), ("priority_targets", "priority")):
            for key, target in getattr(self, option).items():
                name = f"{option}.{key.value}"
                if target < max(bases.values()):
                    targets[name] = target
                    continue
                out.append(((option, key.value),
                            f"{name} = {quoted(target)} is not shorter than "
                            + " or ".join(f"{k} = {quoted(v)}" for k, v in bases.items())
                            + f": a {what} target applies only when it is tighter, so this one never does; "
                            f"write a shorter one, or remove it (to give {key.value} more time, raise "
                            f"{' and '.join(bases)} and set tighter targets for the others)"))
        return out + before_within(self.stages, targets)


class Unanswered(CareRule):
    name = "unanswered"
    Options = UnansweredOptions
    subjects = ("conversation",)
    description = "An inquiry on any channel with no reply from a person within target."

    def target_for(self, channel: Channel, priority: Priority, first: bool) -> timedelta | None:
        o: UnansweredOptions = self.options  # type: ignore[assignment]
        base = o.first_reply if first else o.next_reply
        if base is None:
            return None
        candidates = [base]
        if channel in o.channel_targets:
            candidates.append(o.channel_targets[channel])
        if priority in o.priority_targets:
            candidates.append(o.priority_targets[priority])
        return min(candidates)

    def assess(self, history: History, now: datetime) -> Assessment:
        o: UnansweredOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        messages = history.grouped("messages")
        for conv in history.conversations:
            if not in_scope(o.scope, conv, history):
                continue
            if o.stop_when_solved and conv.status.is_done:
                continue
            key = (conv.source, conv.external_id)
            touches = conversation_touches(history, key)
            last_touch = touches[-1] if touches else None
            # the clock runs from the first inquiry after the last touch (at the same instant, the
            # touch answered it); newest first (undated messages have no place in time: skipped)
            msg = None
            for m in reversed(messages.get(key, ())):
                if m.created_at is None:
                    continue
                if last_touch is not None and m.created_at.timestamp() <= last_touch:
                    break
                if is_inquiry(m) and not answered_on_the_spot(m):
                    msg = m
            if msg is None:
                continue
            replied_before = bool(touches)          # every touch came before it
            first = not replied_before
            target = self.target_for(msg.channel, conv.priority, first)
            if target is None:
                continue
            ts_now = now.timestamp()
            clock = self.clock(conversation_pauses(history, conv, o.pause_on), conv)
            start = msg.created_at.timestamp()
            which = "first reply" if first else "next reply"
            self.staged(
                out, history=history, occurrence=msg.external_id, start=start, target=target,
                stages=self.stage_times(o.stages, target, o.breach_severity), clock=clock, now=ts_now,
                summary=lambda: (
                    f"{msg.channel.value} inquiry waiting for a {which} since "
                    f"{self.moment(start, clock.calendar)} (target {self.span(target, clock.calendar)})"),
                conversation=conv, explain={"reply": which, "inquiry_channel": msg.channel.value,
                                            "priority": conv.priority.value})
        return out


@careplug.hookimpl
def careplug_register_rules(register):
    register(Unanswered)
