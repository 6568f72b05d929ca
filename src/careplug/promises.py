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
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import dateparser

from .calendar import BusinessCalendar

__all__ = ["Commitment", "find_commitments", "is_commitment", "due_time"]


@dataclass(frozen=True, slots=True)
class Commitment:
    sentence: str
    due_at: datetime | None        # aware, in the team's zone; None: undated
    phrase: str | None = None      # the words the due time was read from

    @property
    def dated(self) -> bool:
        return self.due_at is not None


# --- detection ----------------------------------------------------------------------------------

# a sentence ends at ".", "!", "?", a line break, or an emoji in chat ("Sorry boss 🙏 Rider will come back")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[\u2600-\u27bf\U0001f300-\U0001faff])\s+")
# a title or abbreviation ends no sentence ("I'll ask Dr. Patel and call you")
_TITLE = re.compile(r"(?:^|\s)(?:dr|mr|mrs|ms|mx|prof)\.$", re.IGNORECASE)
_ABBREVIATION = re.compile(r"(?:^|\s)(?:st|no|vs|approx|dept|ext|ref|e\.g|i\.e|etc|inc|ltd|co)\.$", re.IGNORECASE)
# where the quoted history of an email reply starts: what it quotes is not this message's promise
_QUOTED = re.compile(r"^\s*(?:>|on\s.{1,200}\swrote:\s*$|-{2,}\s*original message\s*-{2,}|from:\s.+\bsent:\s)",
                     re.IGNORECASE | re.MULTILINE)
# a sentence is read in parts: independent clauses (split at ";", a dash, "but", "however"), each in
# comma clauses. A condition governs the whole independent clause it sits in ("If you send the logs,
# we'll..."), not its neighbours ("I'll call you tomorrow; if you have questions, just reply").
_SEGMENT = re.compile(r";|\s[-–—]+\s|\bbut\b|\bhowever\b")
_CLAUSE = re.compile(r",")

# what a colleague or a subjectless "will" commits to do for the customer
_ACTS = (r"call|ring|phone|contact|email|e-mail|message|text|dm|reach|get|follow|send|update|keep|confirm|reply|"
         r"respond|revert|ping|share|arrange|book|schedule|be in touch|be back|come back|let you know|notify|inform|"
         r"write|try|return|come|visit|attend|arrive|drop|pop|bring|deliver|collect|pick up|install|fix|repair|sort|"
         r"review|process|look|chase|investigate|escalate|be there|be with you|be round|be over|be out|swing by|mail|"
         r"post")
# who of the team (or sent by it) a promise can name: "our tech will", "an officer will", "the nurse will"
_STAFF = (r"team|engineers?|specialists?|technicians?|techs?|agents?|colleagues?|manager|supervisor|lead|"
          r"department|staff|experts?|reps?|representatives?|advis[eo]rs?|consultants?|developers?|devs|"
          r"installers?|couriers?|drivers?|officers?|nurses?|doctors?|gp|clinicians?|pharmacists?|therapists?|"
          r"electricians?|plumbers?|contractors?|fitters?|surveyors?|inspectors?|assessors?|adjusters?|"
          r"caseworkers?|case managers?|coordinators?|co-ordinators?|dispatchers?|handyman|locksmiths?|builders?|"
          r"cleaners?|movers?|crew|lads|guys|folks|brokers?|underwriters?|accountants?|solicitors?|lawyers?|paralegals?|"
          r"tutors?|instructors?|coaches|trainers?|registrar|admissions|recruiters?|receptionists?|concierge|"
          r"porters?|partners?|vendors?|suppliers?|carriers?|warehouse|billing|finance|support|helpdesk|"
          r"service desk")

# what someone of the team or sent by it does for the customer ("our lineman will install it")
_SERVICE = (r"call|ring|phone|contact|email|e-mail|message|text|reach out|get back|get in touch|follow up|send|update|"
            r"confirm|reply|respond|revert|arrange|book|schedule|be in touch|come back|come out|come round|come by|"
            r"notify|inform|write|visit|attend|arrive|deliver|collect|pick up|install|fix|repair|review|process|chase|"
            r"investigate|escalate|be there|be with you|be round|be over|be out|swing by|mail|post|patch|replace|"
            r"refund|credit|ship|dispatch|issue|resolve|complete|finish|prepare|file|submit|reconnect|restore|"
            r"inspect|assess|service|unlock|drop off|bring|sort out|take care of|handle|look into|set up|upgrade|"
            r"activate|deploy|reimburse|swap|exchange|reach you|have (?:it|this|that|them|the|your|power|everything)")
# what is done for the customer, said of the thing ("the link will be sent")
_DONE = (r"sent|emailed|e-mailed|mailed|posted|shipped|dispatched|delivered|couriered|enabled|activated|processed|"
         r"refunded|credited|issued|fixed|repaired|replaced|resolved|installed|restored|reconnected|reset|completed|"
         r"scheduled|booked|arranged|collected|picked up|released|approved|reviewed|deployed|applied|reversed|"
         r"corrected|returned|reimbursed|waived|rebooked|reissued|upgraded|sorted|rectified|uploaded|forwarded|"
         r"finali[sz]ed|prepared|ready|done|live|with you|back (?:up|online|on)|in touch|in contact|contacted|"
         r"called|visited|inspected|repaired|cleaned|unlocked|patched")
# a plan in the present progressive ("we're sending", "our tech is swinging by")
_DOING = (r"(?:sending|shipping|dispatching|posting|mailing|couriering|dropping|bringing|delivering|calling|ringing|"
          r"phoning|emailing|texting|pushing|deploying|releasing|rolling out|installing|fixing|repairing|replacing|"
          r"swapping|booking|scheduling|arranging|processing|refunding|crediting|issuing|putting|rebooking|collecting|"
          r"picking up|reconnecting|restoring|upgrading|sorting|finishing|completing|preparing|filing|submitting|"
          r"patching|setting up|getting|doing)\s+(?:out\s+|over\s+|back\s+|across\s+|off\s+|round\s+)?"
          # with what it is done to, not a workload ("we're processing a high volume of requests today")
          r"(?!(?:a|an|the)\s+(?:high|large|huge|lot|number|volume|backlog|few)\b)"
          r"(?:you|u|your|it|this|that|them|these|those|the|an?|out|over|back|round|by)"
          # a visit, not an errand ("popping out for lunch", "heading out")
          r"|coming\s+(?:over|out|round|around|by|back|to you|to your)"
          r"|(?:popping|swinging|heading)\s+(?:over|round|around|by|back to you|to you|to your|in to)")
