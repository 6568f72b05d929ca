"""The ``careplug`` command line.

Exit codes (stable; schedulers and scripts rely on them):

====  =====================================================================================
 0    success
 1    the run finished, but a part of it failed (a source, stream, rule, plugin or delivery
      target); everything else was done and nothing already synced or promised was lost.
      Also: the store cannot be created, opened or reached (nothing was done: the next run
      retries), and other errors of a command
 2    usage error: an unknown command or option, a bad or missing value, or an argument that
      names nothing there is (``sync --source nope``, ``history`` of no customer, ``check
      --explain`` of no finding or of a key several findings start with)
 3    configuration error (every problem is printed with key path and line)
 4    another run holds the store's run lock
 5    internal error (a bug: please report it with the traceback from --verbose)
====  =====================================================================================

With ``--json``, an error that ends a command is also printed on stdout as a JSON object:
``{"ok": false, "error": "usage" | "config" | "locked" | "plugin" | "store" | "error" | "internal", ...}``
(``--json`` before or after the command name; a usage error's ``message`` is click's).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from . import __version__
from . import config as config_mod
from .cli_options import CONFIG_HELP, JSON_HELP, CommandGroup, emit_json
from .errors import CareplugError, ConfigError, NotFound, PluginError, StoreLocked, StoreUnavailable
from .plugins import Plugins, get_plugins

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_LOCKED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class State:
    def __init__(self, config: str | None, as_json: bool, verbose: int, strict: bool):
        self.config_path = config_mod.find_config(config)
        self.json = as_json
        self.verbose = verbose
        self.strict = strict
        self.store_url: str | None = None
        self._plugins: Plugins | None = None

    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            self._plugins = Plugins(strict=True) if self.strict else get_plugins()
        return self._plugins

    def config_plugins(self) -> Plugins:
        """``plugins`` with the config file's own (``plugins = [...]``, origin ``config``) when
        there is a config file (``-c``, $CAREPLUG_CONFIG or ./careplug.toml)."""
        _add_config_plugins(self.plugins, self.config_path)
        return self.plugins

    def app(self):
        """The configured App with its store opened: a store that cannot be is a clear error now."""
        from .app import App
        from .store_access import open_store

        app = App.from_file(self.config_path, plugins=self.plugins)
        self.store_url = app.config.store_url
        try:
            open_store(app)
        except BaseException:
            app.close()
            raise
        return app

    def emit(self, data: Any) -> None:
        emit_json(data)


def _guard(fn: Callable) -> Callable:
    """Turn careplug errors into messages and exit codes; no tracebacks for expected failures."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state: State = click.get_current_context().obj
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            problems = exc.problems or [str(exc)]
            if state.json:
                state.emit({"ok": False, "error": "config", "problems": [
                    vars(p) if isinstance(p, config_mod.ConfigProblem) else {"message": p} for p in problems]})
            else:
                files = {p.file for p in problems if isinstance(p, config_mod.ConfigProblem) and p.file}
                name = files.pop() if len(files) == 1 else str(state.config_path)
                err_console.print(f"[bold red]{escape(name)} has {len(problems)} problem(s):[/]", highlight=False)
                for p in problems:
                    err_console.print(f"  • {p}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(EXIT_CONFIG)
        except StoreLocked as exc:
            _fail(state, EXIT_LOCKED, "locked", f"[yellow]{escape(str(exc))}[/]", exc)
        except PluginError as exc:
            _fail(state, EXIT_CONFIG, "plugin", f"[red]plugin error:[/] {escape(str(exc))}", exc)
        except NotFound as exc:
            _fail(state, EXIT_USAGE, "usage", f"[red]error:[/] {escape(str(exc))}", exc)
        except StoreUnavailable as exc:
            _fail(state, EXIT_FAILED, "store", f"[red]store error:[/] {escape(str(exc))}", exc, store=exc.store)
        except CareplugError as exc:
            _fail(state, EXIT_FAILED, "error", f"[red]error:[/] {escape(str(exc))}", exc)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            from .store_access import is_database_error, unavailable

            if is_database_error(exc) and state.store_url:    # the database went away mid-run
                lost = unavailable(state.store_url, exc)
                _fail(state, EXIT_FAILED, "store", f"[red]store error:[/] {escape(str(lost))}", lost,
                      store=lost.store)
            if state.verbose:     # a bug: say so plainly
                traceback.print_exc()
            _fail(state, EXIT_INTERNAL, "internal", f"[bold red]internal error:[/] {escape(type(exc).__name__)}: "
                  f"{escape(str(exc))} (run with -v for the traceback)", exc)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _fail(state: State, code: int, kind: str, markup: str, exc: BaseException, **extra: Any) -> None:
    """Report an error that ends the command: the message on stderr, with --json also a JSON
    object on stdout (``{"ok": false, "error": kind, "message": ...}``); then exit ``code``."""
    err_console.print(markup, highlight=False)
    if state.json:
        state.emit({"ok": False, "error": kind, "message": str(exc), **extra})
    sys.exit(code)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="careplug")
