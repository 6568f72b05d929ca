"""A seeded, deterministic synthetic customer history, streamed.

``generate(conversations, seed=..., now=...)`` yields normalized records (``careplug.model``) for
a company served through up to three CRMs: accounts, agents and customers first, then each
conversation followed by its messages, events, ratings and tasks. The same arguments always give
the same records, in the same order. Memory does not grow with ``conversations``: people and
accounts are derived from their index (their own seeded generator), never kept in a table.

What the history holds, so every care rule has something to find:

- people spread over the sources; some appear in two or three CRMs with the same email in a
  different case, or the same phone number (identity resolution must make them one customer);
- accounts with tiers, some ``key``/``enterprise`` accounts that went quiet (no contact for weeks);
- agents in teams with managers; every channel (email, phone with missed calls and voicemail,
  chat, social, sms, web form); office-hours and weekend arrivals in several time zones;
- agent replies with promises ("I'll get back to you tomorrow"), some kept and some broken;
  reassignments between teams; pending and on-hold periods; good and bad ratings, some followed
  up; tasks; leads with and without a response;
- conversations still waiting for a reply at ``now``: every step that would happen after ``now``
  is cut off, so recent conversations are naturally unanswered, mid-promise or on hold.

``write_files(directory, conversations, seed=...)`` writes the same history as a ``files`` source
export, one sub-folder per source (``directory/zendesk/conversations.jsonl``, ...).
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..model import (
    Account,
    Agent,
    AuthorRole,
    Channel,
    Conversation,
    Customer,
    Direction,
    Event,
    EventKind,
    Message,
    Priority,
    Rating,
    Record,
    Status,
    Task,
)

__all__ = ["generate", "generate_for_source", "write_files", "DEFAULT_SOURCES", "FILE_KINDS"]

DEFAULT_SOURCES: tuple[str, ...] = ("zendesk", "salesforce", "hubspot")

#: the record kinds of a files export, in the order a sync reads them (parents before children)
FILE_KINDS: tuple[str, ...] = ("accounts", "agents", "customers", "conversations", "messages", "events",
                               "ratings", "tasks")

TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Tokyo",
              "Australia/Sydney", "America/Sao_Paulo")
TEAMS = ("support", "billing", "technical", "sales", "success")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus",
         "Radia", "John", "Katherine", "Tim", "Hedy", "Dennis", "Sophie", "Yukihiro", "Anita", "Guido",
         "Karen", "Niklaus", "Shafi", "Leslie", "Ivan", "Mary", "Bjarne", "Jean", "Carlos", "Amara")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
        "Torvalds", "Perlman", "McCarthy", "Johnson", "Berners-Lee", "Lamarr", "Ritchie", "Wilson",
        "Matsumoto", "Borg", "van Rossum", "Sparck Jones", "Wirth", "Goldwasser", "Lamport", "Sutherland",
        "Shaw", "Stroustrup", "Sammet", "Silva", "Okafor")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell",
             "Cyberdyne", "Soylent", "Vandelay", "Massive Dynamic", "Aperture", "Oscorp", "Pied Piper")
SUFFIXES = ("Ltd", "GmbH", "Inc", "Labs", "Group", "Systems", "Foods", "Logistics")
TOPICS = (("billing", "Invoice shows the wrong amount"), ("billing", "Refund for double charge"),
          ("technical", "Export to CSV fails"), ("technical", "Cannot log in after password reset"),
          ("technical", "Sync stopped working"), ("support", "How do I add a user?"),
          ("support", "Change the delivery address"), ("sales", "Question about the enterprise plan"),
          ("success", "Onboarding for the new team"), ("billing", "Update payment method"),
          ("technical", "App crashes on start"), ("support", "Order has not arrived"))
CHANNEL_WEIGHTS = ((Channel.EMAIL, 35), (Channel.PHONE, 15), (Channel.CHAT, 14), (Channel.SOCIAL, 9),
                   (Channel.SMS, 8), (Channel.WEB_FORM, 19))
PROMISES = (("I'll get back to you tomorrow.", 1), ("We'll call you by Friday.", 4),
            ("I will follow up within 24 hours.", 1), ("Let me check with the team and get back to you "
                                                       "by end of day.", 0),
            ("I'll send you the corrected invoice on Monday.", 5), ("We'll have an answer for you in two "
                                                                    "days.", 2))
SOCIAL_NETWORKS = ("twitter", "facebook", "instagram", "linkedin")


# --- identities per source ------------------------------------------------------------------------


def _ids(source: str) -> dict[str, str]:
    """External id formats of each kind in ``source`` (CRM-looking for the three known ones)."""
    if source == "zendesk":
        return {"account": "{n}", "customer": "{n}", "agent": "{n}", "conversation": "{n}"}
    if source == "salesforce":
        return {"account": "001{n:015d}", "customer": "003{n:015d}", "agent": "005{n:015d}",
                "conversation": "500{n:015d}"}
    if source == "hubspot":
        return {"account": "{n}", "customer": "{n}", "agent": "{n}", "conversation": "{n}"}
    return {"account": "acc-{n}", "customer": "cus-{n}", "agent": "agt-{n}", "conversation": "conv-{n}"}


_OFFSETS = {"account": 50_000_000, "customer": 360_000_000, "agent": 9_000, "conversation": 100_000}


@lru_cache(maxsize=64)
def _formats(source: str) -> dict[str, str]:
    return _ids(source)


def _xid(source: str, kind: str, n: int) -> str:
    return _formats(source)[kind].format(n=_OFFSETS[kind] + n)


# --- the world: people, accounts and agents, derived from their index -----------------------------


@dataclass(frozen=True, slots=True)
class _Account:
    index: int
    name: str
    tier: str
    quiet: bool           # a key account that went quiet: no contact in the last weeks
    domain: str
    value: float


@dataclass(frozen=True, slots=True)
class _Person:
    index: int
    first: str
    last: str
    email: str
    phone: str
    handle: str | None
    account: int
    sources: tuple[str, ...]       # the sources this person is a customer in
    email_cases: tuple[str, ...]   # the email as each source has it (case differs)
    phone_only: tuple[bool, ...]   # in that source, known only by phone (another email)
    tz: str
    lead: bool


class _World:
    """The seeded world of one ``generate`` call: sizes, and people/accounts/agents by index."""

    def __init__(self, conversations: int, seed: int, sources: tuple[str, ...]):
        self.seed = seed
        self.sources = sources
        self.people = max(3, conversations // 3)
        self.accounts = max(2, self.people // 8)
        self.agents_per_team = max(2, min(40, conversations // 1500 + 2))
        self.person = lru_cache(maxsize=512)(self._person)
        self.account = lru_cache(maxsize=256)(self._account)

    def rng(self, *parts: Any) -> random.Random:
        return random.Random(f"{self.seed}|" + "|".join(map(str, parts)))

    def _account(self, i: int) -> _Account:
        r = self.rng("account", i)
        tier = r.choices(("key", "enterprise", "business", "standard"), (5, 10, 30, 55))[0]
        name = f"{r.choice(COMPANIES)} {r.choice(SUFFIXES)} {i}"
        domain = name.lower().replace(" ", "-") + ".example"
        quiet = tier in ("key", "enterprise") and r.random() < 0.4
        value = round(r.uniform(50_000, 900_000) if tier in ("key", "enterprise") else r.uniform(1_000, 40_000), 2)
        return _Account(i, name, tier, quiet, domain, value)

    def _person(self, j: int) -> _Person:
        r = self.rng("person", j)
        first, last = r.choice(FIRST), r.choice(LAST)
        account = r.randrange(self.accounts)
        acc = self.account(account)
        domain = acc.domain if r.random() < 0.7 else r.choice(("mail.example", "inbox.example", "post.example"))
        email = f"{first}.{last}.{j}@{domain}".lower().replace(" ", "")
        phone = f"+1 555 {j // 10000 % 1000:03d} {j % 10000:04d}"
        handle = f"{r.choice(SOCIAL_NETWORKS)}:@{first.lower()}{j}" if r.random() < 0.3 else None
        k = len(self.sources)
        count = 1 if k == 1 else r.choices(range(1, k + 1), (70, 20, 10)[:k])[0]
        srcs = tuple(sorted(r.sample(self.sources, count), key=self.sources.index))
        cases = tuple(_case(email, r) if n else email for n in range(len(srcs)))
        phone_only = tuple(n > 0 and r.random() < 0.25 for n in range(len(srcs)))
        return _Person(j, first, last, email, phone, handle, account, srcs, cases, phone_only,
                       r.choice(TIME_ZONES), r.random() < 0.08)

    def agent_ids(self, source: str, team: str) -> list[str]:
        t = TEAMS.index(team)
        return [_xid(source, "agent", t * 100 + a) for a in range(self.agents_per_team)]

    def manager(self, source: str, team: str) -> str:
        return self.agent_ids(source, team)[0]


def _case(email: str, r: random.Random) -> str:
    """The same email as another CRM stores it: a different case."""
    style = r.randrange(3)
    if style == 0:
        return email.upper()
    if style == 1:
        local, _, domain = email.partition("@")
        return local.title() + "@" + domain.upper()
    return email.capitalize()


# --- time -----------------------------------------------------------------------------------------


def _arrival(r: random.Random, now: datetime, days: int, tz: str, *, oldest: float = 0.0) -> datetime:
    """When a customer writes: mostly weekday office hours in their own time zone, some evenings
    and weekends. ``oldest`` (0..1) keeps the time within the oldest part of the window."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    span = days * (1 - oldest)
    back = r.random() ** 1.3 * span + days * oldest     # more recent activity than old
    day = (local_now - timedelta(days=back)).date()
    if day.weekday() >= 5 and r.random() < 0.7:        # fewer weekend arrivals
        day -= timedelta(days=day.weekday() - 4)
    if r.random() < 0.8:
        hour, minute = r.randint(8, 17), r.randrange(60)
    else:
        hour, minute = r.randrange(24), r.randrange(60)
    at = datetime(day.year, day.month, day.day, hour, minute, r.randrange(60), tzinfo=zone).astimezone(timezone.utc)
    if at > now:
        at -= timedelta(days=1 + int((at - now).total_seconds() // 86400))
    return at


def _reply_delay(r: random.Random, slow: bool = False) -> timedelta:
    x = r.random()
    if slow:
        return timedelta(hours=r.uniform(20, 72))
    if x < 0.55:
        return timedelta(minutes=r.uniform(3, 90))
    if x < 0.85:
        return timedelta(hours=r.uniform(1.5, 8))
    return timedelta(hours=r.uniform(12, 40))


def _promise_due(at: datetime, days_ahead: int) -> datetime:
    due = at + timedelta(days=days_ahead)
    return due.replace(hour=17, minute=0, second=0, microsecond=0) if days_ahead else at + timedelta(hours=8)


# --- one conversation -----------------------------------------------------------------------------


class _Thread:
    """Builds one conversation step by step; a step after ``now`` ends the thread there."""

    def __init__(self, world: _World, r: random.Random, now: datetime, source: str, conv_id: str,
                 customer_id: str, person: _Person, channel: Channel, team: str):
        self.world, self.r, self.now, self.source, self.id = world, r, now, source, conv_id
        self.customer_id, self.person, self.channel, self.team = customer_id, person, channel, team
        self.messages: list[Message] = []
        self.events: list[Event] = []
        self.ratings: list[Rating] = []
        self.tasks: list[Task] = []
        self.status = Status.NEW
        self.assignee: str | None = None
        self.group: str | None = None
        self.at: datetime = now
        self.cut = False
        self.last: datetime | None = None
        self.solved_at: datetime | None = None
        self._n = 0

    def step(self, delay: timedelta) -> bool:
        """Move the clock; False (and the thread ends) when that is past ``now``."""
        if self.cut:
            return False
        at = (self.at + delay).replace(microsecond=0)
        if at > self.now:
            self.cut = True
            return False
        self.at = at
        return True

    def _touch(self) -> None:
        self.last = self.at

    def _nid(self, tag: str) -> str:
        self._n += 1
        return f"{self.id}-{tag}{self._n}"

    def inbound(self, body: str, channel: Channel | None = None, answered: bool | None = None) -> None:
        ch = channel or self.channel
        if ch is Channel.PHONE and answered is None:
            answered = True
        self.messages.append(Message(self.source, self._nid("m"), conversation_id=self.id,
                                     direction=Direction.INBOUND, public=True, author=self.customer_id,
                                     author_role=AuthorRole.CUSTOMER, channel=ch, created_at=self.at, body=body,
                                     answered_call=answered if ch is Channel.PHONE else None))
        self._touch()

    def outbound(self, body: str, *, public: bool = True, role: AuthorRole = AuthorRole.AGENT,
                 channel: Channel | None = None) -> None:
        ch = channel or self.channel
        self.messages.append(Message(self.source, self._nid("m"), conversation_id=self.id,
                                     direction=Direction.OUTBOUND, public=public,
                                     author=self.assignee if role is AuthorRole.AGENT else None,
                                     author_role=role, channel=ch, created_at=self.at, body=body,
                                     answered_call=True if ch is Channel.PHONE and public else None))
        self._touch()

    def event(self, kind: EventKind, to: str | None, actor: str | None = None) -> None:
        frm = {EventKind.STATUS: self.status.value, EventKind.GROUP: self.group,
               EventKind.ASSIGNEE: self.assignee}.get(kind)
        self.events.append(Event(self.source, self._nid("e"), conversation_id=self.id, type=kind, from_value=frm,
                                 to_value=to, actor=actor or self.assignee, created_at=self.at))
        if kind is EventKind.STATUS and to is not None:
            self.status = Status(to)
            if self.status.is_done:
                self.solved_at = self.at
        elif kind is EventKind.GROUP:
            self.group = to
        elif kind is EventKind.ASSIGNEE:
            self.assignee = to
        self._touch()

    def set_status(self, status: Status) -> None:
        if self.status is not status:
            self.event(EventKind.STATUS, status.value)

    def assign(self, team: str) -> None:
        agents = self.world.agent_ids(self.source, team)
        agent = agents[1 + self.r.randrange(len(agents) - 1)] if len(agents) > 1 else agents[0]
        if self.group != team:
            self.event(EventKind.GROUP, team)
        self.event(EventKind.ASSIGNEE, agent)

    def task(self, subject: str, kind: str, due: datetime, done_at: datetime | None) -> None:
        due = due.replace(microsecond=0)
        done_at = done_at.replace(microsecond=0) if done_at is not None else None
        done = done_at is not None and done_at <= self.now
        self.tasks.append(Task(self.source, self._nid("t"), subject=subject, owner=self.assignee,
                               conversation_id=self.id, customer_id=self.customer_id, type=kind, due_at=due,
                               done=done, completed_at=done_at if done else None, created_at=self.at,
                               updated_at=done_at if done else self.at))

    def rate(self, bad: bool, comment: str) -> None:
        score = self.r.choice((0.0, 0.25)) if bad else self.r.choice((0.75, 1.0))
        self.ratings.append(Rating(self.source, self._nid("r"), conversation_id=self.id,
                                   customer_id=self.customer_id, score=score, bad=bad, comment=comment,
                                   created_at=self.at))
        self._touch()


def _opening(t: _Thread, topic: str) -> None:
    p = t.person
    if t.channel is Channel.PHONE:
        r = t.r.random()
        if r < 0.25:
            t.inbound(f"Missed call from {p.phone}.", answered=False)
        elif r < 0.45:
            t.inbound(f"Voicemail from {p.first} {p.last}: \"Hi, it's {p.first}, about: {topic}. Please call me "
                      f"back on {p.phone}.\"", answered=False)
        else:
            t.inbound(f"Call from {p.first} ({t.r.randint(2, 14)} min): {topic}.", answered=True)
    elif t.channel is Channel.SOCIAL:
        t.inbound(f"@support {topic.lower()} — is anyone there?")
    elif t.channel is Channel.SMS:
        t.inbound(f"Hi, {topic.lower()}. Can someone help? - {p.first}")
    elif t.channel is Channel.WEB_FORM:
        t.inbound(f"Web form: {topic}. Name: {p.first} {p.last}. Email: {p.email}.")
    elif t.channel is Channel.CHAT:
        t.inbound(f"Hello, {topic.lower()}.")
    else:
        t.inbound(f"Hello,\n\n{topic}. Could you please look into it?\n\nThanks,\n{p.first}")


def _answer(t: _Thread, topic: str) -> str:
    return t.r.choice((f"Hi {t.person.first}, thanks for reaching out about \"{topic.lower()}\". I've fixed it on "
                       f"our side; it should work now.",
                       f"Hi {t.person.first}, sorry for the trouble. This is sorted now.",
                       f"Thanks {t.person.first}! Here is how to do it: Settings → Team → Invite.",
                       f"Hi {t.person.first}, I called you back and we solved it together."))


def _first_touch(t: _Thread, slow: bool = False) -> bool:
    """Assignment and the first agent reply; False when ``now`` comes first."""
    if not t.step(timedelta(minutes=t.r.uniform(1, 30))):
        return False
    t.assign(t.team)
    if t.channel in (Channel.EMAIL, Channel.WEB_FORM) and t.r.random() < 0.35:
        t.outbound("Thanks for contacting us! We received your request and will reply soon.", role=AuthorRole.BOT)
    return t.step(_reply_delay(t.r, slow))


def _scenario(t: _Thread, scenario: str, topic: str) -> None:
    r = t.r
    if scenario == "unanswered":
        if t.step(timedelta(minutes=r.uniform(1, 10))) and r.random() < 0.5:
            t.outbound("Thanks for contacting us! We received your request.", role=AuthorRole.BOT)
        if r.random() < 0.4 and t.step(timedelta(hours=r.uniform(20, 60))):
            t.inbound("Hello? I am still waiting for an answer.", channel=r.choice((t.channel, Channel.SOCIAL)))
        return
    if scenario == "lead":
        if r.random() < 0.45:
            return                                   # a lead nobody answered
        if _first_touch(t, slow=r.random() < 0.3):
            t.outbound(f"Hi {t.person.first}, thanks for your interest! When would suit you for a short call?")
            if t.step(timedelta(hours=r.uniform(2, 30))):
                t.inbound("Thursday afternoon works for me.")
                if t.step(_reply_delay(r)):
                    t.task("Intro call", "call", t.at + timedelta(days=2), t.at + timedelta(days=2, hours=1)
                           if r.random() < 0.7 else None)
                    t.outbound("Great, I've booked Thursday at 3pm.")
        return
    if not _first_touch(t, slow=scenario == "slow"):
        return
    if scenario == "run_around":
        for hop in range(r.randint(2, 4)):
            t.outbound(r.choice(("This is not our department, moving it on.", "Wrong team, reassigning.",
                                 "Passing to another team.")), public=False)
            team = r.choice([x for x in TEAMS if x != t.group])
            t.assign(team)
            if hop == 0 and r.random() < 0.5:
                t.outbound("We're passing your request to the right team.")
            if not t.step(timedelta(hours=r.uniform(4, 40))):
                return
            if r.random() < 0.4:
                t.inbound("Why do I keep being passed around? Nobody answers my question.")
                if not t.step(timedelta(hours=r.uniform(1, 20))):
                    return
        if r.random() < 0.6:
            t.outbound(_answer(t, topic))
            if t.step(timedelta(hours=r.uniform(1, 48))):
                _solve(t, bad_odds=0.6)
        return
    if scenario in ("promise_kept", "promise_broken"):
        text, days_ahead = r.choice(PROMISES)
        t.outbound(f"Hi {t.person.first}, thanks — I need to check this with our {r.choice(TEAMS)} team. {text}")
        due = _promise_due(t.at, days_ahead)
        kept = scenario == "promise_kept"
        if r.random() < 0.5:
            t.task(f"Follow up: {topic}", "todo", due, (t.at + (due - t.at) * r.uniform(0.3, 0.9)) if kept else None)
        if kept:
            if t.step((due - t.at) * r.uniform(0.3, 0.9)):
                t.outbound(f"As promised, an update: {_answer(t, topic)}")
                if t.step(timedelta(hours=r.uniform(1, 48))):
                    _solve(t, bad_odds=0.1)
            return
        if t.step(due - t.at + timedelta(hours=r.uniform(6, 48))):
            t.inbound("You said you'd get back to me — any update?", channel=r.choice((t.channel, Channel.EMAIL)))
            if r.random() < 0.5 and t.step(timedelta(days=r.uniform(1, 4))):
                t.outbound(f"Sorry for the delay. {_answer(t, topic)}")
                if t.step(timedelta(hours=r.uniform(2, 48))):
                    _solve(t, bad_odds=0.6)
        return
    if scenario == "on_hold":
        t.outbound("We've escalated this to our logistics partner and will update you as soon as they answer.")
        t.set_status(Status.ON_HOLD)
        if t.step(timedelta(days=r.uniform(1, 6))):
            t.set_status(Status.OPEN)
            t.outbound(f"Our partner got back to us. {_answer(t, topic)}")
            if t.step(timedelta(hours=r.uniform(2, 48))):
                _solve(t, bad_odds=0.2)
        return
    if scenario == "pending":
        t.outbound(f"Hi {t.person.first}, could you send us a screenshot of the error?")
        t.set_status(Status.PENDING)
        if t.step(timedelta(hours=r.uniform(2, 96))):
            if r.random() < 0.8:
                t.inbound("Here is the screenshot.")
                t.set_status(Status.OPEN)
                if t.step(_reply_delay(r)):
                    t.outbound(_answer(t, topic))
                    if t.step(timedelta(hours=r.uniform(2, 48))):
                        _solve(t, bad_odds=0.15)
            else:
                _solve(t, bad_odds=0.3)
        return
    # normal, quick, slow
    if t.channel is Channel.PHONE and t.messages[0].answered_call is False:
        t.task(f"Call back {t.person.first} {t.person.last}", "call", t.at + timedelta(hours=4),
               t.at + timedelta(minutes=r.uniform(5, 200)) if r.random() < 0.75 else None)
        t.outbound(f"Called {t.person.first} back: {topic.lower()} sorted.", channel=Channel.PHONE)
    else:
        t.outbound(_answer(t, topic))
    if scenario == "normal" and r.random() < 0.5 and t.step(timedelta(hours=r.uniform(1, 30))):
        t.inbound("Thanks, one more question: does this also apply to my colleague's account?")
        if not t.step(_reply_delay(r)):
            return
        t.outbound("Yes, it does. Anything else I can help with?")
    if t.step(timedelta(hours=r.uniform(1, 72))):
        _solve(t, bad_odds=0.25 if scenario == "slow" else 0.1)


def _solve(t: _Thread, bad_odds: float) -> None:
    r = t.r
    t.set_status(Status.SOLVED)
    if r.random() < 0.3 and t.step(timedelta(hours=r.uniform(1, 30))):
        bad = r.random() < bad_odds
        t.rate(bad, r.choice(("Took far too long.", "Nobody listened.", "I had to explain it three times."))
               if bad else r.choice(("Quick and friendly, thanks!", "Great help.", "")))
        if bad and r.random() < 0.5 and t.step(timedelta(hours=r.uniform(2, 30))):
            t.outbound(f"Hi {t.person.first}, I'm sorry we let you down. I'd like to make this right — "
                       f"I'll call you today.")
            t.task("Call back after a bad rating", "call", t.at + timedelta(hours=6),
                   t.at + timedelta(hours=r.uniform(1, 5)))
    if r.random() < 0.5 and t.step(timedelta(days=r.uniform(2, 5))):
        t.set_status(Status.CLOSED)


SCENARIOS = (("normal", 36), ("quick", 14), ("slow", 6), ("promise_kept", 9), ("promise_broken", 7),
             ("run_around", 7), ("unanswered", 8), ("on_hold", 5), ("pending", 8))


def _conversation(world: _World, c: int, now: datetime, days: int) -> list[Record]:
    r = world.rng("conversation", c)
    j = int(world.people * r.random() ** 1.6)             # a few people write much more than others
    person = world.person(j)
    k = r.randrange(len(person.sources))
    source = person.sources[k]
    acc = world.account(person.account)
    conv_id = _xid(source, "conversation", c)
    customer_id = _xid(source, "customer", j)
    if person.lead and r.random() < 0.7:
        scenario, channel, topic, team = "lead", Channel.WEB_FORM, "Request a demo", "sales"
    else:
        scenario = r.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]
        channel = r.choices([ch for ch, _ in CHANNEL_WEIGHTS], [w for _, w in CHANNEL_WEIGHTS])[0]
        team, topic = r.choice(TOPICS)
    oldest = 0.5 if acc.quiet and days >= 10 else 0.0
    created = _arrival(r, now, days, person.tz, oldest=oldest)
    t = _Thread(world, r, now, source, conv_id, customer_id, person, channel, team)
    t.at = created
    _opening(t, topic)
    _scenario(t, scenario, topic)
    priority = r.choices(list(Priority), (15, 60, 18, 7))[0]
    if acc.tier in ("key", "enterprise") and priority is Priority.NORMAL and r.random() < 0.5:
        priority = Priority.HIGH
    status = t.status if t.status is not Status.NEW or t.assignee is None else Status.OPEN
    tags = [scenario.replace("_", "-")] if scenario in ("lead",) else []
    if acc.tier in ("key", "enterprise"):
        tags.append("vip")
    conv = Conversation(source, conv_id, customer_id=customer_id, account_id=_xid(source, "account", acc.index),
                        channel=channel, status=status, priority=priority, subject=topic, assignee=t.assignee,
                        group=t.group, tags=tags, created_at=created, updated_at=t.last or created,
                        solved_at=t.solved_at, url=None)
    return [conv, *t.messages, *t.events, *t.ratings, *t.tasks]


# --- the streams ------------------------------------------------------------------------------------


def _accounts(world: _World, source: str) -> Iterator[Account]:
    for i in range(world.accounts):
        a = world.account(i)
        team = "success" if a.tier in ("key", "enterprise") else "sales"
        yield Account(source, _xid(source, "account", i), name=a.name, tier=a.tier,
                      segment="enterprise" if a.value > 100_000 else "smb", value=a.value,
                      owner=world.agent_ids(source, team)[1 % world.agents_per_team], domains=[a.domain],
                      tags=["quiet-risk"] if a.quiet else [], created_at=None, updated_at=None)


def _agents(world: _World, source: str) -> Iterator[Agent]:
    for team in TEAMS:
        ids = world.agent_ids(source, team)
        for a, xid in enumerate(ids):
            r = world.rng("agent", source, team, a)
            first, last = r.choice(FIRST), r.choice(LAST)
            yield Agent(source, xid, name=f"{first} {last}" + (" (manager)" if a == 0 else ""),
                        email=f"{first}.{last}.{team}{a}@support.example".lower().replace(" ", ""),
                        role=AuthorRole.AGENT, groups=[team], manager=None if a == 0 else ids[0],
                        time_zone=r.choice(TIME_ZONES[:4]))


def _customers(world: _World, now: datetime, days: int) -> Iterator[Customer]:
    created = now - timedelta(days=days + 30)
    for j in range(world.people):
        p = world.person(j)
        for n, source in enumerate(p.sources):
            email = f"{p.first}.{p.last}.{j}@other.example".lower() if p.phone_only[n] else p.email_cases[n]
            acc = world.account(p.account)
            yield Customer(source, _xid(source, "customer", j), name=f"{p.first} {p.last}", emails=[email],
                           phones=[p.phone] if (n == 0 or p.phone_only[n] or j % 3 == 0) else [],
                           handles=[p.handle] if p.handle and n == 0 else [],
                           account_id=_xid(source, "account", p.account), tier=acc.tier,
                           segment="enterprise" if acc.tier in ("key", "enterprise") else "smb",
                           owner=None, is_lead=p.lead, tags=["lead"] if p.lead else [],
                           created_at=created, updated_at=created)


def generate(conversations: int, *, seed: int = 0, now: datetime | None = None, days: int = 90,
             sources: Iterable[str] = DEFAULT_SOURCES) -> Iterator[Record]:
    """Yield a synthetic history of ``conversations`` conversations, deterministically.

    ``now`` (aware; naive is UTC) is the moment the history ends: nothing happens after it, and
    conversations of the last days are still open. None means the current time rounded down to
    the minute (so the demo has findings today); pass it for reproducible records.
    ``days`` is how far back the history goes. Records come parents first: every account, agent
    and customer of every source, then conversation by conversation with its children.
    """
    srcs = tuple(sources)
    if not srcs:
        raise ValueError("generate() needs at least one source name")
    if conversations < 0 or days < 1:
        raise ValueError("conversations must be >= 0 and days >= 1")
    now = (datetime.now(timezone.utc).replace(second=0, microsecond=0) if now is None
           else now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc))
    world = _World(conversations, seed, srcs)
    for source in srcs:
        yield from _accounts(world, source)
    for source in srcs:
        yield from _agents(world, source)
    yield from _customers(world, now, days)
    for c in range(conversations):
        yield from _conversation(world, c, now, days)