# states, workloads and feelings in the progressive, not plans
_NOT_DOING = (r"experiencing|having|seeing|expecting|hoping|waiting|looking|closing|moving|going|trying|planning|"
              r"thinking|wondering|running|missing|lacking|struggling|facing|receiving|handling|getting|feeling|"
              r"leaving|working|travell?ing|flying|taking|showing|checking in|writing|reaching|following|sorry|"
              r"investigating|monitoring|reviewing|still|currently|unable")
# the errand of a visit ("to fit it"): the verbs of _VISIT
_VISIT_TO = (r"(?<!due )\bto\s+(?:install|replace|repair|fix|check|inspect|deliver|collect|pick up|set up|service|fit|"
             r"mount|swap|change|connect|reconnect|finish|complete|measure|survey|test|configure|upgrade|sort)\b")
# a time to come, for a plan in the present tense
_WHEN = (r"today|tonight|tomorrow|tomorow|tmrw|tmr|2moro|this (?:morning|afternoon|arvo|evening|week)|next week|"
         r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|weekend|in \d+|in (?:an?|one|two|half an) |within|"
         r"by (?:the )?(?:end|eod|cob|close|\d|mon|tue|wed|thu|fri|sat|sun|noon|tomorrow|tonight|lunch)|eod|cob|"
         r"end of (?:the )?(?:day|week)|later|at \d+(?:[:.]\d\d)?\s*(?:am|pm)?")


class _Needs:
    """A marker pattern searched only in text that holds one of the words it cannot match without
    (most sentences hold none: the search is skipped)."""

    __slots__ = ("needs", "pattern")

    def __init__(self, needs: tuple[str, ...], pattern: str):
        self.needs, self.pattern = needs, re.compile(pattern)

    def search(self, text: str) -> re.Match | None:
        for n in self.needs:
            if n in text:
                return self.pattern.search(text)
        return None

    def match(self, text: str, pos: int = 0) -> re.Match | None:
        for n in self.needs:
            if n in text:
                return self.pattern.match(text, pos)
        return None


class _Future:
    """The last resort of the markers: anyone or anything but the customer that *will* do or be done
    ("compliance will clear it within 24h", "the label will be in your inbox by Wednesday", "a
    replacement will be waiting at the counter") — every verb but those that forecast, describe or
    need ("prices will rise", "it will take 3 days", "the office will be closed", "your card will be
    charged"), and not the customer's own party ("your bank will contact you"). ``start()`` is where
    its subject starts."""

    __slots__ = ()

    class _Found:
        __slots__ = ("_start", "_end")

        def __init__(self, start: int, end: int):
            self._start, self._end = start, end

        def start(self) -> int:
            return self._start

        def end(self) -> int:
            return self._end

    def search(self, text: str, pos: int = 0, limit: int | None = None) -> "_Future._Found | None":
        if "will" not in text and "'ll" not in text and "shall" not in text and "going to" not in text:
            return None
        for m in _FUTURE.finditer(text, pos):
            words = _WORD.findall(text, max(pos, m.start() - 80), m.start()) or [""]
            head = words[-1]                # "" at a clause's start: "our coordinator, melissa, is going to send"
            if head and not any(c.isalpha() for c in head) and not _DETERMINERS.intersection(words[-4:-1]):
                continue                    # "error at 12:00 will retry": not the team; "the refund of $64.95 will"
            if head in _NOT_OURS or head in _FORECASTERS or (len(words) > 1 and words[-2] in ("you", "u")):
                continue
            if len(words) > 1 and (words[-2] in _SUBORDINATE or _REPORTED.intersection(words[-4:-1])):
                continue                    # "before they'll approve"; "the courier says they'll..."
            verb, complement, then = m.group(1), m.group(2) or "", m.group(3) or ""
            if (verb in ("be", "b") or verb in _GENERIC_VERBS) and head.endswith("s") and not head.endswith(
                    ("'s", "ss")) and not _DETERMINERS.intersection(words[-3:-1]):
                continue                    # a generic plural: "refunds will be processed within 5 days"
            if verb in ("be", "b"):
                if complement == "with" and then not in ("you", "u", "your", "ya"):
                    continue                # "the recheck will be with Dr Shah"
                if not (complement in _BE_DONE or (complement.endswith(("ed", "en")) and complement not in _BE_NOTICE)):
                    continue
            elif verb in (_NOT_DONE_BY_PEOPLE if head in _PEOPLE else _NOT_DONE) or (
                    verb == "have" and complement in ("no", "to", "a", "an", "any")):
                continue
            elif len(words) > 1 and words[-2] in ("your", "ur", "yr"):
                continue                    # the customer's own party: "your bank will contact you"
            start = m.start() - len(head)
            for back in (2, 3, 4):          # "our pickup executive", "the duplicate $64.95"
                if len(words) >= back and words[-back] in _DETERMINERS:
                    start = text.rfind(words[-back], pos, start)
                    break
            if limit is not None and start > limit:
                return None
            return _Future._Found(max(start, pos), m.end())
        return None

    def match(self, text: str, pos: int = 0) -> "_Future._Found | None":
        found = self.search(text, pos, limit=pos)
        return found if found is not None and found.start() == pos else None


_FUTURE = re.compile(r"(?:'ll|'s going to|'re going to|'s gonna|\s(?:will|shall|is going to|are going to|is gonna|"
                     r"are gonna))\s+"
                     r"(?:(?:also|then|now|hopefully|definitely|soon|personally|directly)\s+)?"
                     r"(?!not\b|never\b)([a-z]+)(?:\s+([a-z]+))?(?:\s+([a-z]+))?")
_WORD = re.compile(r"[\w$.\-']+")
_DETERMINERS = frozenset({"our", "the", "a", "an", "your", "ur", "yr", "this", "that", "these", "those", "my"})
# subjects that are not the team's: the customer, or what no one promises
_NOT_OURS = frozenset({"you", "u", "ya", "i", "we", "customer", "customers", "client", "clients", "there", "what",
                       "which", "who", "that", "this", "hope", "think", "guess", "sure", "if", "whether", "when",
                       "weather", "rain", "storm", "snow", "traffic", "roads", "price", "prices", "rate", "rates",
                       "fee", "fees", "cost", "costs", "market", "policy", "law", "terms", "offer", "promo",
                       "promotion", "sale", "subscription", "plan", "trial", "card", "membership", "it's", "that's",
                       "app", "system", "website", "site", "portal", "platform", "software", "page", "bot"})
