"""The webhook notifier: ``notify`` nudges as Slack-compatible incoming-webhook messages.

Registered through ``careplug_register_notifiers`` like any third-party notifier::

    [notifiers.slack]
    type = "webhook"
    url = "${SLACK_WEBHOOK_URL}"     # a secret: from the environment or a secret file, never logged

Each nudge is one ``POST`` of ``{"text": ..., "blocks": [...]}`` (what Slack, Mattermost, Rocket.Chat
and Teams' Slack-compatible endpoints accept). Connection errors, timeouts, 429 (honouring
``Retry-After``) and 5xx are retried with exponential backoff (tenacity); other 4xx fail at once.
A failure part-way through a batch raises ``DeliveryError`` carrying the receipts of the messages
already sent, so only the rest are retried. A chat webhook cannot be asked what it already
received: a run killed between the POST and the ledger's *delivered* may post a message twice on
the next run (at-least-once), never lose it. Neither the URL nor any part of it appears in errors
or logs.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from pydantic import Field, SecretStr, field_validator
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

import careplug

from ..errors import DeliveryError
from ..notifier import Notifier, NotifierOptions
from ..nudges.model import Nudge, Receipt

log = logging.getLogger(__name__)


class WebhookOptions(NotifierOptions):
    url: SecretStr
    """The incoming-webhook URL: write ``"${ENV_VAR}"`` or ``"${file:path}"``, never the URL itself."""
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)
    """Seconds before the first retry; doubled for each next one (a Retry-After header wins)."""
    max_wait: float = Field(default=60.0, ge=0)

    @field_validator("url")
    @classmethod
    def _http(cls, v: SecretStr) -> SecretStr:
        if urlsplit(v.get_secret_value()).scheme not in ("http", "https"):
            raise ValueError("the webhook url must be an http(s) URL")  # the value is not echoed
        return v


class _Retriable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Redact(logging.Filter):
    """Keeps the secret part of the URL out of urllib3's debug logs."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret and self.secret in message:
            record.msg, record.args = message.replace(self.secret, "/<redacted>"), ()
        return True


class WebhookNotifier(Notifier):
    kind = "webhook"
    Options = WebhookOptions

    def __init__(self, name: str, options: WebhookOptions):
        super().__init__(name, options)
        self.options: WebhookOptions = options
        self.session = requests.Session()
        parts = urlsplit(options.url.get_secret_value())
        self._redact = _Redact(parts.path + (f"?{parts.query}" if parts.query else ""))
        logging.getLogger("urllib3.connectionpool").addFilter(self._redact)

    def _scrub(self, text: str) -> str:
        """``text`` with every longer piece of the URL's path and query, and its credentials
        (``user:password@``, in any form a server may echo: as written, or as the Basic
        ``Authorization`` header made of them), replaced."""
        parts = urlsplit(self.options.url.get_secret_value())
        pieces = {parts.path, parts.query, *parts.path.split("/"), *parts.query.split("&")}
        if parts.username or parts.password:
            user, password = parts.username or "", parts.password or ""
            pieces |= {parts.netloc.rpartition("@")[0], user, password, unquote(user), unquote(password)}
            plain = f"{unquote(user)}:{unquote(password)}"
            for encoding in ("latin-1", "utf-8"):             # requests builds Basic auth from latin-1
                try:
                    pieces.add(base64.b64encode(plain.encode(encoding)).decode())
                except UnicodeEncodeError:
                    pass
        for piece in sorted(pieces, key=len, reverse=True):
            if len(piece) >= 6:
                text = text.replace(piece, "<redacted>")
        return text

    def payload(self, nudge: Nudge) -> dict[str, Any]:
        """The message for one nudge: ``text`` (the fallback every client shows) and ``blocks``."""
        who = f" → {nudge.assignee}" if nudge.assignee else ""
        due = f" · due {nudge.due_at:%Y-%m-%d %H:%M} UTC" if nudge.due_at else ""
        head = f"{'Escalation' if nudge.escalation else 'Follow-up'}{who}{due}"
        text = f"{head}: {nudge.title}"
        return {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*\n{nudge.title}"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": nudge.body or nudge.title}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": nudge.marker}]},
            ],
        }

    def send(self, nudges: list[Nudge]) -> list[Receipt]:
        receipts: list[Receipt] = []
        for nudge in nudges:
            try:
                self._post(self.payload(nudge))
            except DeliveryError as exc:
                raise DeliveryError(str(exc), receipts=receipts) from None
            receipts.append(Receipt(nudge.key, None, datetime.now(timezone.utc)))
        return receipts

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.options.max_wait)
        return min(self.options.backoff * 2 ** (state.attempt_number - 1), self.options.max_wait)

    def _post(self, payload: dict[str, Any]) -> None:
        retrying = Retrying(retry=retry_if_exception_type(_Retriable), wait=self._wait,
                            stop=stop_after_attempt(self.options.retries + 1), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    self._post_once(payload)
        except _Retriable as exc:
            raise DeliveryError(f"webhook {self.name!r}: {exc} (after {self.options.retries + 1} attempts)") from None

    def _post_once(self, payload: dict[str, Any]) -> None:
        try:
            r = self.session.post(self.options.url.get_secret_value(), json=payload, timeout=self.options.timeout)
        except requests.Timeout:
            raise _Retriable("timed out") from None
        except requests.ConnectionError:
            raise _Retriable("could not connect") from None
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook {self.name!r}: {type(exc).__name__}") from None
        if r.status_code < 300:
            return
        detail = f"HTTP {r.status_code} {self._scrub(r.text.strip())[:120]}".strip()    # scrubbed, then cut
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retriable(detail, _retry_after(r.headers.get("Retry-After")))
        raise DeliveryError(f"webhook {self.name!r}: {detail}")

    def close(self) -> None:
        self.session.close()
        logging.getLogger("urllib3.connectionpool").removeFilter(self._redact)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


@careplug.hookimpl
def careplug_register_notifiers(register):
    register(WebhookNotifier)