def generate_for_source(source: str, conversations: int, **kw: Any) -> Iterator[Record]:
    """Only the records of one source from ``generate(conversations, **kw)``: for seeding a CRM
    fake. The same arguments give exactly the records of that source in the full history."""
    return (r for r in generate(conversations, **kw) if r.source == source)


# --- the files export -------------------------------------------------------------------------------


_KIND_FILE = {"account": "accounts", "agent": "agents", "customer": "customers", "conversation": "conversations",
              "message": "messages", "event": "events", "rating": "ratings", "task": "tasks"}


def record_row(record: Record) -> dict[str, Any]:
    """One record as a ``files`` source row: ``id`` for the external id, every other field by its
    model name (``source`` is left out: the configured source name supplies it), enums as their
    values, timestamps as ISO 8601 with offset, None and empty lists left out."""
    row: dict[str, Any] = {"id": record.external_id}
    for f in fields(record):
        if f.name in ("source", "external_id"):
            continue
        value = getattr(record, f.name)
        if value is None or value == [] or value == "":
            continue
        if hasattr(value, "value") and not isinstance(value, (int, float)):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        row[f.name] = value
    return row


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _columns(kind: str) -> list[str]:
    from ..model import RECORD_TYPES

    return ["id"] + [f.name for f in fields(RECORD_TYPES[kind]) if f.name not in ("source", "external_id")]


