"""Commitments: find the promises an agent makes in a message, and when each falls due.

``find_commitments(text, sent_at, tz=..., calendar=...)`` splits a message into sentences and keeps
those that commit the team to act for the customer ("I'll get back to you tomorrow", "we'll call
you by Friday", "expect an update within 24 hours", "let me check with the team and follow up").
Who commits may be the agent ("I'll"), the team ("we're sending it today"), anyone of it named by
role or name ("our lineman will install it", "Marcus will remote in"), or the thing done ("the link
will be sent by Monday", "your car will be ready by 5pm"); the last resort (``_Future``) takes anyone
or anything but the customer that *will* do or be done, unless the verb forecasts, describes, costs
or needs ("prices will rise", "it will take 3 days", "the office will be closed"). It drops what
only looks like one:

- questions and offers ("Would you like me to call you tomorrow?");
- negations ("I can't promise anything", "we will not refund...");
- conditionals ("if you send the logs we will...", "once you confirm..., we'll...");
- past tense and reported promises ("as promised, here is...", "I told you we would...");
- requests to the customer ("please get back to us by Friday", "let me know tomorrow");
- absences ("I'll be out of office tomorrow", "I'll be away tomorrow", "I'll be on leave next week").

The reading is in parts: ``sentences`` (a message's sentences, quoted history and automated
notices left out), ``words`` (the vocabulary), ``markers`` (what makes a clause commit), ``clauses``
(what takes it back, and where a second promise starts) and ``due`` (when it falls due).

These are looked for in the clause that commits, not the whole sentence: conditions in its
independent clause (split at ";", a spaced dash, "but", "however") and conditions on it at the edges
of its neighbours ("..., but only if the payment clears", "If the logs arrive today; we'll..."),
negations and past tense in its comma clause. "As discussed on the phone, I'll call you tomorrow" and
"I'll get back to you tomorrow; if you have questions, just reply here" commit; "if you send the
logs, we'll..." does not. An absence is taken out of the clause before it is read: one that is the
whole promise leaves nothing ("I'll be away tomorrow"), one beside a promise leaves the promise ("I'll
finish it today since I'll be out tomorrow": today); "be out ... to <verb>" is a visit and stays.
The due time is read from the committing clause too ("I'm out tomorrow, but I'll call you on
Friday": Friday), from the whole sentence, absences left out, when that clause names none ("Tomorrow
morning, I'll call you"), and on the day the sentence names when that clause names a clock time
alone ("Tomorrow, I'll call you at 3pm": tomorrow at 15:00).

Due times are read relative to the message's time *in the team's time zone* (``tz``); calendar
dates ("March 12", "10 March") are parsed with ``dateparser``. The conventions, so a due time is a
time a customer would agree with:

- a day without a time ("tomorrow", "by Friday", "on 10 March", "in 3 days") is due at the end of
  that business day, ``end_of_day`` (17:00 by default);
- a calendar date is its next occurrence on or after the day sent ("by March 2" sent on 2 March is
  due that day; sent on 3 March, next year);
- "morning" is due at noon, "first thing" at 10:00, "afternoon" at the end of day, "evening" 18:00;
- "today", "end of day", "EOD", "close of business" are due at the end of today;
- "this week", "end of the week", "before the weekend": Friday at the end of day; "next week": Friday
  of next week; "early next week": Tuesday of next week;
- a weekday ("on Monday") is its next occurrence after today; "next Friday" is Friday of next week;
- hours and minutes ("within 24 hours", "within 24h", "in 30 minutes", "in half an hour", "within the
  hour") are exact;
- "N business days" counts open days of ``calendar`` (Mon-Fri when none is given);
- a clock time alone ("at 3pm") is today, or tomorrow when it has passed.

A commitment without any of these is *undated* (``due_at`` None): the broken-promise rule gives it
its configured default. So is one whose phrase resolves to a time at or before the message was
sent ("I'll update you later today" at 17:30, "I'll send the fix tonight" at 19:00): the agent
meant "soon", not "already late", so ``find_commitments`` keeps the phrase but no due time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..calendar import BusinessCalendar
from .clauses import absence_context, commitment_clause, commitment_parts, first_promise, without_absences
from .due import due_time, read_due
from .sentences import AUTOMATED, norm, split_sentences, unquoted

__all__ = ["Commitment", "find_commitments", "is_commitment", "due_time", "committing_sentences"]


@dataclass(frozen=True, slots=True)
class Commitment:
    sentence: str
    due_at: datetime | None        # aware, in the team's zone; None: undated
    phrase: str | None = None      # the words the due time was read from

    @property
    def dated(self) -> bool:
        return self.due_at is not None


def is_commitment(sentence: str) -> bool:
    return commitment_clause(sentence or "") is not None


def find_commitments(text: str, sent_at: datetime, *, tz: ZoneInfo | str = "UTC",
                     calendar: BusinessCalendar | None = None, end_of_day: time = time(17)) -> list[Commitment]:
    """The commitments in a message, in order, each with its due time (None when undated)."""
    out: list[Commitment] = []
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    for sentence, clause, context, lead in _committing(text or ""):
        # the due time is read from the committing clause ("I'm out tomorrow, but I'll call you on
        # Friday": Friday); when that names none, from the whole sentence, absences taken out ("Give me
        # 30 minutes and I'll...", "Tomorrow morning, I'll call you"); when it names a time of day only,
        # on the day that leads to it ("Tomorrow, I'll call you at 3pm": tomorrow at 15:00; not "Sorry I
        # missed your call on Friday, I'll call you at 3pm", nor a day in another independent clause)
        first = first_promise(clause)
        due, phrase, kind = read_due(first, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        if phrase is None and first != clause:
            due, phrase, kind = read_due(clause, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        if phrase is None and clause != context:
            due, phrase, _kind = read_due(context, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        elif kind == "clock" and due is not None and lead:
            day, words, day_kind = read_due(lead, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
            if day_kind == "day" and day is not None and _LEADING_DAY.match(lead) and lead.endswith(words or "\0"):
                due = datetime.combine(day.astimezone(zone).date(), due.astimezone(zone).time(), tzinfo=zone)
                phrase = f"{words} {phrase}"
        if due is not None and due <= sent_at:
            due = None                      # passed when said ("later today" after hours): undated
        out.append(Commitment(sentence, due, phrase))
    return out


# a lead that is only a day ("tomorrow", "on friday", "next monday"), perhaps after "so" or "and"
_LEADING_DAY = re.compile(r"^(?:(?:so|and|then|ok|okay)\s+)?(?:on\s+|this\s+|next\s+)?\w+(?:\s+\w+)?$")


@lru_cache(maxsize=65536)
def _committing(text: str) -> tuple[tuple[str, str, str], ...]:
    """(sentence, committing clause, the sentence as read for a due time) for each sentence of ``text``
    that makes a commitment (the part of the reading that does not depend on when the message was
    sent: memoized per text, as agents reuse macros)."""
    out = []
    if AUTOMATED.search(text):
        return ()                           # an automated notice promises nothing of a person's
    for sentence in split_sentences(unquoted(text)):
        if sentence:
            parts = commitment_parts(sentence)
            if parts is not None:
                clause, lead = parts
                out.append((sentence, clause, without_absences(norm(sentence), absence_context).strip(), lead))
    return tuple(out)


def committing_sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text`` that make a commitment."""
    return tuple(item[0] for item in _committing(text))
