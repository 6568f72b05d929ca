"""A message as the promise reader sees it: its sentences, the quoted history of an email reply left
out, and whether it is an automated notice."""

from __future__ import annotations

import re

# a sentence ends at ".", "!", "?", a line break, or an emoji in chat ("Sorry boss 🙏 Rider will come back")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[\u2600-\u27bf\U0001f300-\U0001faff])\s+")
# a title or abbreviation ends no sentence ("I'll ask Dr. Patel and call you")
_TITLE = re.compile(r"(?:^|\s)(?:dr|mr|mrs|ms|mx|prof|fr|rev|sr|sgt|capt)\.$", re.IGNORECASE)
_ABBREVIATION = re.compile(r"(?:^|\s)(?:st|no|vs|approx|dept|ext|ref|e\.g|i\.e|etc|inc|ltd|co)\.$", re.IGNORECASE)
# where the quoted history of an email reply starts: what it quotes is not this message's promise
_QUOTED = re.compile(r"^\s*(?:>|on\s.{1,200}\swrote:\s*$|-{2,}\s*original message\s*-{2,}|from:\s.+\bsent:\s)",
                     re.IGNORECASE | re.MULTILINE)

# an automated notice: a promise in it ("a member of our team will respond within 1 business day") is
# a service level, timed by the unanswered rule, not a person's commitment
AUTOMATED = re.compile(r"^\W*(?:automated|auto-?reply|automatic reply|auto-?response)\b|\bthis is an automated\b|"
                        r"\b(?:please )?do not reply to this (?:e-?mail|message)|\bthis (?:mailbox|inbox) is not monitored\b|"
                        r"\bno-?reply@", re.IGNORECASE)


def norm(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").strip().lower()


# someone else's words quoted inline: three words or more in quotation marks, or what follows "you wrote:"
_INLINE_QUOTE = re.compile(r"\"[^\"\n]*?\w+\W+\w+\W+\w+[^\"\n]*\"|“[^”\n]*?\w+\W+\w+\W+\w+[^”\n]*”|"
                           r"\b(?:you wrote|you said|your (?:message|email|note) (?:said|says|read)|you mentioned)\s*:[^\n]*",
                           re.IGNORECASE)


def unquoted(text: str) -> str:
    """``text`` without the quoted history of an email reply (from the first "> " line, "On … wrote:",
    "-----Original Message-----" or "From: … Sent:" on), and without words quoted inline ("From your
    message: "I'll pay the balance by Friday"" is the customer's promise, not the agent's)."""
    m = _QUOTED.search(text)
    text = text[:m.start()] if m else text
    if " | " in text:                       # a signature or footer line ("Acme Support | We reply within 24h")
        text = "\n".join(line for line in text.split("\n") if " | " not in line)
    return _INLINE_QUOTE.sub(" ", text) if ('"' in text or "“" in text or ":" in text) else text


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, a title or abbreviation ("Dr.", "e.g.") not taken for an end."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        piece = piece.strip()
        if out and piece and (_TITLE.search(out[-1]) or (_ABBREVIATION.search(out[-1]) and not piece[0].isupper())):
            out[-1] = f"{out[-1]} {piece}"          # "dr. patel", "e.g. tomorrow"; not "main st. Does that suit?"
        elif piece:
            out.append(piece)
    return out