def write_files(directory: str | os.PathLike[str], conversations: int, *, seed: int = 0,
                now: datetime | None = None, days: int = 90, sources: Iterable[str] = DEFAULT_SOURCES,
                format: str = "jsonl") -> dict[str, Any]:
    """Write ``generate(...)`` as a ``files`` source export and return counts.

    One sub-folder per source (``directory/<source>/``), each a complete ``files`` source path
    with one file per record kind (``customers.jsonl``, ``messages.jsonl``, ...; ``.csv`` with
    ``format="csv"``). Existing files of those names are replaced. Streams: memory does not grow
    with ``conversations``. Returns ``{"conversations": n, "records": {kind: n}, "sources":
    {source: folder}}``.
    """
    if format not in ("jsonl", "csv"):
        raise ValueError("format must be 'jsonl' or 'csv'")
    srcs = tuple(sources)
    if not srcs or conversations < 0 or days < 1:     # checked before any folder is made
        raise ValueError("write_files() needs a source name, conversations >= 0 and days >= 1")
    root = os.fspath(directory)
    handles: dict[tuple[str, str], Any] = {}
    writers: dict[tuple[str, str], Any] = {}
    counts: dict[str, int] = {}
    folders = {s: os.path.join(root, s) for s in srcs}
    try:
        for source, folder in folders.items():
            os.makedirs(folder, exist_ok=True)
            for kind, name in _KIND_FILE.items():
                f = open(os.path.join(folder, f"{name}.{format}"), "w", encoding="utf-8", newline="")
                handles[(source, kind)] = f
                if format == "csv":
                    w = csv.DictWriter(f, fieldnames=_columns(kind), lineterminator="\n")
                    w.writeheader()
                    writers[(source, kind)] = w
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for record in generate(conversations, seed=seed, now=now, days=days, sources=srcs):
            key = (record.source, record.kind)
            row = record_row(record)
            if format == "csv":
                writers[key].writerow({k: _csv_cell(v) for k, v in row.items()})
            else:
                handles[key].write(dumps(row) + "\n")
            counts[record.kind] = counts.get(record.kind, 0) + 1
    finally:
        for f in handles.values():
            f.close()
    return {"conversations": conversations, "records": counts, "sources": folders}