_GENERIC_VERBS = frozenset({"ship", "arrive", "resume", "go", "reach", "stop", "clear", "post", "process"})
_SUBORDINATE = frozenset({"before", "until", "till", "unless", "if", "when", "once", "after", "whether"})
_REPORTED = frozenset({"says", "said", "say", "told", "tells", "reckons", "reckoned", "thinks"})
_FORECASTERS = frozenset({"probably", "likely", "maybe", "perhaps", "possibly", "hopefully"})
# verbs that forecast, describe, cost or need rather than do
_NOT_DONE = frozenset({"need", "needs", "require", "want", "like", "love", "enjoy", "hate", "appreciate", "understand",
                       "notice", "find", "see", "take", "cost", "last", "depend", "vary", "remain", "stay",
                       "continue", "apply", "expire", "lapse", "renew", "increase", "rise", "drop", "fall", "change",
                       "happen", "occur", "affect", "mean", "help", "work", "end", "start", "begin", "open", "close",
                       "show", "appear", "look", "seem", "feel", "sound", "say", "state", "include", "cover",
                       "become", "get", "go", "run", "charge", "bill", "debit", "deduct", "suspend", "lock",
                       "not", "never", "probably", "likely", "also", "only", "still", "just", "always", "usually",
                       "normally", "automatically", "let", "make", "ask", "expect", "receive"})
# a person does what a thing only undergoes ("she's going to run a config review", "he'll help you")
_PEOPLE = frozenset({"he", "she", "they"})
_NOT_DONE_BY_PEOPLE = _NOT_DONE - {"run", "start", "open", "close", "work", "help", "look", "get", "go", "make", "end",
                                   "show", "begin", "change", "apply", "let", "include", "cover", "ask"}
# what a thing "will be" when it is done for the customer ("ready", "with you", "in your inbox")
_BE_DONE = frozenset({"ready", "done", "live", "there", "with", "back", "in", "on", "out", "waiting", "over",
                      "round", "sent", "built", "paid", "put", "set", "delivered", "available", "fixed", "sorted",
                      "up", "able", "arriving", "coming", "dispatched", "shipped", "couriered", "refunded"})
# what a thing "will be" that is a notice, not a promise ("the office will be closed", "you will be charged")
_BE_NOTICE = frozenset({"closed", "charged", "billed", "debited", "suspended", "cancelled", "canceled", "deleted",
                        "required", "asked", "needed", "expected", "affected", "delayed", "impacted", "locked",
                        "disconnected", "terminated", "deducted", "applied", "added", "increased", "reduced",
                        "limited", "restricted", "reviewed", "given", "taken", "used", "shared", "stored",
                        "recorded", "monitored", "forfeited", "void", "voided", "withheld", "rejected", "declined",
                        "denied", "published", "held", "open", "opened"})


_MARKERS = [
    re.compile(r"\b(i|we)\s*('ll|’ll| will| shall|'m going to| am going to|'re going to| are going to|'m gonna|"
               r" am gonna|'re gonna| are gonna| gonna)\b"),
    re.compile(r"^\s*gonna\s+\w+"),                                  # chat shorthand: "gonna check and ..."
    # "ill" for "I'll" in chat, before what an agent does ("ill ping you back"), not "I'm ill"
    re.compile(r"ill(?<=\bill)(?<!'m ill)(?<!am ill)\s+(" + _ACTS + r"|check|look|have|sort|chase|find|fix|do)\b"),
    # an intention with a direction ("I'm aiming to have it set up by Friday")
    _Needs(("aiming",), r"\b(i|we)\s*('m|'re| am| are)\s+aiming\s+to\b"),
    # an expectation of one's own ("I should have the keys for you by tomorrow"), not a regret ("we
    # should have told you")
    _Needs(("should",), r"\b(i|we)\s+should\s+have\s+(it|this|that|them|the|a|an|your|some|something|news)\b"),
    _Needs(("let me",), r"\blet me\b(?!\s+know)"),
    _Needs(("expect",), r"\bexpect\b"),
    _Needs(("you", "u"), r"\b(?:you|u)\s*('ll| should| should be able to| will| can expect| should expect)\s+(hear|receive|get|"
           r"have(?!\s+(?:\w+ed|been|got|gotten|seen|heard|had|sent)\b)|see)\b"),
    _Needs(("some",), r"\b(someone|somebody)\b[\w\s\-]{0,30}?\b(will|'ll)\b"),
    # someone of the team, perhaps named ("my colleague priya will call you")
    _Needs(("will", "'ll"), r"(?:\b(?:our|the|my|your|an?)\s+|^\s*)([\w\-]+\s+){0,3}?(" + _STAFF +
           r"|vets?|[a-z]{3,}(?:ists?|ians?))(\s+[a-z]+)?\s*('ll| will)\b"),
    _Needs(("will", "'ll"), r"\b(they|he|she)\s*('ll| will)\s+(" + _ACTS + "|" + _SERVICE + r"|have\s+(?:it|this|that|them|the|your|"
           r"power|everything|service))\b"),
    _Needs(("will", "'ll"), r"^\s*(will|'ll)\s+(" + _ACTS + r"|check|circle|have\s+(?:it|this|that|them|the|your|all|"
           r"everything|a|an|some))\b"),
    # a chat note without a subject: "be there in 20 min"
    re.compile(r"^\s*(?:(?:will|'ll)\s+)?be\s+(?:there|with you|round|over|back with you)\b"),
    # a plan of one's own in the present progressive with a time to come ("we're now hanging board on
    # Monday"), not a state or a workload ("we're experiencing delays today")
    _Needs(("ing",), r"\b(?:i'm|i am|we're|we are)\s+(?:now\s+|also\s+|just\s+|then\s+)?(?!" + _NOT_DOING +
           r")[a-z]{2,}ing\b(?!\s+(?:a|an|the)\s+(?:high|large|huge|lot|number|volume|backlog|few)\b)"
           r"(?=.*\b(?:" + _WHEN + r")\b)"),
    # a visit in the present tense: "I'm back on site Thursday to fit it"
    re.compile(r"\b(?:i'm|we're|he's|she's|they're)\s+(?:back\s+)?(?:on site|onsite|out|over|round|back|in)\b"
               r"(?=[^.]*" + _VISIT_TO + r")"),
    # a shipment in the present tense: "the sensors ship today", "it goes out tomorrow"
    re.compile(r"\b(?:ships?|dispatch(?:es)?|goes out|go out|leaves?)\s+(?:out\s+)?(?:today|tonight|tomorrow|tmrw|"
               r"first thing|this (?:afternoon|evening|morning|week)|on (?:mon|tue|wed|thu|fri|sat|sun))"),
    _Needs(("will",), r"\b(and|then)\s+will\s+(" + _ACTS + r"|check|let|be)\b"),
    # "and will" with any verb done to the customer or the matter ("and will write to you again")
    _Needs(("will",), r"\b(and|then)\s+will\s+(?!not\b|never\b)[a-z]+\s+(?:to\s+|with\s+)?(?:you|your|u|it|this|"
           r"that|them|the|an?|back|over)\b"),
    _Needs(("promise",), r"\bi promise\b"),
    # anyone named with "our", "the", "a" ("our lineman will install it", "the repair centre will
    # contact you"), or at the start of a clause ("rider will come back"), doing a service for the customer
    _Needs(("will", "'ll"), r"(?:\b(?:our|the|an?)\s+|^\s*)(?!(?:you|your|u|customers?|clients?|i|we)\b)"
           r"(?:[\w\-]+(?:'s)?\s+){0,3}?(?!(?:you|u|customers?|clients?|they|he|she|it)\b)[a-z\-]+\s*(?:'ll| will)\s+(?:" + _SERVICE + r")\b"),
    # what will be done for the customer, said of the thing ("the reset link will be sent by Monday",
    # "your car will be ready by 5pm", "it'll be with you within the hour"); not a generic policy
    # ("refunds will be processed within 5 days")
    _Needs((" be ",), r"\b(?:your|the|this|that|it|our|an?)\b(?:[\s\-]+[\w\-]+){0,5}?\s*(?:'ll| will)\s+"
           r"(?:(?:also|then|now|hopefully|definitely)\s+)?be\s+(?:" + _DONE + r")\b"),
    # a plan in the present progressive with a time to come ("we're pushing a fix tomorrow morning",
    # "our tech is swinging by this afternoon"), or a note without a subject ("shipping your
    # replacement out today")
    _Needs(("ing",), r"(?:\b(?:i'm|i am|we're|we are|(?:he|she|they)(?:'s|'re| is| are))|\b(?:our|the|an?)\s+(?:[\w\-]+\s+){0,3}?"
               r"[\w\-]+\s+(?:is|are|'s)|^\s*)\s*(?:" + _DOING + r")\b(?=.*\b(?:" + _WHEN + r")\b)"),
    # a promise in the present tense, as many write English ("I check with warehouse first then update
    # you", "we revert to you by EOD"): a step, then coming back to the customer (not a routine: "we
    # check every order and then email you"); or coming back alone
    re.compile(r"^\s*(?:(?:ok|okay|sure|noted|alright)\W+)?(?:i|we)\s+(?:(?:will|shall)\s+)?(?:check|verify|confirm|ask|"
               r"escalate|coordinate|raise|chase|look into|investigate|follow up)\b"
               r"(?![^.;]*\b(?:every|each|all|always|usually|normally|routinely|typically)\b)[^.;]*?\b(?:then|and|after that)\s+"
               r"(?:(?:i|we)\s+)?(?:update|revert|get back|come back|call|email|inform|message|text|reply|advise)"
               r"(?:\s+back)?(?:\s+to)?\s+(?:you|u)\b"),
    re.compile(r"^\s*(?:(?:ok|okay|sure|noted|alright)\W+)?(?:i|we)\s+(?:revert|get back|come back)(?:\s+back)?\s+to\s+"
               r"(?:you|u)\b"),
    _Future(),
]
_NEGATION = re.compile(
    r"\b(can't|cannot|can not|won't|will not|wont|unable|not able|no promises?|don't|do not|didn't|did not|"
    r"never|isn't|aren't|wasn't|weren't|not going to|can’t|won’t|no one|nobody|none of (?:us|our|the))\b"
    # doubt about one's own promise ("not sure i'll be able to..."), not "no doubt we'll..."
    r"|\b(?:not sure|unsure|not certain|(?<!no )(?<!a )doubt)\s+(?:if\s+|whether\s+|that\s+)?(?:i|we)\b")
