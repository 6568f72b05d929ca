"""unhappy: a bad rating or a complaint that nobody followed up.

An occurrence is a bad satisfaction rating (``Rating.bad``, or a score at or under ``bad_score``),
an inbound message that reads as a complaint (``complaint_keywords``), or a conversation tagged as
one (``complaint_tags``). It is recovered by a touch from a person after it: a public reply, a
call, a completed task. Of a conversation's complaint messages, the first one after its last touch
is the occurrence (a complaint that was answered does not hide a new one). Ratings given on a conversation are followed on that conversation; ratings
given to the customer directly (no conversation) on the customer, where a touch in any source
counts. The clock is business time and ignores the conversation being solved (that is usually when
the rating arrives).

    [rules.unhappy]
    target = "8h"
    bad_score = 0.4
    complaint_tags = ["complaint"]
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cached_property

from pydantic import Field

import careplug

from ..finding import Severity
from ..history import History
from ..model import Status
from .base import Assessment, CareRule
from .clock import conversation_pauses
from .options import Conflict, Duration, PausableRuleOptions, in_scope, record_in_scope
from .stages import StageOptions, Stages, before_within
from .touches import conversation_touches, is_inquiry, touch_times

DEFAULT_KEYWORDS = ["complaint", "complain", "unacceptable", "disappointed", "disgusted", "furious",
                    "terrible service", "worst service", "speak to a manager", "speak to your manager"]


def _inflected(word: str) -> str:
    """The pattern of ``word`` and its inflected forms: complaint(s), complain(s|ed|ing),
    escalat(e|es|ed|ing); a keyword that does not end in a letter is matched as it is."""
    if not word[-1].isalpha():
        return re.escape(word)
    if word.endswith("e"):
        return re.escape(word[:-1]) + "(?:e|es|ed|ing)"
    return re.escape(word) + "(?:s|es|ed|ing)?"


class UnhappyOptions(PausableRuleOptions):
    target: Duration = timedelta(hours=8)
    bad_score: float | None = Field(0.4, ge=0, le=1)
    """A score (0..1) at or under this is bad even when the CRM did not flag it; None: trust the CRM."""
    complaint_tags: list[str] = ["complaint"]
    complaint_keywords: list[str] = DEFAULT_KEYWORDS
    stages: Stages = [StageOptions(name="warning", at=0.5)]
    breach_severity: Severity = Severity.BREACH
    pause_on: list[Status] = []

    def conflicts(self) -> list[Conflict]:
        return before_within(self.stages, {"target": self.target})


class Unhappy(CareRule):
    name = "unhappy"
    Options = UnhappyOptions
    subjects = ("conversation", "customer")
    description = "A bad rating or a complaint without a follow-up from a person within target."

    @cached_property
    def _complaint(self) -> re.Pattern[str] | None:
        """The keywords, matched in lowercased text, each with the endings of its inflected forms
        when it ends in a letter ("complain" matches "complained" and "complaining", "complaint"
        "complaints"); the word boundary before a match is checked by ``_is_complaint`` (a leading
        ``\\b`` would keep ``re`` from skipping ahead by first letter)."""
        words = [_inflected(w.lower()) for w in self.options.complaint_keywords if w.strip()]
        return re.compile(r"(?:" + "|".join(words) + r")\b") if words else None

    def _is_complaint(self, text: str) -> bool:
        """Whether ``text`` holds a complaint keyword, or an inflected form of it, as a whole word
        (any case): what ``\\b(keyword form)\\b`` matches in the lowercased text."""
        low = text.lower()
        search = self._complaint.search  # type: ignore[union-attr]
        m = search(low)
        while m is not None:
            start = m.start()
            # ``\\b`` before the match: a word character on exactly one side
            if start == 0 or _is_word(low[start - 1]) != _is_word(low[start]):
                if start != 0 or _is_word(low[0]):
                    return True
            m = search(low, start + 1)
        return False

    def _bad(self, rating) -> bool:
        o: UnhappyOptions = self.options  # type: ignore[assignment]
        return rating.bad or (o.bad_score is not None and rating.score is not None and rating.score <= o.bad_score)

    def assess(self, history: History, now: datetime) -> Assessment:
        o: UnhappyOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        ts_now = now.timestamp()
        if history.subject.startswith("customer:"):
            bad = [r for r in history.ratings
                   if not r.conversation_id and r.created_at is not None and self._bad(r)
                   and record_in_scope(o.scope, r.source, history)]
            if bad:
                stages = self.stage_times(o.stages, o.target, o.breach_severity)
                touches = touch_times(history)
                for r in bad:
                    self._occurrence(out, history, f"rating:{r.source}:{r.external_id}", r.created_at.timestamp(),
                                     touches, stages, ts_now, None, f"bad rating ({_score(r)}) {r.comment!r}".strip())
            return out
        complaint = self._complaint
        ratings = history.grouped("ratings")
        messages = history.grouped("messages")
        for conv in history.conversations:
            if not in_scope(o.scope, conv, history):
                continue
            key = (conv.source, conv.external_id)
            # the occurrences first: most conversations have none, and then no clock is needed
            found: list[tuple[str, float, str]] = []
            for r in ratings.get(key, ()):
                if r.created_at is not None and self._bad(r):
                    found.append((f"rating:{r.source}:{r.external_id}", r.created_at.timestamp(),
                                  f"bad rating ({_score(r)})"))
            conv_messages = messages.get(key, ())
            if complaint is not None:
                # the first complaint nobody followed up: those before the last touch were (walking
                # back from the newest message, undated ones skipped)
                touches = conversation_touches(history, key)
                last_touch = touches[-1] if touches else None
                open_complaint = None
                for m in reversed(conv_messages):
                    if m.created_at is None:
                        continue
                    at = m.created_at.timestamp()
                    if last_touch is not None and at < last_touch:
                        break
                    if is_inquiry(m) and self._is_complaint(m.body):
                        open_complaint = (f"complaint:{m.external_id}", at, "complaint")
                if open_complaint is not None:
                    found.append(open_complaint)
            if o.complaint_tags and set(conv.tags).intersection(o.complaint_tags):
                first = next((m for m in conv_messages if m.created_at is not None and is_inquiry(m)), None)
                at = first.created_at if first is not None else conv.created_at
                if at is not None:
                    found.append(("complaint-tag", at.timestamp(), "conversation tagged as a complaint"))
            if not found:
                continue
            touches = conversation_touches(history, key)
            clock = self.clock(conversation_pauses(history, conv, o.pause_on), conv)
            stages = self.stage_times(o.stages, o.target, o.breach_severity)
            for occurrence, start, what in found:
                self._occurrence(out, history, occurrence, start, touches, stages, ts_now, conv, what, clock)
        return out

    def _occurrence(self, out, history, occurrence, start, touches, stages, now, conv, what, clock=None) -> None:
        if start > now or any(t > start for t in touches):
            return
        o: UnhappyOptions = self.options  # type: ignore[assignment]
        clock = clock or self.clock(None, conv)
        self.staged(out, history=history, occurrence=occurrence, start=start, target=o.target, stages=stages,
                    clock=clock, now=now, conversation=conv,
                    summary=lambda: (f"{what}: no follow-up from a person since {self.moment(start, clock.calendar)} "
                                     f"(target {self.span(o.target, clock.calendar)})"),
                    explain={"occurrence": what})


def _is_word(ch: str) -> bool:
    """A character ``re``'s ``\\w`` matches in a str pattern."""
    return ch.isalnum() or ch == "_"


def _score(rating) -> str:
    return "bad" if rating.score is None else f"score {rating.score:.2f}"


@careplug.hookimpl
def careplug_register_rules(register):
    register(Unhappy)
