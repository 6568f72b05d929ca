"""Markers: the words that make a clause a commitment ("I'll", "our tech will", "the link will be
sent", "we're sending it today", …), tried in order on each clause (``MARKERS``); the last,
``_Future``, takes anyone or anything but the customer that *will* do or be done."""

from __future__ import annotations

import re

from .words import ACTS, DOING, DONE, NOT_DOING, OTHERS, SERVICE, STAFF, VISIT_TO, WHEN

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


class _Then(_Needs):
    """A marker that needs words after it too ("we're sending it" needs a time to come: "… today"):
    the pattern's first match, then ``after`` searched once from its end. Linear in the text (a
    lookahead in the pattern would rescan the rest from every candidate)."""

    __slots__ = ("after",)

    def __init__(self, needs: tuple[str, ...], pattern: str, after: str):
        super().__init__(needs, pattern)
        self.after = re.compile(after)

    def search(self, text: str) -> re.Match | None:
        m = super().search(text)
        return m if m is not None and self.after.search(text, m.end()) else None

    def match(self, text: str, pos: int = 0) -> re.Match | None:
        m = super().match(text, pos)
        return m if m is not None and self.after.search(text, m.end()) else None


_TIME_TO_COME = r"\b(?:" + WHEN + r")\b"


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
        if "will" not in text and "'ll" not in text and "shall" not in text and "going to" not in text \
                and "gonna" not in text:
            return None
        for m in _FUTURE.finditer(text, pos):
            words = _WORD.findall(text, max(pos, m.start() - 80), m.start()) or [""]
            head = words[-1]                # "" at a clause's start: "our coordinator, melissa, is going to send"
            verb, complement, then = m.group(1), m.group(2) or "", m.group(3) or ""
            if not _ours(words) or not _done(words, verb, complement, then, text, m.end(2)):
                continue
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


def _ours(words: list[str]) -> bool:
    """Whether the subject ending ``words`` (the words before "will") is the team's or a thing done
    for the customer: not the customer, a number, a forecaster, someone else's word, a subordinate
    clause, or the customer's own party."""
    head = words[-1]
    if head and not any(c.isalpha() for c in head) and not _DETERMINERS.intersection(words[-4:-1]):
        return False                        # "error at 12:00 will retry"; not "the refund of $64.95 will"
    if head in _NOT_OURS or _FORECASTERS.intersection(words[-4:]):     # "hopefully the council will…"
        return False
    if _OTHERS.fullmatch(head):
        return False                        # another organisation's plan: "the bank will contact you"
    if len(words) > 1 and (words[-2] in _SUBORDINATE or _REPORTED.intersection(words[-4:-1])):
        return False                        # "before they'll approve"; "the courier says they'll..."
    return not (head in _THEIR_PARTY and len(words) > 1 and words[-2] in ("your", "ur", "yr"))   # "your bank"


def _done(words: list[str], verb: str, complement: str, then: str, text: str, after: int) -> bool:
    """Whether "will <verb> <complement> <then>" does or delivers something (not a forecast, a
    description, a cost or a need); ``after`` is where the complement ends in ``text``."""
    head = words[-1]
    if (verb in ("be", "b") or verb in _GENERIC_VERBS) and head.endswith("s") and not head.endswith(
            ("'s", "ss")) and not _DETERMINERS.intersection(words[-3:-1]):
        return False                        # a generic plural: "refunds will be processed within 5 days"
    if verb in ("be", "b"):
        if complement == "with" and then not in ("you", "u", "your", "ya"):
            return False                    # "the recheck will be with Dr Shah"
        if (complement == "on" and then not in ("its", "the", "your")) or (
                complement == "in" and then not in ("your", "touch", "contact", "the", "ur")):
            return False                    # "the next slot will be on Thursday"; not "on its way", "in your inbox"
        if complement in _BE_PLACES and _VISIT.search(text, after):
            return True                     # "he'll be down … to replace it"
        return complement in _BE_DONE or (complement.endswith(("ed", "en")) and complement not in _BE_NOTICE)
    if verb == "take" and complement in ("the", "your", "over", "care") and head not in ("it", "which") \
            and then not in ("whole", "entire", "full", "rest", "best", "better", "form", "longest"):
        return True                         # "Ms Iyer will take the next session on Monday", not "it will take 3 days"
    if verb == "come" and complement == "on":
        return False                        # "the heating will come on at 6am"
    if verb == "drop" and complement in ("it", "them", "off", "round", "by", "in", "the", "your"):
        return True                         # "our driver is going to drop it off tomorrow", not "prices will drop"
    if verb in (_NOT_DONE_BY_PEOPLE if head in _PEOPLE else _NOT_DONE) or (
            verb == "have" and complement in ("no", "to", "a", "an", "any")):
        return False
    return not (len(words) > 1 and words[-2] in ("your", "ur", "yr"))   # the customer's own: "your bank will call"