_CONDITION_ANYWHERE = re.compile(
    r"\b(if|unless|in case|provided that|as long as)\b|\b(once|when|after|as soon as)\s+(you|your)\b")
# an embedded question after the promise: a negation in it is what is looked into, not the promise
_EMBEDDED = re.compile(r"\b(?:why|whether|how come)\b")
# "if" that means "whether" ("let you know if it's ready") is no condition
_WHETHER = re.compile(r"\b(know|tell you|confirm|check|see|find out|ask|advise|inform you|update you|"
                      r"wondering|unsure|not sure)\s+if\b")
# a condition in a comma clause before the promise ("once the landlord approves the quote, we'll...")
_CONDITION_CLAUSE = re.compile(r"^\s*(?:once(?!\s+(?:again|more))|as soon as|if|unless|provided|providing|assuming|"
                               r"should you)\b")
_CONDITION_BEFORE = re.compile(r"\b(once(?!\s+(?:again|more))|when|after|as soon as|should you)\b")
_PAST = re.compile(r"\b(as (promised|discussed|agreed|mentioned|requested)|as i said|as we said|i told you|"
                   r"we told you|i said|we said)\b")
# someone else's word reported before the promise ("the courier says they'll attempt delivery again")
# a system's doing, not a person's: up to the promise and just after it
_AUTOMATIC = re.compile(r"\b(?:automated|automatic|automatically)\b")
_REPORTED_BEFORE = re.compile(r"\b(?:said|says|told (?:me|us))\b")
_QUESTION_START = re.compile(r"^\s*(would|could|can|shall|should|do|does|did|are|is|will you|may|why|how|"
                             r"when|what)\b")
_NOT_PROMISES = re.compile(r"\b(be happy to|be glad to|assume|be here|hope to|be closed|be honest|be frank)\b"
                           # what we will need from the customer ("we'll need your invoice number")
                           r"|(?:'ll|\bwill|\bgoing to|\bgonna)"
                           r"\s+(?:need|require)\s+(?!to\b|a (?:few|couple|day|week)|(?:some|more) time|\d)")
# a request to the customer that the promise answers ("kindly share the id and we will check"): a
# condition like "if you send the logs, we will..."
_REQUEST_THEN = re.compile(r"^\s*(?:(?:please|pls|plz|kindly|just|simply)\s+)*(?:send|share|provide|forward|attach|upload|"
                           r"confirm|reply|give us|let us know|tell us|fill|complete|email us|drop us)\b.*\band\s*$")
