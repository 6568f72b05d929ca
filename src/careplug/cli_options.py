"""The options every ``careplug`` command takes, before its name or after it.

``careplug --json -c FILE run`` and ``careplug run --json -c FILE`` mean the same: the group reads
them first, then every command added to it (built-in or a plugin's) takes them again and, when
given there, they win. A command that already has one of the flags for itself keeps its own.
"""

from __future__ import annotations

from typing import Any

import click

CONFIG_HELP = "Config file (default: $CAREPLUG_CONFIG or ./careplug.toml)."
JSON_HELP = "Machine-readable JSON output."


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None and ctx.obj is not None:
        from .config import find_config

        ctx.obj.config_path = find_config(value)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and ctx.obj is not None:
        ctx.obj.json = True


def _common_options() -> list[tuple[list[str], dict[str, Any]]]:
    return [
        (["-c", "--config"], dict(metavar="FILE", help=CONFIG_HELP, callback=_set_config)),
        (["--json"], dict(is_flag=True, help=JSON_HELP, callback=_set_json)),
    ]


def add_common_options(command: click.Command) -> click.Command:
    """Give ``command`` the shared ``-c/--config`` and ``--json`` (each flag it does not define itself)."""
    taken = {flag for p in command.params for flag in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
    present = {p.name for p in command.params}
    for flags, attrs in _common_options():
        free = [f for f in flags if f not in taken]
        name = "careplug_common_" + flags[-1].lstrip("-")
        if free and name not in present:
            command.params.append(click.Option([*free, name], expose_value=False, **attrs))
    return command


class CommandGroup(click.Group):
    """A group whose every command also takes the shared options after its name."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        add_common_options(cmd)
        super().add_command(cmd, name)