_FUTURE = re.compile(r"(?:'ll|'s going to|'re going to|'s gonna|\s(?:will|shall|is going to|are going to|is gonna|"
                     r"are gonna))\s+"
                     r"(?:(?:also|then|now|hopefully|definitely|soon|personally|directly)\s+)?"
                     r"(?!not\b|never\b)([a-z]+)(?:\s+([a-z]+))?(?:\s+([a-z]+))?")
_WORD = re.compile(r"[\w$.\-']+")
_OTHERS = re.compile(r"(?:" + OTHERS + r")")
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
                       "normally", "automatically", "let", "make", "ask", "expect", "receive", "reopen", "cause",
                       "disappear", "rain", "snow", "announce", "retire", "serve", "launch", "operate", "beep",
                       "turn", "flash", "blink", "accrue", "display", "set", "play", "shine"})
# a person does what a thing only undergoes ("she's going to run a config review", "he'll help you")
_PEOPLE = frozenset({"he", "she", "they"})
_NOT_DONE_BY_PEOPLE = _NOT_DONE - {"run", "start", "open", "close", "work", "help", "look", "get", "go", "make", "end",
                                   "show", "begin", "change", "apply", "let", "include", "cover", "ask"}
# what a thing "will be" when it is done for the customer ("ready", "with you", "in your inbox")
_BE_DONE = frozenset({"ready", "done", "live", "there", "with", "back", "in", "on", "out", "waiting", "over",
                      "round", "sent", "built", "paid", "put", "set", "delivered", "available", "fixed", "sorted",
                      "up", "able", "arriving", "coming", "dispatched", "shipped", "couriered", "refunded", "made",
                      "brought", "cut", "rebuilt", "redone", "sewn", "run"})
# where someone "will be" on a visit ("he'll be down at the marina Thursday to replace your forestay")
_BE_PLACES = frozenset({"down", "up", "at", "on", "onsite", "by", "along"})
_VISIT = re.compile(VISIT_TO)
# what a thing "will be" that is a notice, not a promise ("the office will be closed", "you will be charged")
_BE_NOTICE = frozenset({"closed", "charged", "billed", "debited", "suspended", "cancelled", "canceled", "deleted",
                        "required", "asked", "needed", "expected", "affected", "delayed", "impacted", "locked",
                        "disconnected", "terminated", "deducted", "applied", "added", "increased", "reduced",
                        "limited", "restricted", "reviewed", "given", "taken", "used", "shared", "stored",
                        "recorded", "monitored", "forfeited", "void", "voided", "withheld", "rejected", "declined",
                        "denied", "published", "held", "open", "opened", "retired", "served", "announced",
                        "discontinued", "launched", "introduced", "shut", "quiet", "busy"})
# the customer's own people and providers ("your bank will be in touch"), not ours ("your engineer")
_THEIR_PARTY = frozenset({"bank", "issuer", "employer", "landlord", "insurer", "husband", "wife", "partner", "son",
                          "daughter", "family", "provider", "isp", "school", "council", "embassy", "broker", "lender"})


