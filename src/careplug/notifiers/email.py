"""The email notifier: ``notify`` nudges as emails through an SMTP server (``smtplib``).

Registered through ``careplug_register_notifiers`` like any third-party notifier::

    [notifiers.mail]
    type = "email"
    host = "smtp.example.com"
    port = 587
    starttls = true
    username = "${SMTP_USER}"          # credentials come from the environment or secret files
    password = "${SMTP_PASSWORD}"
    sender = "careplug@example.com"
    to = ["support-leads@example.com"]    # when the assignee's address is unknown
    addresses = { maria = "maria@example.com" }

The recipient of a nudge is, in order: its ``assignee_email`` (from ``[nudges.people.X] email``),
``addresses[assignee]``, the assignee itself when it is an address, else ``to``. One SMTP session
per batch; transient failures (connection lost, 4xx replies) are retried (tenacity). Each message
carries ``Message-ID: <careplug.KEY@...>`` and ``X-Careplug-Nudge: careplug:KEY``, so the rare
duplicate after a crash between sending and recording (email cannot be asked what it already
sent: at-least-once) is recognisable and collapsed by most mail clients. Credentials are never
logged or put in errors.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import Field, SecretStr, model_validator
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

import careplug

from ..errors import DeliveryError
from ..flags import Flag
from ..notifier import Notifier, NotifierOptions
from ..nudges.model import Nudge, Receipt

_TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError)


class EmailOptions(NotifierOptions):
    host: str
    port: int = Field(default=25, gt=0, lt=65536)
    starttls: Flag = False
    ssl: Flag = False
    """Implicit TLS (port 465); ``starttls`` upgrades a plain connection instead."""
    ca_file: str | None = None
    """A CA bundle to verify the server with (default: the system's)."""
    username: SecretStr | None = None
    password: SecretStr | None = None
    sender: str
    to: list[str] = Field(default_factory=list)
    addresses: dict[str, str] = Field(default_factory=dict)
    subject_prefix: str = "[careplug] "
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "EmailOptions":
        if self.ssl and self.starttls:
            raise ValueError("use either ssl (implicit TLS) or starttls, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        if "@" not in self.sender:
            raise ValueError("sender must be an email address")
        return self


class _Transient(Exception):
    pass


class EmailNotifier(Notifier):
    kind = "email"
    Options = EmailOptions

    def __init__(self, name: str, options: EmailOptions):
        super().__init__(name, options)
        self.options: EmailOptions = options

    def recipient(self, nudge: Nudge) -> list[str]:
        o = self.options
        known = nudge.extra.get("assignee_email") or (o.addresses.get(nudge.assignee) if nudge.assignee else None)
        if known:
            return [known]
        if nudge.assignee and "@" in nudge.assignee:
            return [nudge.assignee]
        return list(o.to)

    def message(self, nudge: Nudge, to: list[str]) -> EmailMessage:
        msg = EmailMessage()
        kind = "Escalation" if nudge.escalation else "Follow-up"
        msg["Subject"] = f"{self.options.subject_prefix}{nudge.title}"
        msg["From"] = self.options.sender
        msg["To"] = ", ".join(to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<careplug.{nudge.key}@{self.options.sender.rpartition('@')[2]}>"
        msg["X-Careplug-Nudge"] = nudge.marker
        due = f"\nDue: {nudge.due_at:%Y-%m-%d %H:%M} UTC" if nudge.due_at else ""
        who = f"\nFor: {nudge.assignee}" if nudge.assignee else ""
        msg.set_content(f"{kind}: {nudge.title}{who}{due}\n\n{nudge.body}\n\n-- \n{nudge.marker}\n")
        return msg

    def send(self, nudges: list[Nudge]) -> list[Receipt]:
        receipts: list[Receipt] = []
        pending = list(nudges)
        retrying = Retrying(retry=retry_if_exception_type(_Transient), reraise=True,
                            stop=stop_after_attempt(self.options.retries + 1),
                            wait=wait_exponential(multiplier=self.options.backoff, max=60))
        try:
            for attempt in retrying:
                with attempt:
                    self._session(pending, receipts)
        except _Transient as exc:
            raise DeliveryError(f"email {self.name!r}: {exc}", receipts=receipts) from None
        except DeliveryError as exc:
            raise DeliveryError(str(exc), receipts=receipts) from None
        return receipts

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        context = ssl.create_default_context(cafile=o.ca_file)
        if o.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout, context=context)
        else:
            smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
            if o.starttls:
                smtp.starttls(context=context)
        if o.username is not None and o.password is not None:
            smtp.login(o.username.get_secret_value(), o.password.get_secret_value())
        return smtp

    def _session(self, pending: list[Nudge], receipts: list[Receipt]) -> None:
        """Send ``pending`` in one SMTP session, moving each sent nudge to ``receipts``."""
        try:
            smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"email {self.name!r}: the server refused the login (SMTP {exc.smtp_code})") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"email {self.name!r}: TLS failed ({exc.reason})") from None
        except (*_TRANSIENT, OSError) as exc:
            raise _Transient(f"cannot reach {self.options.host}:{self.options.port} ({type(exc).__name__})") from None
        try:
            while pending:
                nudge = pending[0]
                to = self.recipient(nudge)
                if not to:
                    raise DeliveryError(f"email {self.name!r}: no address for {nudge.assignee!r} "
                                        f"(set [nudges.people.X] email, addresses or to)")
                try:
                    smtp.send_message(self.message(nudge, to))
                except smtplib.SMTPRecipientsRefused as exc:
                    raise DeliveryError(f"email {self.name!r}: recipients refused: {', '.join(exc.recipients)}") from None
                except smtplib.SMTPResponseException as exc:
                    if 400 <= exc.smtp_code < 500:
                        raise _Transient(f"SMTP {exc.smtp_code} (temporary)") from None
                    raise DeliveryError(f"email {self.name!r}: SMTP {exc.smtp_code}") from None
                except _TRANSIENT as exc:
                    raise _Transient(f"connection lost ({type(exc).__name__})") from None
                receipts.append(Receipt(nudge.key, None, datetime.now(timezone.utc)))
                pending.pop(0)
        finally:
            try:
                smtp.quit()
            except Exception:  # the session is over either way
                smtp.close()


@careplug.hookimpl
def careplug_register_notifiers(register):
    register(EmailNotifier)