@click.option("-c", "--config", "config", metavar="FILE", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("--strict-plugins", is_flag=True, help="A plugin that fails to load is fatal.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, as_json: bool, verbose: int, strict_plugins: bool) -> None:
    """careplug: no customer neglected. Syncs your CRMs, checks care rules, nudges the right person."""
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = State(config, as_json, verbose, strict_plugins)


# --- configuration commands ----------------------------------------------------------------------


@cli.command()
@click.argument("path", default=config_mod.DEFAULT_CONFIG_NAME, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@_guard
def init(path: str, force: bool) -> None:
    """Write a commented starter careplug.toml."""
    from importlib.resources import files

    target = Path(path)
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; use --force to overwrite it")
    target.write_text(files("careplug").joinpath("templates/careplug.toml").read_text(encoding="utf-8"))
    console.print(f"wrote {target}: edit it, then run [bold]careplug validate[/]")


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.pass_obj
@_guard
def validate(state: State, file: str | None) -> None:
    """Check a config file; print every problem with key path and line (a folder or file it names
    that does not exist too)."""
    path = Path(file) if file else state.config_path
    # another file than the command line's config: checked with its own plugins, not those too
    plugins = state.plugins if path == state.config_path else Plugins(strict=state.strict or None)
    config = config_mod.load(path, plugins=plugins, check_paths=True)
    summary = {"ok": True, "file": str(path), "sources": sorted(config.sources), "rules": sorted(config.rules),
               "calendars": sorted(config.calendars), "notifiers": sorted(config.notifiers)}
    if state.json:
        state.emit(summary)
    else:
        console.print(f"[green]✓[/] {path} is valid: {len(config.sources)} source(s), {len(config.rules)} rule(s), "
                      f"{len(config.calendars)} calendar(s), {len(config.notifiers)} notifier(s)")


@cli.command()
@click.pass_obj
@_guard
def schema(state: State) -> None:
    """Print the JSON Schema of careplug.toml (for editors), including installed plugins' options."""
    from .schema import config_schema

    click.echo(json.dumps(config_schema(state.plugins), indent=2))


@cli.command()
@click.pass_obj
@_guard
def plugins(state: State) -> None:
    """List plugins: name, version, origin and the hooks each implements, with the config file's own."""
    plugins = state.config_plugins()
    infos = plugins.list()
    if state.json:
        state.emit({"plugins": [vars(i) for i in infos], "failed": [vars(f) for f in plugins.load_failures],
                    "sources": sorted(plugins.sources()), "rules": sorted(plugins.rules()),
                    "notifiers": sorted(plugins.notifiers())})
        return
    from .render import plugins_table

    console.print(plugins_table(infos))
    for failure in plugins.load_failures:
        err_console.print(f"[red]✗ {escape(failure.name)}[/] ({escape(failure.origin)}) failed to load and was "
                          f"skipped: {escape(str(failure.error))}", highlight=False)
    console.print(f"sources: {', '.join(sorted(plugins.sources())) or '-'}   "
                  f"rules: {', '.join(sorted(plugins.rules())) or '-'}   "
                  f"notifiers: {', '.join(sorted(plugins.notifiers())) or '-'}")


# --- the run ---------------------------------------------------------------------------------


def _since(value: str | None) -> timedelta | None:
    """The replay window: an age with a unit, longer than zero (``30d``). Not given: None. An empty
    value, a bare number or zero is a usage error, never a silent plain dry-run or a 30-second window."""
    if value is None:
        return None
    from .durations import parse_duration

    if not value.strip():
        raise click.BadParameter("needs an age with a unit, e.g. --since 30d", param_hint="--since")
    try:
        window = parse_duration(value, bare_seconds=False)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if window <= timedelta(0):
        raise click.BadParameter(f"{value!r} is no window: give an age longer than zero, e.g. 30d",
                                 param_hint="--since")
    if window > timedelta(days=36525):
        raise click.BadParameter(f"{value!r} reaches back more than a century: give a shorter age, e.g. 365d",
                                 param_hint="--since")
    return window


def _do_sync(state: State, app: Any, only: tuple[str, ...]) -> Any:
    from .render import sync_progress
    from .sync import SyncResult, sync_source

    configured = app.config.sources
    unknown = [s for s in only if s not in configured]
    if unknown:
        raise click.BadParameter(f"no source named {', '.join(unknown)} (configured: {', '.join(configured) or 'none'})",
                                 param_hint="--source")
    result = SyncResult()
    with sync_progress(console, enabled=not state.json and console.is_terminal) as progress:
        for name, source in app.sources.items():
            if only and name not in only:
                continue
            result.add(sync_source(app.store, source, plugins=app.plugins, progress=progress))
    return result


@cli.command()
@click.option("--source", "only", multiple=True, help="Sync only this source (repeatable).")
@click.pass_obj
@_guard
def sync(state: State, only: tuple[str, ...]) -> None:
    """Read what changed in each source into the store."""
    from .render import print_sync

    app = state.app()
    try:
        with app.store.run_lock(), app.plugins.recording() as hooks:
            result = _do_sync(state, app, only)
    finally:
        app.close()
    failures = [f.describe() for f in [*app.plugins.setup_failures, *hooks]]
    failures += [why for name, why in app.source_failures.items() if not only or name in only]
    state.emit(_sync_dict(result, failures)) if state.json else print_sync(console, result)
    _print_failures(state, failures)
    sys.exit(EXIT_OK if result.ok and not failures else EXIT_FAILED)


def _sync_dict(result: Any, failures: list[str]) -> dict[str, Any]:
    return {"ok": result.ok and not failures, **result.as_dict(), "failures": failures}


def _print_failures(state: State, failures: list[str]) -> None:
    if not state.json:
        for failure in failures:
            console.print(f"[red]✗ {escape(failure)}[/]", highlight=False)


@cli.command()
@click.option("--explain", "explain_key", metavar="FINDING", help="Explain one finding: timeline and clock math.")
@click.option("--dry-run", is_flag=True, help="Evaluate without storing findings.")
@click.option("--since", "since", metavar="AGE", help="With --dry-run: replay stored history, e.g. 30d.")
@click.option("--full", is_flag=True, help="Evaluate every subject, not only changed and due ones.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="With --full: processes to use (default: one per CPU, up to 4, on large stores; "
                   "or CAREPLUG_WORKERS).")
@click.pass_obj
@_guard
def check(state: State, explain_key: str | None, dry_run: bool, since: str | None, full: bool,
          workers: int | None) -> None:
    """Evaluate care rules and print findings."""
    from .check import explain, run_check
    from .render import print_findings

    window = _since(since)
    if explain_key is not None and not explain_key.strip():
        raise click.BadParameter("needs a finding's key (as `careplug check` lists it)", param_hint="--explain")
    if window and not dry_run:
        raise click.UsageError("--since replays history and needs --dry-run")
    app = state.app()
    try:
        now = app.now()
        if explain_key is not None:
            explanation = explain(app, explain_key, now)
            state.emit(explanation.as_dict()) if state.json else click.echo(explanation.render())
            return
        lock = app.store.run_lock()
        if not dry_run:
            lock.acquire()
        try:
            result = run_check(app, now, full=full or bool(window), dry_run=dry_run, since=window, workers=workers)
        finally:
            lock.release()
        result.failures[:0] = [f.describe() for f in app.plugins.setup_failures]
        state.emit(result.as_dict()) if state.json else print_findings(console, result, now,
                                                                       label=app.store.customer_label)
    finally:
        app.close()
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@cli.command()
@click.option("--dry-run", is_flag=True, help="List exactly what would be written, where and to whom; write nothing.")
@click.pass_obj
@_guard
def nudge(state: State, dry_run: bool) -> None:
    """Deliver follow-up nudges for open findings (exactly once)."""
    from .nudges.delivery import run_nudges
    from .render import print_nudges

    app = state.app()
    try:
        now = app.now()
        lock = app.store.run_lock()
        if not dry_run:
            lock.acquire()
        try:
            result = run_nudges(app, now, dry_run=dry_run)
        finally:
            lock.release()
        result.failures[:0] = [*(f.describe() for f in app.plugins.setup_failures),
                               *app.source_failures.values(), *app.notifier_failures.values()]
    finally:
        app.close()
    state.emit(result.as_dict()) if state.json else print_nudges(console, result, dry_run=dry_run)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Sync, then preview findings and nudges without writing them.")
@click.pass_obj
@_guard
def run(state: State, dry_run: bool) -> None:
    """Sync, check and nudge: what a scheduler calls."""
    from .pipeline import run_pipeline
    from .render import print_run

    app = state.app()
    try:
        result = run_pipeline(app, dry_run=dry_run, progress_console=None if state.json else console)
    finally:
        app.close()
    state.emit(result.as_dict()) if state.json else print_run(console, result)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@cli.command()
@click.argument("who")
@click.option("--limit", default=200, show_default=True, help="Most recent items to show.")
@click.pass_obj
@_guard
def history(state: State, who: str, limit: int) -> None:
    """One customer's timeline across every source (by email, phone, uid or source/id)."""
    from .history import customer_timeline, find_customer
    from .render import print_timeline

    app = state.app()
    try:
        uid = find_customer(app.store, who)
        if uid is None:
            raise click.BadParameter(f"no customer matches {who!r} (try an email, a phone, or source/id)",
                                     param_hint="WHO")
        timeline = customer_timeline(app, uid, limit=limit)
    finally:
        app.close()
    state.emit(timeline.as_dict()) if state.json else print_timeline(console, timeline)


@cli.command()
@click.option("--out", "out", default="careplug-data", show_default=True, type=click.Path(file_okay=False),
              help="Directory to write the files-source export into.")
@click.option("--conversations", "-n", default=1000, show_default=True, type=click.IntRange(min=0),
              help="How many conversations.")
@click.option("--seed", default=0, show_default=True, help="Random seed (same seed, same history).")
@click.pass_obj
@_guard
def generate(state: State, out: str, conversations: int, seed: int) -> None:
    """Generate a synthetic customer history (files-source format)."""
    from .testing.generator import write_files

    stats = write_files(out, conversations=conversations, seed=seed)
    state.emit({"out": out, **(stats or {})}) if state.json else console.print(
        f"wrote {conversations:,} conversations to {out}/ ({stats})")


@cli.command()
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="Where to put the demo (default: a fresh temporary folder).")
@click.option("--conversations", "-n", default=400, show_default=True, type=click.IntRange(min=1))
@click.option("--keep", is_flag=True, help="Keep the demo folder (always kept with --dir).")
@click.pass_obj
@_guard
def demo(state: State, directory: str | None, conversations: int, keep: bool) -> None:
    """Offline demo: generate a history, run every rule, show who is waiting."""
    from .demo import run_demo

    code = run_demo(console, directory=directory, conversations=conversations, keep=keep or bool(directory),
                    as_json=state.json)
    sys.exit(code)


def _add_config_plugins(plugins: Plugins, path: Path) -> None:
    """Load the plugins the config file at ``path`` names, if there is one (read leniently: a
    broken file is reported by the command that loads it)."""
    if path.is_file():
        for module in config_mod.plugin_modules(path):
            plugins.add_module(module, origin="config")


def _config_option(args: list[str]) -> str | None:
    """The value of the group's ``-c``/``--config`` in ``args`` (``-c F``, ``-cF``, ``-vc F``,
    ``--config F``, ``--config=F``; the last one wins), read before click parses them."""
    value = None
    it = iter(args)
    for arg in it:
        if arg == "--" or not arg.startswith("-"):
            break                                          # the command: what follows is its own
        if arg == "--config":
            value = next(it, None)
        elif arg.startswith("--config="):
            value = arg.partition("=")[2]
        elif not arg.startswith("--"):
            flags, c, rest = arg[1:].partition("c")         # -v, -h take no value; -c takes one
            if c and set(flags) <= {"v", "h"}:
                value = rest or next(it, None)
    return value


def _load_command_plugins(args: list[str]) -> None:
    """``careplug_register_commands`` of every plugin, the config file's included: the config is
    found from ``args`` (``-c``), $CAREPLUG_CONFIG or ./careplug.toml before click parses the
    command line, as the commands must exist by then."""
    try:
        plugins = get_plugins()
        _add_config_plugins(plugins, config_mod.find_config(_config_option(args)))
        plugins.register_commands(cli)
    except Exception as exc:  # never let a plugin break the whole command line
        err_console.print(f"[red]plugin commands not loaded:[/] {escape(str(exc))}", highlight=False)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    _load_command_plugins(args)
    try:
        cli.main(args=args, prog_name="careplug", standalone_mode=True)
    except SystemExit:
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
