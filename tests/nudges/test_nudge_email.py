"""The email notifier against a local SMTP server started by the test (aiosmtpd)."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from datetime import timedelta
from email import policy as email_policy

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from careplug.errors import DeliveryError  # noqa: E402
from careplug.notifiers.email import EmailNotifier, EmailOptions  # noqa: E402
from careplug.nudges.delivery import run_nudges  # noqa: E402
from careplug.nudges.model import Action, Nudge  # noqa: E402
from careplug.plugins import Plugins  # noqa: E402

from nudge_app import T0, finding, make_app, save  # noqa: E402

USER, PASSWORD = "careplug", "s3cret-pw"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email_policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
            and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port(),
                                                authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def nudge(i: int = 1, assignee: str | None = "maria") -> Nudge:
    return Nudge(f"k{i}", "f", "breach", Action.NOTIFY, "mail", f"Ticket {i} breached", body="details",
                 assignee=assignee, escalation=True, due_at=T0)


def options(port: int, **kw) -> EmailOptions:
    return EmailOptions.model_validate({"host": "127.0.0.1", "port": port, "sender": "careplug@example.com",
                                        "backoff": 0, **kw})


def test_the_email_notifier_is_registered_like_a_third_party_plugin():
    plugins = Plugins(builtins=("careplug.notifiers.email",), load_entry_points=False)
    assert plugins.notifiers()["email"] is EmailNotifier


def test_each_nudge_is_one_email_to_the_assignee_with_its_marker(smtp):
    n = EmailNotifier("mail", options(smtp.port, addresses={"maria": "maria@example.com"}, to=["team@example.com"]))
    receipts = n.send([nudge(1), nudge(2, assignee=None)])
    assert [r.key for r in receipts] == ["k1", "k2"]
    (to1, m1), (to2, _) = smtp.messages
    assert (to1, to2) == (["maria@example.com"], ["team@example.com"])
    assert m1["Subject"] == "[careplug] Ticket 1 breached"
    assert m1["X-Careplug-Nudge"] == "careplug:k1" and m1["Message-ID"] == "<careplug.k1@example.com>"
    assert "Escalation: Ticket 1 breached" in m1.get_content() and "Due: 2026-11-23 10:00 UTC" in m1.get_content()


def test_login_uses_the_configured_credentials_and_a_wrong_password_fails_without_echoing_it(smtp):
    EmailNotifier("mail", options(smtp.port, username=USER, password=PASSWORD, to=["team@example.com"])).send([nudge()])
    assert smtp.logins == [USER] and len(smtp.messages) == 1
    with pytest.raises(DeliveryError) as info:
        EmailNotifier("mail", options(smtp.port, username=USER, password="wrong-pw", to=["t@example.com"])
                      ).send([nudge()])
    assert "refused the login" in str(info.value) and "wrong-pw" not in str(info.value)


def test_a_nudge_with_no_address_fails_and_keeps_the_receipts_of_those_sent(smtp):
    n = EmailNotifier("mail", options(smtp.port))
    with pytest.raises(DeliveryError) as info:
        n.send([nudge(1, assignee="a@example.com"), nudge(2, assignee="bob")])
    assert [r.key for r in info.value.receipts] == ["k1"] and "no address for 'bob'" in str(info.value)


def test_an_unreachable_server_is_retried_then_reported():
    n = EmailNotifier("mail", options(free_port(), retries=1, to=["t@example.com"]))
    with pytest.raises(DeliveryError, match="cannot reach 127.0.0.1"):
        n.send([nudge()])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_starttls_upgrades_the_connection_before_login(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                                                require_starttls=True, authenticator=inbox.authenticate)
    controller.start()
    try:
        n = EmailNotifier("mail", options(controller.port, starttls=True, ca_file=str(cert), username=USER,
                                          password=PASSWORD, to=["t@example.com"]))
        n.send([nudge()])
        assert inbox.logins == [USER] and len(inbox.messages) == 1
    finally:
        controller.stop()


def test_run_nudges_emails_the_manager_from_the_people_table_once(smtp, crm, store_path):
    policy = {"stages": {"breach": {"actions": [{"action": "notify", "notifier": "mail"}], "assign_to": "manager"}},
              "hierarchy": {"managers": {"alice": "maria"}},
              "people": {"maria": {"email": "maria@example.com"}}}
    app = make_app(store_path, crm.url, policy=policy, notifiers={"mail": EmailNotifier("mail", options(smtp.port))})
    save(app.store, finding(1, owner="alice", stage="breach"))
    assert run_nudges(app, T0).ok
    run_nudges(app, T0 + timedelta(minutes=5))
    assert [to for to, _ in smtp.messages] == [["maria@example.com"]]