# an absence ("I'll be away tomorrow", "as I'm out of office next week"), from its conjunction to the end
# of its phrase: it is taken out of a clause before the clause is read, so an absence that is the whole
# commitment leaves nothing ("I'll be on leave next week"), and one beside a promise leaves the promise
# and its due time ("I'll finish it today since I'll be out tomorrow": today). "Be out ... to <verb>" is
# a visit, a promise ("our technician will be out tomorrow to install the meter"): it stays.
_ABSENT = (r"(?P<what>out of (?:the )?office|ooo|away|on (?:\w+ )?leave|on mc|on (?:holiday|vacation|pto)|unavailable|"
           r"(?:out|off|offline|travell?ing|flying)(?= (?:today|tomorrow|tonight|this|next|until|on|from|sick|for|"
           r"to (?:our|my|his|her|their|a|an|head)\b|to the (?:[\w\-]+\s+){0,2}(?:branch|office|conference|hq|summit|expo|"
           r"event|depot)\b)\b))\b")
_ABSENCE = re.compile(
    r"(?:\b(?:as|since|because|while|though|although|and|so)\s+)?"
    # a person ("i", "we", ... with or without "be"), or someone named ("our technician") who will *be* away
    r"(?:\b(?:i|we|he|she|they)\s*(?:'ll|'m|'re|'s|\s(?:will|shall|am|are|is))(?:\s+(?:also|still|probably|going to))*(?:\s+be)?"
    r"|\b(?P<staff>our|my|the|your|an?)(?:\s+[\w\-]+){1,3}?\s*(?:'ll|\s(?:will|shall|is going to))(?:\s+(?:also|still|probably))*\s+be)"
    r"\s+" + _ABSENT +
    r"(?P<tail>.*?)(?=\s+(?:and|then|so|but)\b|\s*[,;.!?]|$)")
# a visit: "out" to do something for the customer ("to install the meter"), not an errand ("to see a
# doctor", "due to an appointment")
_VISIT = re.compile(r"(?<!due )\bto\s+(?:install|replace|repair|fix|check|inspect|deliver|collect|pick up|set up|"
                    r"service|visit|meet you|see you|look at|configure|upgrade|test|survey|measure|assess|connect|"
                    r"swap|change|fit|mount|activate|commission|reconnect|drop off|bring|sort|finish|complete)\b")
_TO_DO = re.compile(r"(?<!due )\bto\s+[a-z]+")
_ERRAND = re.compile(r"\bto\s+(?:see|visit)\s+(?:a|my|the|his|her|their)\s+(?:doctor|dentist|gp|family|parents|mum|mom|dad)|"
                     r"\bto\s+attend\s+(?:a|an|my|his|her|their)\b|\bto\s+(?:rest|recover|relax)\b|"
                     r"\bto\s+(?:deal with|take care of|sort out|handle)\s+(?:a |some )?(?:personal|family|private|my|his|her)")
_UNTIL = re.compile(r"\buntil\b.*")
# a condition that restricts the promise from the next independent clause ("..., but only if the payment
# clears", "... - provided the engineer confirms"), or from the one before it ("If the logs arrive
# today; we'll fix it"). A condition there with its own consequence ("; if you have questions, just
# reply here") is about something else and leaves the promise.
_CONDITION_AFTER = re.compile(
    r"^\s*(?:only\s+(?:if|when|once|after)|unless|provided|providing|as long as|so long as|assuming|"
    r"on (?:the )?condition|subject to|if)\b")
_RESTRICTS = re.compile(r"^\s*(?:only\b|unless\b|provided\b|providing\b|as long as\b|so long as\b|assuming\b|on\b|subject\b)")
_CONDITION_LEADS = re.compile(r"^\s*(?:if|unless|provided|providing|as long as|so long as|assuming|"
                              r"once(?!\s+(?:again|more))|when|as soon as|should you)\b[^,]*$")
_ASIDE = re.compile(r",\s*\S|\b(?:just|please|feel free|let (?:me|us) know|don't hesitate|do not hesitate|reply|"
                    r"contact us|call us|reach out)\b|\b(?:i|we)(?:'ll|\s+will)\b")   # a fallback: "but if I can't reach you I'll..."


