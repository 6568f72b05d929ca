"""The options every ``careplug`` command takes, before its name or after it.

``careplug --json -c FILE run`` and ``careplug run --json -c FILE`` mean the same: the group reads
them first, then every command added to it (built-in or a plugin's) takes them again and, when
given there, they win. A command that already has one of the flags for itself keeps its own.

A usage error (exit 2: an unknown command or option, a bad or missing value) under ``--json``,
given before the command name or after it, is also printed on stdout as
``{"ok": false, "error": "usage", "message": ...}``; the human message stays on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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


def emit_json(data: Any) -> None:
    """Print ``data`` as the command's JSON answer on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


def _asks_json(args: Iterable[str]) -> bool:
    """Whether ``--json`` is among ``args`` (before a ``--`` that ends the options): read from
    the raw arguments, as a usage error may stop click before it parsed the flag."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _report_usage(error: click.UsageError, as_json: bool) -> None:
    """With ``--json``, print ``error`` on stdout as a JSON object (once); click then prints the
    human message on stderr and exits 2."""
    if as_json and not getattr(error, "careplug_reported", False):
        error.careplug_reported = True  # type: ignore[attr-defined]
        emit_json({"ok": False, "error": "usage", "message": error.format_message()})


_ARGS = "careplug.args"


class CommandGroup(click.Group):
    """A group whose every command also takes the shared options after its name, and whose usage
    errors (its own and its commands') are also a JSON object on stdout under ``--json``."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        add_common_options(cmd)
        super().add_command(cmd, name)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        raw = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            _report_usage(error, _asks_json(raw))
            raise
        ctx.meta[_ARGS] = raw
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            _report_usage(error, bool(getattr(ctx.obj, "json", False)) or _asks_json(ctx.meta.get(_ARGS, ())))
            raise
