"""A loopback task CRM and a Source that delivers nudges to it — test support for the nudge engine.

``FakeTaskCRM`` keeps tasks in memory (in the test process, so they outlive a killed run):
``POST /tasks/batch`` creates tasks, ``GET /tasks?marker=..`` finds them by marker,
``POST /tasks/close`` closes them. ``TaskCrmSource`` is what an adapter does: look the markers
up first, create only the missing ones (in chunks, with a failpoint between chunks so a crash can
land mid-batch), return one receipt per nudge; ``cancel`` closes tasks.
"""

from __future__ import annotations

from datetime import datetime, timezone

import requests

import careplug
from careplug.nudges import failpoints
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Source, SourceOptions
from careplug.testing.fakes.base import FakeServer, Request, Response, route


class FakeTaskCRM(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[dict] = []

    @route("POST", r"/tasks/batch", name="tasks.batch")
    def create(self, req: Request) -> Response:
        ids = []
        for task in req.json()["tasks"]:
            task = {**task, "id": str(len(self.tasks) + 1), "closed": False}
            self.tasks.append(task)
            ids.append(task["id"])
        return Response.json({"ids": ids})

    @route("GET", r"/tasks", name="tasks.search")
    def search(self, req: Request) -> Response:
        markers = set((req.arg("marker") or "").split(","))
        return Response.json({"tasks": [t for t in self.tasks if t["marker"] in markers]})

    @route("POST", r"/tasks/close", name="tasks.close")
    def close(self, req: Request) -> Response:
        ids = set(req.json()["ids"])
        for t in self.tasks:
            if t["id"] in ids:
                t["closed"] = True
        return Response.json({"closed": sorted(ids)})

    def by_marker(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for t in self.tasks:
            out.setdefault(t["marker"], []).append(t)
        return out


class TaskCrmOptions(SourceOptions):
    url: str
    chunk: int = 100


class TaskCrmSource(Source):
    kind = "test_task_crm"
    Options = TaskCrmOptions

    def _now(self) -> datetime:
        return datetime.now(timezone.utc)

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        if not nudges:
            return {}
        r = requests.get(f"{self.options.url}/tasks", params={"marker": ",".join(n.marker for n in nudges)},
                         timeout=10)
        r.raise_for_status()
        by_marker = {t["marker"]: t for t in r.json()["tasks"]}
        return {n.key: Receipt(n.key, by_marker[n.marker]["id"], self._now(), existed=True)
                for n in nudges if n.marker in by_marker}

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        found = self.find_delivered(nudges)
        missing = [n for n in nudges if n.key not in found]
        created: dict[str, Receipt] = {}
        for i in range(0, len(missing), self.options.chunk):
            if i:
                failpoints.hit("crm.between_chunks")
            chunk = missing[i:i + self.options.chunk]
            r = requests.post(f"{self.options.url}/tasks/batch", timeout=10, json={"tasks": [
                {"marker": n.marker, "title": n.title, "assignee": n.assignee, "action": n.action.value,
                 "conversation": n.conversation_id, "due_at": n.due_at.isoformat() if n.due_at else None}
                for n in chunk]})
            r.raise_for_status()
            for n, task_id in zip(chunk, r.json()["ids"]):
                created[n.key] = Receipt(n.key, task_id, self._now())
        return [found.get(n.key) or created[n.key] for n in nudges]

    def cancel(self, nudges: list[Nudge]) -> None:
        ids = [n.external_ref for n in nudges if n.external_ref]
        if ids:
            requests.post(f"{self.options.url}/tasks/close", json={"ids": ids}, timeout=10).raise_for_status()


@careplug.hookimpl
def careplug_register_sources(register):
    register(TaskCrmSource)