def _norm(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").strip().lower()


def _is_visit(m: re.Match) -> bool:
    """Whether an "out" is a visit: "to" a service verb ("we'll be out on Wednesday to replace the
    router"), or, said of someone named ("the fibre tech will be out on Monday to splice the cable"),
    "to" do anything that is not an errand of their own."""
    if m.group("what") != "out":
        return False
    tail = m.group("tail")
    if _VISIT.search(tail):
        return True
    return m.group("staff") is not None and bool(_TO_DO.search(tail)) and not _ERRAND.search(tail)


def _absence(m: re.Match) -> str:
    """What is left of an absence phrase in a clause being read for a commitment: nothing, or all of
    it when it is a visit."""
    return m.group(0) if _is_visit(m) else ""


def _absence_context(m: re.Match) -> str:
    """What is left of an absence phrase in a sentence read for a due time: its "until" ("I'll be away
    from my desk until 2pm, then will call you back": 2pm), else nothing."""
    if _is_visit(m):
        return m.group(0)
    until = _UNTIL.search(m.group("tail"))
    return until.group(0) if until else ""


def _commitment_clause(sentence: str) -> str | None:
    parts = _commitment_parts(sentence)
    return None if parts is None else parts[0]


def _commitment_parts(sentence: str) -> tuple[str, str] | None:
    """The committing part of ``sentence`` (normalized, absences taken out: from the clause that commits
    to the end of its independent clause) and what leads to it in that independent clause ("tomorrow"
    in "Tomorrow, I'll call you at 3pm"), or None. Negations, past tense and "before" conditions are
    looked for in the committing clause only, other conditions in its independent clause and at the
    edges of its neighbours: "As discussed on the phone, I'll call you tomorrow" commits, "If you send
    the logs, we'll call you" and "we'll ship it tomorrow, but only if the payment clears" do not."""
    s = _norm(sentence)
    if not s or s.endswith("?") or _QUESTION_START.match(s):
        return None
    segments = _SEGMENT.split(_WHETHER.sub(r"\1 whether", s) if "if" in s else s)
    for k, segment in enumerate(segments):
        segment = _ABSENCE.sub(_absence, segment)
        clauses = _CLAUSE.split(segment)
        for i, clause in enumerate(clauses):
            for marker in _MARKERS:
                m = marker.search(clause)
                if m is None:
                    continue
                if _negated(clause, m.end()) or _NOT_PROMISES.search(clause) or _PAST.search(clause):
                    break
                if _REPORTED_BEFORE.search(clause, 0, m.end()):
                    break                   # "the courier says they'll attempt delivery again"
                if _AUTOMATIC.search(clause, 0, m.end() + 16):
                    continue                # a system's doing ("you'll get an automated email"): another may be a person's
                if _CONDITION_BEFORE.search(clause[:m.start()]) or _conditional(clauses, i):
                    break
                if _REQUEST_THEN.match(clause[:m.start()]):
                    break                   # "kindly share the transaction id and we will check..."
                # (a condition in a comma clause after the promise only when it restricts it: ", provided
                # the courier confirms" does, ", if that suits" is a courtesy)
                if any(_CONDITION_CLAUSE.match(c) for c in clauses[:i]) or any(
                        _CONDITION_AFTER.match(c) and _RESTRICTS.match(c) for c in clauses[i + 1:]):
                    break                   # "once the landlord approves, we'll..."; "..., provided the..."
                if k > 0 and _CONDITION_LEADS.match(segments[k - 1]):
                    break                   # "if the logs arrive today; we'll fix it tomorrow"
                if k + 1 < len(segments) and _restricts(segments[k + 1]):
                    break                   # "we'll ship it tomorrow, but only if the payment clears"
                # from the promise's first word on: what leads to it ("following our call this morning:
                # a plumber will be out tomorrow") is no due time of its own
                lead = ",".join(clauses[:i] + [clause[:m.start()]])
                return ",".join([clause[m.start():]] + clauses[i + 1:]).strip(), lead.strip(" ,:")
    return None


# where a second promise starts in a committing clause ("I'll resubmit the claim this afternoon, and
# I'll email you the number tomorrow"; "... and should have feedback for you by Thursday")
_THEN = re.compile(r"(?:,\s*(?:and\s+|then\s+|plus\s+)?|\s(?:and|then|also|plus)\s+)")
_THEN_BARE = re.compile(r"(?:will|'ll|should|shall)\s+\w+")


def _first(clause: str) -> str:
    """The first of the commitments a committing clause makes, up to where the next one starts (the
    whole clause when it makes one)."""
    for sep in _THEN.finditer(clause, 1):
        after = clause[sep.end():sep.end() + 160]       # a window: a long clause costs no more per separator
        if _THEN_BARE.match(after) or any(marker.match(after) for marker in _MARKERS):
            return clause[:sep.start()]
    days = [d.start() for d in _DAY_WORDS.finditer(clause)]
    if len(days) > 1:
        for sep in _AND.finditer(clause, 1):     # "we'll courier it out today and email you the tracking tomorrow"
            if days[0] < sep.start() and days[-1] >= sep.end():
                return clause[:sep.start()]
    return clause


_AND = re.compile(r",?\s+(?:and|then|so(?: that)?)\s+(?=[a-z']+\s)")
_DAY_WORDS = re.compile(r"\b(?:today|tonight|tomorrow|tmrw|this (?:morning|afternoon|arvo|evening)|eod|(?:mon|tues|wednes|"
                        r"thurs|fri|satur|sun)day|next week|within|in \d+|by \d+|before the weekend|this week|"
                        r"end of (?:the )?week|\d{1,2}(?:st|nd|rd|th)\b|"
                        r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d)")


def _conditional(clauses: list[str], i: int) -> bool:
    """Whether a condition in the independent clause of ``clauses`` governs the promise in ``clauses[i]``:
    one up to and in it does ("if you send the logs, we'll..."), one after it does unless it comes with
    its own consequence for the customer ("I'll ring you tomorrow, and if there's anything else
    meanwhile you can call the ward")."""
    if _CONDITION_ANYWHERE.search(",".join(clauses[:i + 1])):
        return True
    for k in range(i + 1, len(clauses)):
        if _CONDITION_ANYWHERE.search(clauses[k]):
            return not _ASIDE_AFTER.search(",".join(clauses[k:]))
    return False


# a consequence of the customer's own after a condition: the condition is about something else
_ASIDE_AFTER = re.compile(r"\b(?:you can|you could|you may|just|please|pls|feel free|let (?:me|us) know|don't hesitate|"
                          r"do not hesitate|reply|contact us|call us|ring us|reach out|give us a)\b")


def _negated(clause: str, after: int) -> bool:
    """Whether ``clause`` negates its promise (which ends at ``after``); a negation inside an embedded
    question after it ("…check why the push isn't reaching you") is what is looked into, not it."""
    other = _OTHER_SUBJECT.search(clause, after)       # "... and you don't need to be home": the customer's
    neg = _NEGATION.search(clause, 0, other.start() if other else len(clause))
    if neg is None:
        return False
    embedded = _EMBEDDED.search(clause, after)
    return embedded is None or neg.start() < embedded.start()


_OTHER_SUBJECT = re.compile(r"\s(?:and|so)\s+(?:you|u|your|there)\b")


def _restricts(segment: str) -> bool:
    """Whether the independent clause after a promise is a condition on it ("but only if the payment
    clears", "- provided the engineer confirms", "unless you'd rather we email"), not an aside to the
    customer with its own consequence ("; if you have questions, just reply here")."""
    if not _CONDITION_AFTER.match(segment):
        return False
    return bool(_RESTRICTS.match(segment)) or not _ASIDE.search(segment)


def is_commitment(sentence: str) -> bool:
    return _commitment_clause(sentence) is not None


# --- due times ----------------------------------------------------------------------------------

_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "couple of": 2, "a couple of": 2, "few": 3,
        "a few": 3, "the": 1, "next": 1, "half an": 0.5, "half a": 0.5}
_NUMBER = r"(\d+(?:\.\d+)?|half an?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|(?:a )?couple of|(?:a )?few)"
_DURATION = re.compile(
    r"\b(?:within|in|inside|under|give me)\s+(?:the\s+)?(?:next\s+)?" + _NUMBER + r"?\s*"
    r"(minutes?|mins?|hours?|hrs?|h|business days?|working days?|days?|weeks?)\b")
_WITHIN_THE = re.compile(r"\bwithin\s+the\s+(?:next\s+)?(hour|day|week)\b")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"\b(next\s+|this\s+|on\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                      r"(\s+next\s+week)?\b"
                      # an abbreviation ("by weds", "back thurs"); a short one only after a word that makes
                      # it a day ("sat" or "wed" alone is not)
                      r"|\b(next\s+|this\s+|on\s+|by\s+|until\s+|till\s+|before\s+)?(tues|weds|thurs?|fri)\.?"
                      r"(\s+next\s+week)?(?!\w)"
                      r"|\b(next\s+|this\s+|on\s+|by\s+|until\s+|till\s+|before\s+)(mon|tue|wed|thu|sat|sun)\.?"
                      r"(\s+next\s+week)?(?!\w)")
