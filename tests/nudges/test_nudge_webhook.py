"""The webhook notifier against a loopback chat webhook: Slack-compatible JSON, retries, no secret leaks."""

from __future__ import annotations

import base64
import logging
import socket
from datetime import timedelta

import pytest

from careplug.errors import DeliveryError
from careplug.notifiers.webhook import WebhookNotifier, WebhookOptions
from careplug.nudges.delivery import run_nudges
from careplug.nudges.model import Action, Nudge
from careplug.plugins import Plugins
from careplug.testing.fakes.base import FakeServer, Request, Response, route

from nudge_app import T0, finding, make_app, save

SECRET = "/services/T0000/B0000/SECRETTOKEN"


class FakeChat(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict] = []
        self.refuse_after: int | None = None

    @route("POST", SECRET, name="webhook")
    def post(self, req: Request) -> Response:
        if self.refuse_after is not None and len(self.messages) >= self.refuse_after:
            return Response(400, b"invalid_payload", {"Content-Type": "text/plain"})
        self.messages.append(req.json())
        return Response(200, b"ok", {"Content-Type": "text/plain"})


@pytest.fixture
def chat():
    with FakeChat() as fake:
        yield fake


def notifier(url: str, **kw) -> WebhookNotifier:
    return WebhookNotifier("slack", WebhookOptions(url=url, backoff=0, max_wait=0, **kw))


def nudge(i: int = 1) -> Nudge:
    return Nudge(f"k{i}", "f", "breach", Action.NOTIFY, "slack", f"Ticket {i} breached", body="details",
                 assignee="maria", escalation=True, due_at=T0)


def test_the_webhook_notifier_is_registered_like_a_third_party_plugin():
    plugins = Plugins(builtins=("careplug.notifiers.webhook",), load_entry_points=False)
    assert plugins.notifiers()["webhook"] is WebhookNotifier


def test_each_nudge_is_posted_as_slack_compatible_json(chat):
    receipts = notifier(chat.url + SECRET).send([nudge(1), nudge(2)])
    assert [r.key for r in receipts] == ["k1", "k2"]
    first = chat.messages[0]
    assert first["text"] == "Escalation → maria · due 2026-11-23 10:00 UTC: Ticket 1 breached"
    assert first["blocks"][0]["type"] == "section" and "careplug:k1" in first["blocks"][-1]["elements"][0]["text"]


def test_transient_failures_are_retried_honouring_retry_after(chat):
    chat.inject("503", times=1)
    chat.inject("429", times=1, retry_after=0.01)
    notifier(chat.url + SECRET, retries=2).send([nudge()])
    assert len(chat.messages) == 1 and chat.calls["webhook"] == 3


def test_a_failure_part_way_keeps_the_receipts_of_what_was_sent(chat):
    chat.refuse_after = 1
    with pytest.raises(DeliveryError) as info:
        notifier(chat.url + SECRET, retries=0).send([nudge(1), nudge(2)])
    assert [r.key for r in info.value.receipts] == ["k1"]
    assert "HTTP 400 invalid_payload" in str(info.value)


def test_errors_and_logs_never_contain_the_secret_url(chat, caplog):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    for url in (chat.url + SECRET + "x", f"http://127.0.0.1:{closed_port}{SECRET}"):
        with pytest.raises(DeliveryError) as info:
            notifier(url, retries=1).send([nudge()])
        assert "SECRETTOKEN" not in str(info.value)
    assert "SECRETTOKEN" not in caplog.text


class EchoingChat(FakeServer):
    """A webhook that refuses everything and echoes what it was sent, credentials included."""

    @route("POST", SECRET, name="webhook")
    def post(self, req: Request) -> Response:
        echo = f"bad request from {req.headers.get('Authorization') or req.headers.get('authorization')} to {req.path}"
        return Response(400, echo.encode(), {"Content-Type": "text/plain"})


@pytest.mark.parametrize("userinfo,password", [("hook-user:Pa55word-xyz", "Pa55word-xyz"),
                                               ("hook-user:p%40ssw0rd-long", "p@ssw0rd-long"),
                                               ("hook-user:p%C3%A4ssw%C3%B6rd", "pässwörd")])
def test_credentials_in_the_url_are_not_echoed_back_into_errors(caplog, userinfo, password):
    caplog.set_level(logging.DEBUG)
    with EchoingChat() as fake:
        url = fake.url.replace("http://", f"http://{userinfo}@") + SECRET
        with pytest.raises(DeliveryError) as info:
            notifier(url, retries=1).send([nudge()])
    text = str(info.value) + caplog.text
    assert "HTTP 400" in str(info.value)
    basic = [base64.b64encode(f"hook-user:{password}".encode(enc)).decode()[:12] for enc in ("latin-1", "utf-8")]
    for secret in (password, userinfo, *basic, "SECRETTOKEN"):
        assert secret not in text, secret


def test_run_nudges_sends_a_breach_notification_once(chat, crm, store_path):
    policy = {"stages": {"breach": {"actions": ["task", {"action": "notify", "notifier": "slack"}],
                                    "assign_to": "manager"}},
              "hierarchy": {"managers": {"alice": "maria"}}}
    app = make_app(store_path, crm.url, policy=policy, notifiers={"slack": notifier(chat.url + SECRET)})
    save(app.store, finding(1, owner="alice", stage="breach"))
    run_nudges(app, T0)
    run_nudges(app, T0 + timedelta(minutes=5))
    assert len(chat.messages) == 1 and "maria" in chat.messages[0]["text"]
    assert [t["assignee"] for t in crm.tasks] == ["maria"]
