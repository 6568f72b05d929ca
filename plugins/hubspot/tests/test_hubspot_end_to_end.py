"""End to end: loopback HubSpot → ``careplug run`` → findings → tasks in HubSpot → a second run
writes nothing new → the agent replies → the next run completes that task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from datetime import datetime, timezone

from careplug.testing.fakes.hubspot import FakeHubSpot, iso_ms


def unanswered_ticket(fake: FakeHubSpot, hours_ago: float, now_ms: int) -> str:
    """A ticket whose customer wrote ``hours_ago`` and got no reply."""
    contact = fake.put("contacts", {"firstname": "Ada", "email": f"ada{fake.next_id()}@example.com"})
    ticket = fake.put("tickets", {"subject": "Where is my order?", "hs_pipeline": "0", "hs_pipeline_stage": "1",
                                  "hubspot_owner_id": "100", "source_type": "EMAIL",
                                  "createdate": iso_ms(now_ms - int(hours_ago * 3_600_000))})
    fake.associate("tickets", ticket["id"], "contacts", contact["id"])
    email = fake.put("emails", {"hs_email_direction": "INCOMING_EMAIL", "hs_email_text": "Hello?",
                                "hs_timestamp": iso_ms(now_ms - int(hours_ago * 3_600_000))})
    fake.associate("emails", email["id"], "tickets", ticket["id"])
    fake.associate("emails", email["id"], "contacts", contact["id"])
    return ticket["id"]


def run(config: Path, now: str, token: str) -> dict:
    env = {**os.environ, "CAREPLUG_NOW": now, "CAREPLUG_E2E_HS_TOKEN": token}
    proc = subprocess.run([sys.executable, "-m", "careplug", "--json", "--config", str(config), "run"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert token not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_careplug_run_writes_one_task_per_neglected_ticket_nothing_twice_and_completes_it_on_reply(tmp_path: Path) -> None:
    with FakeHubSpot() as fake:
        fake.add_owner("100", "agent@example.com", "Grace", "Hopper")
        now_ms = fake.clock_ms + 3_600_000
        neglected = {unanswered_ticket(fake, 30, now_ms), unanswered_ticket(fake, 50, now_ms)}
        fresh = unanswered_ticket(fake, 0.5, now_ms)
        now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).isoformat()
        config = tmp_path / "careplug.toml"
        config.write_text(f'''
[store]
path = "{tmp_path / 'careplug.db'}"

[sources.hubspot]
type = "hubspot"
token_env = "CAREPLUG_E2E_HS_TOKEN"
host = "{fake.url}"
backoff = 0.05
search_per_second = 50

[rules.unanswered]
first_reply = "4h"
calendar = "always"
''')
        first = run(config, now, fake.token)
        tasks = list(fake.objects["tasks"].values())
        on = {t for task in tasks for t in fake.associated("tasks", task["id"], "tickets")}
        assert on == neglected, f"tasks on {on}, expected {neglected} (not {fresh})"
        for task in tasks:
            props = task["properties"]
            assert "careplug:" in props["hs_task_body"] and props["careplug_marker"].startswith("careplug:")
            assert props["hubspot_owner_id"] == "100" and props["hs_task_status"] == "NOT_STARTED"
            assert fake.associated("tasks", task["id"], "contacts"), "the task is not on the contact"
        assert first["ok"]

        fake.reset_calls()
        second = run(config, now, fake.token)
        assert second["ok"]
        assert len(fake.objects["tasks"]) == len(tasks), "the second run wrote again"
        assert fake.calls["batch.create"] == 0

        answered = sorted(neglected)[0]
        reply = fake.put("emails", {"hs_email_direction": "EMAIL", "hs_email_text": "On its way!",
                                    "hubspot_owner_id": "100", "hs_timestamp": iso_ms(now_ms - 60_000)})
        fake.associate("emails", reply["id"], "tickets", answered)
        third = run(config, now, fake.token)
        assert third["ok"]
        status = {t: task["properties"]["hs_task_status"] for task in fake.objects["tasks"].values()
                  for t in fake.associated("tasks", task["id"], "tickets")}
        assert status == {answered: "COMPLETED", (neglected - {answered}).pop(): "NOT_STARTED"}