_ABBREVIATED = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4,
                "sat": 5, "sun": 6}
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(rf"\b(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?"
                   rf"(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTHS})\b|({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b)")
# a time of day after "at", "by", ... ("at 3pm", "by 10:30", "before noon"), or one with am/pm after a
# day ("tomorrow 11 am", "friday 2pm")
# a day of the month without its month ("on the 16th", "by the 3rd"): its next occurrence
_ORDINAL_DAY = re.compile(r"\b(?:on|by|before|until|till)\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b"
                          # a date, not "the 2nd floor": nothing but a boundary or a linking word after it
                          r"(?=\s*(?:$|[.,;!?)]|\s(?:at|by|of|before|in|when|and|so|then|with|to|or)\b))")
_CLOCK = re.compile(r"\b(?:(?:at|by|before|around|until)\s+|(?:tomorrow|today|tonight|monday|tuesday|wednesday|"
                    r"thursday|friday|saturday|sunday),?\s+(?=\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|noon\b|"
                    r"midday\b|12\s*nn\b|12 noon\b))"
                    # "9.30am"; "at 2.30" (not a price or a count: "at 2.99 each")
                    r"(\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|"
                    r"\d{1,2}\.[0-5]\d(?![\d%])(?!\s*(?:each|per|a\b|an\b|%|pounds?|dollars?|euros?|rand|rupees?))|"
                    r"12\s*nn|12 noon|noon|midday"
                    # a bare hour where nothing else can follow it ("tomorrow at 10.", "at 4 on friday")
                    r"|\d{1,2}(?=\s*(?:o'clock\b|$|[.,;!)](?!\d)|\s(?:tomorrow|today|tonight|on|this|sharp|to|before|for|and|so)\b)))\b")
_TODAY = re.compile(r"\b(later today|today|end of (?:the |to)?day|eod|close of business|cob|end of business|"
                    r"end of play|close of play|eop|"
                    r"this afternoon|this arvo|this morning|tonight|this evening|log off)\b")
_TOMORROW = re.compile(r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmrow|tmw|tmr|2moro|2morrow|the morra|the morrow)\b")
_THIS_WEEK = re.compile(r"\b(end of (?:the |this )?week|this week|before the weekend|by the weekend)\b")
_NEXT_WEEK = re.compile(r"\b(early|end of|later|first thing)?\s*(?:the\s+)?next week\b")
_MORNING = re.compile(r"\bmorning\b")
_FIRST_THING = re.compile(r"\bfirst thing\b")
_AFTERNOON = re.compile(r"\b(afternoon|arvo)\b")
_EVENING = re.compile(r"\b(evening|tonight)\b")
_NIGHT = re.compile(r"\b(evening|tonight|night)\b")     # a bare hour then is in the afternoon or evening


def _count(word: str | None) -> float:
    if not word:
        return 1
    word = word.strip()
    if word in _NUM:
        return _NUM[word]
    try:
        return float(word)
    except ValueError:
        return 1


def _is_business_day(day: date, calendar: BusinessCalendar | None) -> bool:
    if calendar is None or calendar.name == "always":
        return day.weekday() < 5
    return bool(calendar.weekly[day.weekday()]) and not calendar.is_holiday(day)


@lru_cache(maxsize=4096)
def _parse_date(phrase: str, base: date) -> date | None:
    """The next ``phrase`` ("march 2") on or after ``base``: a date already passed this year is next
    year's. dateparser's "future" excludes the base day itself, so it is given the day before."""
    eve = base - timedelta(days=1)
    when = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": datetime(eve.year, eve.month, eve.day, 12), "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False})
    return when.date() if when else None


_DUE_BY = re.compile(r"\b(?:by|on|before|until|till|than)\s+(?:the\s+)?$")


def _clock_words(phrase: str) -> str:
    """A time of day as ``_parse_clock`` reads it: "9.30am" is 9:30am, "p.m." is pm."""
    return re.sub(r"(\d)\.(\d\d)", r"\1:\2", phrase).replace(".", "")


_BARE_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")


def _next_day_of_month(n: int, base: date) -> date | None:
    """The next date on or after ``base`` whose day of the month is ``n`` (a month without one is skipped)."""
    if not 1 <= n <= 31:
        return None
    year, month = base.year, base.month
    for _ in range(13):
        try:
            day = date(year, month, n)
        except ValueError:
            day = None
        if day is not None and day >= base:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


@lru_cache(maxsize=1024)
def _parse_clock(phrase: str, evening: bool = False) -> time | None:
    """A time of day. One without am/pm is read as people at work mean it: 1 to 6 in the afternoon
    ("at 2:30" is 14:30), 7 to 12 as written — 7 to 11 too in the ``evening`` ("tonight at 8") — 13
    to 23 on the 24-hour clock."""
    if phrase in ("noon", "midday", "12 noon") or phrase.replace(" ", "") == "12nn":
        return time(12)
    bare = _BARE_TIME.match(phrase.strip())
    if bare:
        hour, minute = int(bare.group(1)), int(bare.group(2) or 0)
        if 1 <= hour <= 6 or (evening and 7 <= hour <= 11):
            hour += 12
        return time(hour, minute) if hour < 24 and minute < 60 else None
    when = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": datetime(2000, 1, 3), "RETURN_AS_TIMEZONE_AWARE": False})
    return when.time() if when else None


def _exact(sent_at: datetime, seconds: float, zone: ZoneInfo) -> datetime:
    """``sent_at`` plus real seconds (in UTC: aware arithmetic in one zone is wall-clock arithmetic)."""
    return (sent_at.astimezone(timezone.utc) + timedelta(seconds=seconds)).astimezone(zone)


def due_time(clause: str, sent_at: datetime, *, tz: ZoneInfo | str = "UTC",
             calendar: BusinessCalendar | None = None, end_of_day: time = time(17)) -> tuple[datetime | None, str | None]:
    """The due time a commitment ``clause`` names, and the words it was read from; (None, None)
    when it names none. ``sent_at`` must be aware."""
    due, phrase, _ = _due(clause, sent_at, tz=tz, calendar=calendar, end_of_day=end_of_day)
    return due, phrase


