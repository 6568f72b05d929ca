"""The committing clause of a sentence: the part a marker starts, unless a negation, a condition,
past tense, a question, a request or an absence takes the promise back; and where a second promise
in it starts."""

from __future__ import annotations

import re

from .markers import MARKERS
from .sentences import norm

# a sentence is read in parts: independent clauses (split at ";", a dash, "but", "however"), each in
# comma clauses. A condition governs the whole independent clause it sits in ("If you send the logs,
# we'll..."), not its neighbours ("I'll call you tomorrow; if you have questions, just reply").
_SEGMENT = re.compile(r";|\s[-–—]+\s|\bbut\b|\bhowever\b")
_CLAUSE = re.compile(r",")

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
# a promise told before ("I told you we would check"); "as discussed we will share it on Monday" is a new one
_PAST = re.compile(r"\b(i told you|we told you|i said|we said)\b")
# someone else's doing hedged ("I think the engineer will…", "according to the courier, a driver will…");
# our own hedged promise stays one ("I think we'll have it by Friday")
_HEDGED = re.compile(r"\b(?:i think|i believe|it seems|seems like|looks like|apparently|in theory|most likely|"
                     r"according to|per the|hopefully)\b")
_OURS = re.compile(r"\b(?:i|we)\s*(?:'ll|'m|'re|'d|\s(?:will|shall|am|are|should|would|have|'ve))")
# a system's doing, not a person's: up to the promise and just after it
_AUTOMATIC = re.compile(r"\b(?:automated|automatic|automatically)\b")
# someone else's word reported before the promise ("the courier says they'll attempt delivery again",
# "tracking shows…", "the council reckon…", "VFS have confirmed they will…")
_REPORTED_BEFORE = re.compile(r"\b(?:said|says|mentioned|told (?:me|us)|estimates|expects|predicts|reckons|thinks|believes|shows|"
                              r"suggests|indicates|forecasts?|forecasting)\b|(?<!\bi )(?<!\bwe )\breckon\b|"
                              r"\b(?:have|has)\s+(?:confirmed|advised|informed us|let us know)\s+(?:that\s+)?"
                              r"(?:they|he|she|it)\b")
_QUESTION_START = re.compile(r"^\s*(would|could|can|shall|should|do|does|did|are|is|will you|may|why|how|"
                             r"when|what)\b")
_NOT_PROMISES = re.compile(r"\b(be happy to|be glad to|assume|be here|hope to|be closed|be honest|be frank)\b"
                           # a standing policy or an announcement to all, not a promise to this customer
                           r"|\b(?:each|every)\s+(?:month|week|day|year|morning|evening|quarter)\b"
                           r"|\b(?:every|all|each)\s+(?:tickets?|requests?|enquir(?:y|ies)|inquir(?:y|ies)|messages?|"
                           r"emails?|quer(?:y|ies)|customers?|orders?|users?|clients?|members?)\b"
                           # the other side acting for us ("your accountant will send us the figures")
                           r"|(?:'ll|\bwill|\bgoing to)\s+(?:\w+\s+)?(?:send|email|call|ring|text|message|give|tell|pay|"
                           r"forward|bring|return|get back to)\s+us\b")
# what we will need from the customer ("we'll need your invoice number"), not time ("we'll need a day")
_NEED = re.compile(r"(?:'ll|\bwill|\bgoing to|\bgonna)\s+(?:need|require)\s+(?!to\b|a (?:few|couple|day|week)|"
                   r"(?:some|more) time|\d)")
# a request to the customer that the promise answers ("kindly share the id and we will check"): a
# condition like "if you send the logs, we will..."
_REQUEST_THEN = re.compile(r"^\s*(?:(?:please|pls|plz|kindly|just|simply)\s+)*(?:send|share|provide|forward|attach|upload|"
                           r"confirm|reply|give us|let us know|tell us|fill|complete|email us|drop us|say|sign up|subscribe|join|"
                           r"order|buy|book now|refer a friend|drop|return|post|bring|pop|take)\b.*\band\s*$")
# an absence ("I'll be away tomorrow", "as I'm out of office next week"), from its conjunction to the end
# of its phrase: it is taken out of a clause before the clause is read, so an absence that is the whole
# commitment leaves nothing ("I'll be on leave next week"), and one beside a promise leaves the promise
# and its due time ("I'll finish it today since I'll be out tomorrow": today). "Be out ... to <verb>" is
# a visit, a promise ("our technician will be out tomorrow to install the meter"): it stays.
_ABSENT = (r"(?P<what>out of (?:the )?(?:office|country|town)|short[ -]staffed|in training|busy with|at (?:a|the) (?:conference|training|offsite|"
           r"summit|trade show)|back (?:on|from|after)\b(?! site| track| line| the road)|ooo|away|on (?:\w+ )?leave|on mc|on (?:holiday|vacation|pto)|unavailable|"
           r"off[ -]?site|offline|(?:out|off|travell?ing|flying)(?= (?:today|tomorrow|tonight|this|next|until|on|from|sick|for|"
           r"to (?:our|my|his|her|their|a|an|head)\b|to the (?:[\w\-]+\s+){0,2}(?:branch|office|conference|hq|summit|expo|"
           r"event|depot)\b)\b))\b")
