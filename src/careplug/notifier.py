"""The notifier contract: targets for ``notify`` nudges (chat webhooks, email).

A notifier *class* is registered through ``careplug_register_notifiers``; careplug creates one
instance per ``[notifiers.NAME]`` table. ``send(nudges)`` returns one ``Receipt`` per nudge.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from .nudges.model import Nudge, Receipt


class NotifierOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Notifier:
    kind: ClassVar[str] = ""
    Options: ClassVar[type[NotifierOptions]] = NotifierOptions

    def __init__(self, name: str, options: NotifierOptions):
        self.name = name
        self.options = options

    def send(self, nudges: list[Nudge]) -> list[Receipt]:
        raise NotImplementedError