MARKERS = [
    re.compile(r"\b(i|we)\s*('ll|’ll| will| shall|'m going to| am going to|'re going to| are going to|'m gonna|"
               r" am gonna|'re gonna| are gonna| gonna)\b"),
    re.compile(r"^\s*gonna\s+\w+"),                                  # chat shorthand: "gonna check and ..."
    # "ill" for "I'll" in chat, before what an agent does ("ill ping you back"), not "I'm ill"
    re.compile(r"ill(?<=\bill)(?<!'m ill)(?<!am ill)\s+(" + ACTS + r"|check|look|have|sort|chase|find|fix|do)\b"),
    # an intention with a direction ("I'm aiming to have it set up by Friday")
    _Needs(("aiming",), r"\b(i|we)\s*('m|'re| am| are)\s+aiming\s+to\b"),
    # an expectation of one's own ("I should have the keys for you by tomorrow"), not a regret ("we
    # should have told you")
    _Needs(("should",), r"\b(i|we)\s+should\s+have\s+(it|this|that|them|the|a|an|your|some|something|news)\b"),
    _Needs(("let me",), r"\blet me\b(?!\s+know)"),
    # "expect an update by Friday", not trouble foretold ("so expect some dropouts")
    _Needs(("expect",), r"\bexpect\b(?!\s+(?:some|a few|a bit of|minor|brief|short|intermittent|occasional|delays?|"
           r"disruptions?|dropouts?|outages?|issues?|interruptions?|problems?|slowness|downtime|higher|longer|"
           r"heavy|queues?)\b)"),
    _Needs(("you", "u"), r"\b(?:you|u)\s*('ll| should| should be able to| will| can expect| should expect)\s+(hear|receive|get|"
           r"have(?!\s+(?:\w+ed|been|got|gotten|seen|heard|had|sent)\b)|see)\b"),
    _Needs(("some",), r"\b(someone|somebody)\b[\w\s\-]{0,30}?\b(will|'ll)\b"),
    # someone of the team, perhaps named ("my colleague priya will call you")
    _Needs(("will", "'ll"), r"(?:\b(?:our|the|my|your(?!\s+(?:accountant|bank|it|husband|wife|partner|landlord|"
           r"employer|broker|lawyer|solicitor)\b)|an?)\s+|^\s*)([\w\-]+\s+){0,3}?(" + STAFF +
           r"|vets?|[a-z]{3,}(?:ists?|ians?))(\s+[a-z]+)?\s*('ll| will)\b"),
    _Needs(("will", "'ll"), r"\b(they|he|she)\s*('ll| will)\s+(" + ACTS + "|" + SERVICE + r"|have\s+(?:it|this|that|them|the|your|"
           r"power|everything|service))\b"),
    _Needs(("will", "'ll"), r"^\s*(will|'ll)\s+(" + ACTS + "|" + SERVICE + r"|raise|log|flag|pass|forward|check|circle|have\s+(?:it|this|that|them|the|your|all|"
           r"everything|a|an|some))\b"),
    # a chat note without a subject: "be there in 20 min"
    re.compile(r"^\s*(?:(?:will|'ll)\s+)?be\s+(?:there|with you|round|over|back with you)\b"),
    # a plan of one's own in the present progressive with a time to come ("we're now hanging board on
    # Monday"), not a state or a workload ("we're experiencing delays today")
    _Then(("ing",), r"(?:\b(?:i'm|i am|we're|we are)|\b(?:our|the|my|an?)\s+(?:[\w\-]+\s+){0,2}?(?:" + STAFF +
          r")\s+(?:is|are|'s|'re))\s+(?:now\s+|also\s+|just\s+|then\s+)?(?!" + NOT_DOING +
          r")[a-z]{2,}ing\b(?!\s+(?:a|an|the)\s+(?:high|large|huge|lot|number|volume|backlog|few)\b)", _TIME_TO_COME),
    # a visit in the present tense: "I'm back on site Thursday to fit it"
    _Then(("'m", "'re", "'s"), r"\b(?:i'm|we're|he's|she's|they're)\s+(?:back\s+)?(?:on site|onsite|out|over|round|back|in)\b",
          VISIT_TO),
    # someone of the team on the way ("we've got a tech coming out tomorrow arvo")
    _Then(("got", "have"), r"\b(?:we've got|we have got|we have|i've got|i have)\s+(?:someone|somebody|(?:a|an|our|the)\s+"
          r"(?:[\w\-]+\s+){0,2}?(?:" + STAFF + r"))\b[\w\s\-]{0,20}?\b(?:coming|heading|popping|booked (?:in|to come))\b",
          _TIME_TO_COME),
    # what is being done for the customer, with a time to come ("the pallets are being shipped on Monday")
    _Then(("being",), r"\b(?:is|are|'s|'re)\s+being\s+(?:" + DONE + r")\b", _TIME_TO_COME),
    # someone arranged to act with a time to come ("I've arranged for our driver to collect it this afternoon")
    _Then(("arranged", "booked", "scheduled", "organised", "organized", "asked", "requested"),
           r"\b(?:i've|we've|i have|we have)\s+(?:arranged|booked|scheduled|organi[sz]ed|asked|requested)\s+(?:for\s+)?"
           r"(?!you\b|u\b|for\b)[a-z]+\b[^.]{0,60}?\bto\s+[a-z]+", _TIME_TO_COME),
    # a shipment in the present tense: "the sensors ship today", "it goes out tomorrow"
    _Needs(("ship", "dispatch", "go"), r"\b(?:your|the|it|this|these|they|them)\b[^.,;]{0,40}?\b(?:ships?|dispatch(?:es)?|"
           r"goes out|go out)\s+(?:out\s+)?(?:today|tonight|tomorrow|tmrw|first thing|this (?:afternoon|evening|morning|week)|"
           r"(?:on\s+|next\s+)?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b)"),
    _Needs(("will",), r"\b(and|then)\s+will\s+(" + ACTS + r"|check|let|be)\b"),
    # "and will" with any verb done to the customer or the matter ("and will write to you again")
    _Needs(("will",), r"\b(and|then)\s+will\s+(?!not\b|never\b)[a-z]+\s+(?:to\s+|with\s+)?(?:you|your|u|it|this|"
           r"that|them|the|an?|back|over)\b"),
    _Needs(("promise",), r"\bi promise\b"),
    # anyone named with "our", "the", "a" ("our lineman will install it", "the repair centre will
    # contact you"), or at the start of a clause ("rider will come back"), doing a service for the customer
    _Needs(("will", "'ll"), r"(?:\b(?:our|the|an?)\s+|^\s*)(?!(?:you|your|u|customers?|clients?|i|we)\b)"
           r"(?:[\w\-]+(?:'s)?\s+){0,3}?(?!(?:you|u|customers?|clients?|they|he|she|it|system|portal|app|website|site|"
           r"bot|chatbot|platform|software|" + OTHERS + r")\b)[a-z\-]+\s*(?:'ll| will)\s+(?:" + SERVICE + r")\b"),
    # what will be done for the customer, said of the thing ("the reset link will be sent by Monday",
    # "your car will be ready by 5pm", "it'll be with you within the hour"); not a generic policy
    # ("refunds will be processed within 5 days")
    _Needs((" be ",), r"\b(?:your(?!\s+(?:bank|landlord|accountant|solicitor|lawyer|employer|husband|wife|partner|broker|"
           r"insurer|neighbou?r's)\b)|the|this|that|it|our|an?)\b(?:[\s\-]+[\w\-]+){0,5}?\s*(?:'ll| will)\s+"
           r"(?:(?:also|then|now|hopefully|definitely)\s+)?be\s+(?:" + DONE + r")\b"),
    # a plan in the present progressive with a time to come ("we're pushing a fix tomorrow morning",
    # "our tech is swinging by this afternoon"), or a note without a subject ("shipping your
    # replacement out today")
    _Then(("ing",), r"(?:\b(?:i'm|i am|we're|we are|(?:he|she|they)(?:'s|'re| is| are))|\b(?:our|the|an?)\s+(?:[\w\-]+\s+){0,2}?"
          r"(?:" + STAFF + r")\s+(?:is|are|'s)|^\s*)\s*(?:" + DOING + r")\b", _TIME_TO_COME),
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