def _due(clause: str, sent_at: datetime, *, tz: ZoneInfo | str, calendar: BusinessCalendar | None,
         end_of_day: time) -> tuple[datetime | None, str | None, str | None]:
    """``due_time``, and what kind of phrase it was read from: "exact" (hours and minutes from now),
    "clock" (a time of day alone: "at 3pm"), "day" (a day, with or without a time), None."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = sent_at.astimezone(zone)
    today = local.date()
    s = _norm(clause)

    def at(day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=zone)

    def time_of_day(default: time) -> time:
        m = _CLOCK.search(s)
        if m:
            parsed = _parse_clock(_clock_words(m.group(1)), bool(_NIGHT.search(s)))
            if parsed:
                return parsed
        if _FIRST_THING.search(s):
            return time(10)
        if _MORNING.search(s):
            return time(12)
        if _EVENING.search(s):
            return time(18)
        if _AFTERNOON.search(s):
            return end_of_day
        return default

    m = _WITHIN_THE.search(s)
    if m:
        unit = m.group(1)
        if unit == "hour":
            return _exact(sent_at, 3600, zone), m.group(0), "exact"
        days = 1 if unit == "day" else 7
        return at(today + timedelta(days=days), end_of_day), m.group(0), "day"
    # "in next week's release" is next week, not a week from now: a duration without a number needs "the"
    m = next((d for d in _DURATION.finditer(s) if d.group(1) or "the" in d.group(0).split()
              or "next" not in d.group(0).split()), None)
    if m:
        n, unit = _count(m.group(1)), m.group(2)
        if unit.startswith(("min", "h")):
            seconds = n * (60 if unit.startswith("min") else 3600)
            return _exact(sent_at, seconds, zone), m.group(0), "exact"
        if unit.startswith(("business", "working")):
            day, left = today, int(n)
            while left > 0:
                day += timedelta(days=1)
                if _is_business_day(day, calendar):
                    left -= 1
            return at(day, end_of_day), m.group(0), "day"
        days = int(n) * (7 if unit.startswith("week") else 1)
        return at(today + timedelta(days=days), end_of_day), m.group(0), "day"
    # a date the promise is due by, before any other ("the accounts for the year ended 31 December by
    # 20 March": 20 March)
    dates = list(_DATE.finditer(s)) if "by" in s or "on" in s else [_DATE.search(s)]
    m = next((d for d in dates if d and _DUE_BY.search(s, 0, d.start())), dates[0] if dates else None)
    if m:
        phrase = f"{m.group(1)} {m.group(2)}" if m.group(1) else f"{m.group(3)} {m.group(4)}"
        day = _parse_date(phrase, today)
        if day is not None:
            return at(day, time_of_day(end_of_day)), m.group(0), "day"
    m = _ORDINAL_DAY.search(s)
    if m:
        day = _next_day_of_month(int(m.group(1)), today)
        if day is not None:
            return at(day, time_of_day(end_of_day)), m.group(0), "day"
    if _TOMORROW.search(s):
        return at(today + timedelta(days=1), time_of_day(end_of_day)), "tomorrow", "day"
    m = next((w for w in _WEEKDAY.finditer(s) if not s.startswith("'s", w.end())), None) or _WEEKDAY.search(s)
    if m:                                   # "ahead of tuesday's call, by monday": monday
        if m.group(2):
            lead, target, next_week = m.group(1), _WEEKDAYS.index(m.group(2)), m.group(3)
        elif m.group(5):
            lead, target, next_week = m.group(4), _ABBREVIATED[m.group(5)], m.group(6)
        else:
            lead, target, next_week = m.group(7), _ABBREVIATED[m.group(8)], m.group(9)
        if (lead or "").strip() == "next" or next_week:
            monday_next = today + timedelta(days=7 - today.weekday())
            day = monday_next + timedelta(days=target)
        else:
            ahead = (target - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
        return at(day, time_of_day(end_of_day)), m.group(0).strip(), "day"
    m = _NEXT_WEEK.search(s)
    if m:
        monday_next = today + timedelta(days=7 - today.weekday())
        qualifier = (m.group(1) or "").strip()
        if qualifier == "early":
            return at(monday_next + timedelta(days=1), end_of_day), m.group(0).strip(), "day"
        if qualifier == "first thing":
            return at(monday_next, time(10)), m.group(0).strip(), "day"
        return at(monday_next + timedelta(days=4), end_of_day), m.group(0).strip(), "day"
    m = _THIS_WEEK.search(s)
    if m:
        friday = today + timedelta(days=(4 - today.weekday()) % 7)
        return at(friday, end_of_day), m.group(0), "day"
    m = _TODAY.search(s)
    if m:
        return at(today, time_of_day(end_of_day)), m.group(0), "day"
    m = _CLOCK.search(s)
    if m:
        t = _parse_clock(_clock_words(m.group(1)), bool(_NIGHT.search(s)))
        if t is not None:
            due = at(today, t)
            if due <= local:
                due = at(today + timedelta(days=1), t)
            return due, m.group(0), "clock"
    return None, None, None


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
        first = _first(clause)
        due, phrase, kind = _due(first, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        if phrase is None and first != clause:
            due, phrase, kind = _due(clause, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        if phrase is None and clause != context:
            due, phrase, _kind = _due(context, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
        elif kind == "clock" and due is not None and lead:
            day, words, day_kind = _due(lead, sent_at, tz=zone, calendar=calendar, end_of_day=end_of_day)
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
    if _AUTOMATED.search(text):
        return ()                           # an automated notice promises nothing of a person's
    for sentence in _sentences(_unquoted(text)):
        if sentence:
            parts = _commitment_parts(sentence)
            if parts is not None:
                clause, lead = parts
                out.append((sentence, clause, _ABSENCE.sub(_absence_context, _norm(sentence)).strip(), lead))
    return tuple(out)


# an automated notice: a promise in it ("a member of our team will respond within 1 business day") is
# a service level, timed by the unanswered rule, not a person's commitment
_AUTOMATED = re.compile(r"^\W*(?:automated|auto-?reply|automatic reply|auto-?response)\b|\bthis is an automated\b|"
                        r"\b(?:please )?do not reply to this (?:e-?mail|message)|\bthis (?:mailbox|inbox) is not monitored\b|"
                        r"\bno-?reply@", re.IGNORECASE)


def _unquoted(text: str) -> str:
    """``text`` without the quoted history of an email reply (from the first "> " line, "On … wrote:",
    "-----Original Message-----" or "From: … Sent:" on)."""
    m = _QUOTED.search(text)
    return text[:m.start()] if m else text


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``, a title or abbreviation ("Dr.", "e.g.") not taken for an end."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        piece = piece.strip()
        if out and piece and (_TITLE.search(out[-1]) or (_ABBREVIATION.search(out[-1]) and not piece[0].isupper())):
            out[-1] = f"{out[-1]} {piece}"          # "dr. patel", "e.g. tomorrow"; not "main st. Does that suit?"
        elif piece:
            out.append(piece)
    return out


def committing_sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text`` that make a commitment."""
    return tuple(item[0] for item in _committing(text))
