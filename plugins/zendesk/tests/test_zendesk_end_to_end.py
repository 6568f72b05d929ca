"""End to end: a loopback Zendesk → ``careplug run`` (the real CLI, in a subprocess) → findings → a
follow-up ticket and a tagged internal note written back → a second run writes nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from careplug.testing.fakes.zendesk import FakeZendesk

DAY = 86_400


@pytest.fixture
def zendesk():
    fake = FakeZendesk(email="bot@acme.example", token="zd-e2e-secret-token")
    with fake:
        now = int(time.time())
        agent = fake.add_user(name="Alex Agent", role="agent", email="alex@acme.example", at=now - 30 * DAY)
        fake.add_user(name="Ada Admin", role="admin", email="ada@acme.example", at=now - 30 * DAY)
        org = fake.add_organization(name="Globex", at=now - 30 * DAY, organization_fields={"tier": "key"})
        grace = fake.add_user(name="Grace", email="grace@globex.example", organization_id=org["id"], at=now - 30 * DAY)
        linus = fake.add_user(name="Linus", email="linus@globex.example", organization_id=org["id"], at=now - 30 * DAY)
        waiting = fake.add_ticket(requester_id=grace["id"], subject="Invoice shows the wrong amount", status="open",
                                  assignee_id=agent["id"], organization_id=org["id"], at=now - 2 * DAY,
                                  comment={"body": "My invoice is wrong, please help.", "author_id": grace["id"]})
        answered = fake.add_ticket(requester_id=linus["id"], subject="How do I add a user?", status="open",
                                   assignee_id=agent["id"], organization_id=org["id"], at=now - 2 * DAY,
                                   comment={"body": "How do I add a user?", "author_id": linus["id"]})
        fake.add_comment(answered["id"], body="Settings → Users → Add.", author_id=agent["id"], at=now - 2 * DAY + 600,
                         status="solved")
        fake.e2e = {"agent": agent["id"], "waiting": waiting["id"], "answered": answered["id"]}  # type: ignore[attr-defined]
        yield fake


def write_config(tmp_path: Path, fake: FakeZendesk) -> Path:
    config = tmp_path / "careplug.toml"
    config.write_text(f"""
[store]
path = "careplug.db"

[sources.support]
type = "zendesk"
subdomain = "{fake.subdomain}"
base_url = "{fake.url}"
email_env = "E2E_ZENDESK_EMAIL"
token_env = "E2E_ZENDESK_TOKEN"
oauth_token_env = "E2E_ZENDESK_OAUTH"
incremental_per_minute = 600
requests_per_minute = 600
job_poll_interval = 0
timeout = 5

[rules.unanswered]
first_reply = "1h"
next_reply = "4h"

[nudges.stages.breach]
actions = ["task", {{ action = "tag", tags = ["careplug_unanswered"] }}]
assign_to = "owner"
""")
    return config


def careplug_run(config: Path, fake: FakeZendesk) -> dict:
    env = {**os.environ, "E2E_ZENDESK_EMAIL": fake.email, "E2E_ZENDESK_TOKEN": fake.token}
    env.pop("E2E_ZENDESK_OAUTH", None)
    proc = subprocess.run([sys.executable, "-m", "careplug", "--config", str(config), "--json", "run"],
                          cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"careplug run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert fake.token not in proc.stdout + proc.stderr, "the API token appeared in careplug's output"
    return json.loads(proc.stdout)


def followups(fake: FakeZendesk) -> list[dict]:
    return [t for t in fake.tickets.values() if str(t.get("external_id") or "").startswith("careplug:")]


WRITES = ("tickets.create", "tickets.create_many", "tickets.update", "tickets.update_many")


def test_careplug_run_finds_the_unanswered_ticket_writes_one_follow_up_and_a_second_run_writes_nothing(
        tmp_path: Path, zendesk: FakeZendesk) -> None:
    config = write_config(tmp_path, zendesk)
    ids = zendesk.e2e  # type: ignore[attr-defined]

    first = careplug_run(config, zendesk)

    tasks = followups(zendesk)
    assert len(tasks) == 1, f"expected one follow-up ticket, got {tasks}"
    task = tasks[0]
    assert task["type"] == "task" and task["assignee_id"] == ids["agent"] and task["due_at"]
    assert "careplug_nudge" in task["tags"]
    note = zendesk.comments[task["id"]][0]
    assert not note["public"], "the follow-up's note must be internal"
    assert f"#{ids['waiting']}" in note["body"] and task["external_id"] in note["body"]
    waiting = zendesk.tickets[ids["waiting"]]
    assert "careplug_unanswered" in waiting["tags"] and "careplug_nudge" in waiting["tags"]
    notes = [c for c in zendesk.comments[ids["waiting"]] if not c["public"]]
    assert len(notes) == 1 and "careplug:" in notes[0]["body"], "one internal note with its marker"
    assert not any("careplug" in t for t in zendesk.tickets[ids["answered"]]["tags"]), "the answered ticket is left alone"
    assert first["nudges"], first

    writes_before = {k: zendesk.calls[k] for k in WRITES}
    tickets_before = len(zendesk.tickets)
    comments_before = sum(len(c) for c in zendesk.comments.values())

    second = careplug_run(config, zendesk)

    assert {k: zendesk.calls[k] for k in WRITES} == writes_before, "the second run wrote to Zendesk"
    assert len(zendesk.tickets) == tickets_before
    assert sum(len(c) for c in zendesk.comments.values()) == comments_before
    assert second["ok"], second


def test_when_the_agent_replies_the_next_run_solves_the_follow_up(tmp_path: Path, zendesk: FakeZendesk) -> None:
    config = write_config(tmp_path, zendesk)
    ids = zendesk.e2e  # type: ignore[attr-defined]
    careplug_run(config, zendesk)
    [task] = followups(zendesk)
    assert task["status"] != "solved"

    zendesk.add_comment(ids["waiting"], body="Sorry for the wait: the invoice is corrected.", author_id=ids["agent"],
                        status="pending")
    careplug_run(config, zendesk)

    [task] = followups(zendesk)
    assert task["status"] == "solved", "the follow-up of a cleared finding is closed"
    assert "careplug_nudge" not in zendesk.tickets[ids["waiting"]]["tags"], "the note's ticket is untagged"
    assert len(followups(zendesk)) == 1