ABSENCE = re.compile(
    r"(?:\b(?:as|since|because|while|though|although|and|so)\s+)?"
    # a person ("i", "we", ... with or without "be"), or someone named ("our technician") who will *be* away
    r"(?:\b(?:i|we|he|she|they)\s*(?:'ll|'m|'re|'s|\s(?:will|shall|am|are|is))(?:\s+(?:also|still|probably|going to|actually|"
    r"currently|now|just))*(?:\s+be)?"
    r"|\b(?P<staff>our|my|the|your|an?)(?:\s+[\w\-]+){1,3}?\s*(?:'ll|\s(?:will|shall|is going to))(?:\s+(?:also|still|probably))*\s+be"
    # or the same person again, after "and" ("I'm travelling to our Abuja office tomorrow and will be offline")
    r"|(?<=\band )(?:will|'ll)(?:\s+(?:also|still|probably))*\s+be"
    # or anyone named alone ("Sarah will be on annual leave until Monday")
    r"|\b(?P<named>[\w\-]+)\s*(?:'ll|\s(?:will|shall))(?:\s+(?:also|still|probably))*\s+be)"
    r"\s+" + _ABSENT +
    r"(?P<tail>.*?)(?=\s+(?:and|then|so|but)\b|\s*[,;.!?]|$)")
# a word every absence holds: most sentences hold none, and the absence pattern is not tried on them
_ABSENT_WORDS = ("off", "out", "ooo", "away", "leave", "mc", "holiday", "vacation", "pto", "unavailable", "site",
                 "travel", "flying", "staff", "conference", "training", "summit", "back", "busy", "country", "town")


def without_absences(text: str, keep) -> str:
    """``text`` with each absence phrase replaced by ``keep(match)``."""
    for w in _ABSENT_WORDS:
        if w in text:
            return ABSENCE.sub(keep, text)
    return text


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


def _is_visit(m: re.Match) -> bool:
    """Whether an "out" is a visit: "to" a service verb ("we'll be out on Wednesday to replace the
    router"), or, said of someone named ("the fibre tech will be out on Monday to splice the cable"),
    "to" do anything that is not an errand of their own."""
    if m.group("what") != "out":
        return False
    tail = m.group("tail")
    if _VISIT.search(tail):
        return True
    named = m.group("staff") is not None or m.group("named") not in (None, "i", "we", "you")
    return named and bool(_TO_DO.search(tail)) and not _ERRAND.search(tail)


def _absence(m: re.Match) -> str:
    """What is left of an absence phrase in a clause being read for a commitment: nothing, or all of
    it when it is a visit."""
    return m.group(0) if _is_visit(m) else ""


def absence_context(m: re.Match) -> str:
    """What is left of an absence phrase in a sentence read for a due time: its "until" ("I'll be away
    from my desk until 2pm, then will call you back": 2pm), else nothing."""
    if _is_visit(m):
        return m.group(0)
    until = _UNTIL.search(m.group("tail"))
    return until.group(0) if until else ""


def commitment_clause(sentence: str) -> str | None:
    parts = commitment_parts(sentence)
    return None if parts is None else parts[0]


def commitment_parts(sentence: str) -> tuple[str, str] | None:
    """The committing part of ``sentence`` (normalized, absences taken out: from the clause that commits
    to the end of its independent clause) and what leads to it in that independent clause ("tomorrow"
    in "Tomorrow, I'll call you at 3pm"), or None. Negations, past tense and "before" conditions are
    looked for in the committing clause only, other conditions in its independent clause and at the
    edges of its neighbours: "As discussed on the phone, I'll call you tomorrow" commits, "If you send
    the logs, we'll call you" and "we'll ship it tomorrow, but only if the payment clears" do not."""
    s = norm(sentence)
    if not s or s.endswith("?") or _QUESTION_START.match(s):
        return None
    segments = _SEGMENT.split(_WHETHER.sub(r"\1 whether", s) if "if" in s else s)
    for k, segment in enumerate(segments):
        segment = without_absences(segment, _absence)
        clauses = _CLAUSE.split(segment)
        for i, clause in enumerate(clauses):
            for marker in MARKERS:
                m = marker.search(clause)
                if m is None:
                    continue
                if _negated(clause, m.end()) or _NOT_PROMISES.search(clause) or _PAST.search(clause) or (
                        ("need" in clause or "require" in clause) and _NEED.search(clause)):
                    break
                if _REPORTED_BEFORE.search(clause, 0, m.end()):
                    break                   # "the courier says they'll attempt delivery again"
                if _HEDGED.search(",".join(clauses[:i] + [clause[:m.end()]])) and not _OURS.search(
                        clause, m.start(), m.end()):
                    break                   # "apparently the supplier will send it on Monday"
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


def first_promise(clause: str) -> str:
    """The first of the commitments a committing clause makes, up to where the next one starts (the
    whole clause when it makes one)."""
    for k, sep in enumerate(_THEN.finditer(clause, 1)):
        if k == 40:
            break                           # a second promise starts within the first few separators, if at all
        after = clause[sep.end():sep.end() + 160]       # a window: a long clause costs no more per separator
        if _THEN_BARE.match(after) or any(marker.match(after) for marker in MARKERS):
            return clause[:sep.start()]
    days = [d.start() for d in _DAY_WORDS.finditer(clause)]
    if len(days) > 1:
        for sep in _AND.finditer(clause, 1):     # "we'll courier it out today and email you the tracking tomorrow"
            if days[0] < sep.start() and days[-1] >= sep.end():
                return clause[:sep.start()]
    return clause


# (not days joined: "for saturday and sunday by tomorrow morning")
_AND = re.compile(r",?\s+(?:and|then|so(?: that)?)\s+(?!(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|the\s)(?=[a-z']+\s)")
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
