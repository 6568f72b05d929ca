"""``careplug.toml``: loading, ``${ENV}`` interpolation and validation that reports every problem at once.

Each problem names the key path, the line in the file and, where one helps, a hint. Unknown keys
are errors (a typo must not silently disable a rule). Values interpolated from the environment or
from secret files are never echoed back: wherever a message or hint about that key (or the table
holding it) would quote the value, it names the reference instead (``<value of ${file:token.txt}
not shown>``).

Interpolation, in any string value:

- ``${NAME}``            the environment variable NAME (an error if unset)
- ``${NAME:-default}``   NAME, or ``default`` when unset or empty
- ``${file:PATH}``       the contents of a secret file (trailing newline stripped), PATH relative
                         to the config file

Source and notifier options are validated with the pydantic context ``{"base_dir": <the config
file's folder>, "check_paths": bool}``. ``check_paths`` is set by ``careplug validate``
(``load(..., check_paths=True)``): validators then also check that the files and folders the
options name exist, so a wrong path is a problem with its key path and line. A run does not set
it: a folder missing then fails that source alone, and the other sources still sync. With
``check_paths`` the store is checked as far as it can be without connecting (``_store_problems``):
a URL SQLAlchemy cannot read or whose database driver is not installed (at ``store.url``, the URL
never quoted), a SQLite file that could never be created. Whether a server answers is the run's to
find out.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

DEFAULT_CONFIG_NAME = "careplug.toml"


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str
    line: int | None = None
    hint: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file or 'careplug.toml'}:{self.line}" if self.line else (self.file or "careplug.toml")
        text = f"{where}: {self.path or '(top level)'}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(".careplug/careplug.db", description="SQLite file, relative to the config file")
    url: str | None = Field(None, description="A SQLAlchemy URL (e.g. postgresql+psycopg://...); overrides path")

    def location(self, base_dir: Path) -> str:
        """The SQLite file: ``path``, relative to the config file's folder unless absolute."""
        path = Path(self.path)
        return str(path if path.is_absolute() else base_dir / path)


class TopLevel(BaseModel):
    """The shape of careplug.toml before plugin-specific tables are checked."""

    model_config = ConfigDict(extra="forbid")

    store: StoreConfig = StoreConfig()
    plugins: list[str] = Field(default_factory=list, description="Extra plugin modules to load")
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    calendars: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    nudges: dict[str, Any] = Field(default_factory=dict)
    notifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass
class Config:
    """A validated configuration: plugin tables are instances of the plugins' option models."""

    path: Path | None
    base_dir: Path
    store: StoreConfig
    plugins: list[str]
    sources: dict[str, tuple[str, BaseModel]]       # name -> (kind, options)
    calendars: dict[str, BaseModel]
    rules: dict[str, BaseModel]                     # name -> options (enabled or not)
    nudges: Any
    notifiers: dict[str, tuple[str, BaseModel]]

    @property
    def store_url(self) -> str:
        return self.store.url or self.store.location(self.base_dir)


# --- interpolation -------------------------------------------------------------------------------

_REF = re.compile(r"\$\{([^}]*)\}")


@dataclass
class _Interpolated:
    """Where a value was interpolated: the references written there and the values they gave
    (the substituted pieces and the whole result), so messages can hide them."""

    refs: list[str]
    values: list[str]


def _interpolate(value: Any, path: tuple, base_dir: Path, problems: list[tuple[tuple, str, str | None]],
                 secrets: dict[tuple, _Interpolated] | None = None) -> Any:
    if secrets is None:
        secrets = {}
    if isinstance(value, dict):
        return {k: _interpolate(v, path + (k,), base_dir, problems, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path + (i,), base_dir, problems, secrets) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    pieces: list[str] = []

    def replace(m: re.Match) -> str:
        ref = m.group(1).strip()
        if ref.startswith("file:"):
            file = Path(ref[5:]).expanduser()
            file = file if file.is_absolute() else base_dir / file
            try:
                return file.read_text().rstrip("\n")
            except OSError as exc:
                problems.append((path, f"cannot read secret file {file}: {exc.strerror}", None))
                return ""
        name, sep, default = ref.partition(":-")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append((path, f"${{{ref}}} is not a valid reference", "use ${NAME}, ${NAME:-default} or ${file:PATH}"))
            return ""
        found = os.environ.get(name)
        if found in (None, "") and sep:
            return default
        if found is None:
            problems.append((path, f"environment variable {name} is not set", f"export {name}=... before running"))
            return ""
        return found

    def record(m: re.Match) -> str:
        got = replace(m)
        pieces.append(got)
        return got

    result = _REF.sub(record, value)
    secrets[path] = _Interpolated([f"${{{r}}}" for r in _REF.findall(value)], [*pieces, result])
    return result


def _is_interpolation_problem(message: str) -> bool:
    return message.startswith(("cannot read secret file", "environment variable ")) or \
        message.endswith("is not a valid reference")


# --- never echoing interpolated values ---------------------------------------------------------


def _related(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _secret_at(secrets: dict[tuple, _Interpolated], path: tuple) -> _Interpolated | None:
    """The interpolation of the value at ``path`` or of one it is part of (``tags.0`` of an
    interpolated list), if any."""
    for where, interp in secrets.items():
        if path[:len(where)] == where:
            return interp
    return None


def _scrub(text: str | None, secrets: dict[tuple, _Interpolated], path: tuple, *, hint: bool = False,
           quotes: bool = True) -> str | None:
    """``text`` (a problem's message, or its hint) with nothing of an interpolated value in it.

    A problem with an interpolated value itself gets a message that says so and no hint: the
    validators quote, lowercase, split and suffix what they were given ('839201h', part of a
    token), so no replacing of the value's forms is safe there. Elsewhere every interpolated value
    of the problem's table, and any longer one anywhere, is replaced by a marker naming its
    reference, in any case. ``quotes=False``: a message (and hint) careplug built to quote nothing
    of the value (a store URL's problem names its scheme at most) is kept, with only that replacing."""
    if not text or not secrets:
        return text
    interp = _secret_at(secrets, path)
    if interp is not None and quotes and not (not hint and _is_interpolation_problem(text)):   # those name only the reference
        refs = ", ".join(interp.refs)
        return None if hint else f"the value of {refs} is not valid here (not shown: it may be secret)"
    for where, interp in secrets.items():
        near = _related(where, path)
        marker = f"<value of {', '.join(interp.refs)} not shown>"
        for value in sorted(set(interp.values), key=len, reverse=True):
            if not value.strip() or (not near and len(value) < 6):
                continue
            for form in dict.fromkeys((repr(value), f'"{value}"', repr(value)[1:-1], value)):
                text = re.sub(re.escape(form), marker, text, flags=re.IGNORECASE)
    return text


# --- locating keys in the file ---------------------------------------------------------------

class _Scanner:
    """Just enough of a TOML reader to know the line every table, key and array element starts on,
    including arrays of tables (``[[a.b]]`` is ``a.b.0``, ``a.b.1``, ...) and inline arrays and
    tables spread over several lines. Runs on text ``tomllib`` has accepted."""

    _BARE = re.compile(r"[A-Za-z0-9_-]+")

    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[tuple, int] = {}
        self.arrays: dict[tuple, int] = {}      # array-of-tables path -> elements so far

    def line(self, at: int | None = None) -> int:
        from bisect import bisect_right

        return bisect_right(self.starts, self.i if at is None else at)

    def record(self, path: tuple, line: int) -> None:
        for n in range(1, len(path) + 1):
            self.lines.setdefault(path[:n], line)
        plain = tuple(p for p in path if not isinstance(p, int))
        if plain:
            self.lines.setdefault(plain, line)

    def peek(self, n: int = 1) -> str:
        return self.text[self.i:self.i + n]

    def skip(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(False)
            c = self.peek()
            if c in "\"'":
                parts.append(self.string())
            else:
                m = self._BARE.match(self.text, self.i)
                if not m:
                    raise ValueError("no key")
                parts.append(m.group())
                self.i = m.end()
            self.skip(False)
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def string(self) -> str:
        for quote in ('"""', "'''"):
            if self.peek(3) == quote:
                end = self.text.find(quote, self.i + 3)
                while self.text[end + 3:end + 4] == quote[0]:   # up to two quotes may end the content
                    end += 1
                value, self.i = self.text[self.i + 3:end], end + 3
                return value
        quote = self.peek()
        j = self.i + 1
        while self.text[j] != quote:
            j += 2 if quote == '"' and self.text[j] == "\\" else 1
        raw, self.i = self.text[self.i + 1:j], j + 1
        if quote == '"' and "\\" in raw:
            import tomllib as _t

            return _t.loads(f'k = "{raw}"')["k"]
        return raw

    def value(self, path: tuple) -> None:
        self.skip(False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self.skip(True)
                if self.peek() == "]":
                    self.i += 1
                    return
                self.record(path + (index,), self.line())
                self.value(path + (index,))
                self.skip(True)
                if self.peek() == ",":
                    self.i += 1
                    index += 1
        elif c == "{":
            self.i += 1
            while True:
                self.skip(True)
                if self.peek() == "}":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                self.pair(path)
        else:
            m = re.compile(r"[^,\]}\n#]*").match(self.text, self.i)
            self.i = m.end()

    def pair(self, path: tuple) -> None:
        """``key = value`` under ``path``: record the key's line, then read the value."""
        line = self.line()
        key = self.key()
        self.record(path + key, line)
        self.skip(False)
        self.i += 1    # '='
        self.value(path + key)

    def header(self) -> tuple:
        line = self.line()
        many = self.peek(2) == "[["
        self.i += 2 if many else 1
        parts = self.key()
        self.skip(False)
        self.i += 2 if many else 1
        path: tuple = ()
        for n, part in enumerate(parts, start=1):
            path += (part,)
            if n < len(parts) and path in self.arrays:
                path += (self.arrays[path] - 1,)
        if many:
            index = self.arrays.get(path, 0)
            self.arrays[path] = index + 1
            path += (index,)
        self.record(path, line)
        return path

    def scan(self) -> dict[tuple, int]:
        table: tuple = ()
        while True:
            self.skip(True)
            if self.i >= len(self.text):
                return self.lines
            if self.peek() == "[":
                table = self.header()
                continue
            self.pair(table)


def key_lines(text: str) -> dict[tuple, int]:
    """Map each table, key and array element path in a TOML text to the line (1-based) it starts on.
    Array elements (of ``[[tables]]`` or inline arrays) are numbered from 0, as in error locations;
    each path is also kept without its numbers (first occurrence)."""
    scanner = _Scanner(text)
    try:
        return scanner.scan()
    except (ValueError, IndexError, AttributeError):   # never let locating lines hide the problems
        return scanner.lines


def _line_for(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of ``path`` or of the nearest enclosing key, table or element that has one."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    keys = tuple(str(p) for p in path if not isinstance(p, int))
    for n in range(len(keys), 0, -1):
        if keys[:n] in lines:
            return lines[keys[:n]]
    return None


# --- validation --------------------------------------------------------------------------------


def _pydantic_problems(exc: ValidationError, prefix: tuple, model: type[BaseModel] | None,
                       data: Any = None) -> list[tuple[tuple, str, str | None]]:
    """Each error as ``(key path, message, hint)``; the problems of a union's members (``str |
    list[str]``) are read as one value's (``_union_problems``), never under the members' labels."""
    out = []
    unions: list[tuple[tuple, tuple, str, str | None]] = []     # (the union's path, problem)
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(p for p in err["loc"] if p != "[key]")    # a bad dict key: the key's path
        loc, union_at = _without_labels(loc, data, missing=err["type"] == "missing")
        if err["type"] == "value_error":
            loc = _named_key(loc, str(err["msg"]), data)
        if union_at is not None:
            unions.append((prefix + union_at, prefix + loc, *_message(err, model, loc)))
        else:
            out.append((prefix + loc, *_message(err, model, loc)))
    return out + _union_problems(unions)


_LABEL = re.compile(r"(?:str|int|float|bool|bytes|date|datetime|time|timedelta|decimal|uuid|none|any"
                    r"|[a-z][a-z-]*\[.*\]|[A-Z][A-Za-z0-9_]*)")
"""What pydantic names the member of a union in an error location: ``str``, ``list[str]``,
``function-after[...]``, a model's class name."""


def _without_labels(loc: tuple, data: Any, *, missing: bool) -> tuple[tuple, tuple | None]:
    """``loc`` without the label pydantic adds for the member of a union that failed
    (``hours.mon-fri.str``, ``hours.mon-fri.list[str].1``), and the path of that union's value
    (None when there is no label). A part is a label when it looks like one and names no key of
    the data there (a key the error says is missing is kept)."""
    out: list[Any] = []
    union_at = None
    node, known = data, True
    for i, part in enumerate(loc):
        present = known and ((isinstance(node, dict) and part in node) or
                             (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)))
        if present:
            node = node[part]
        elif (isinstance(part, str) and _LABEL.fullmatch(part) and not (missing and i == len(loc) - 1)
              and union_at is None):
            union_at = tuple(out)
            continue
        else:
            known = False
        out.append(part)
    return tuple(out), union_at


def _union_problems(unions: list[tuple[tuple, tuple, str, str | None]]) -> list[tuple[tuple, str, str | None]]:
    """One union's problems as people read them: when some member got further into the value (a
    list whose element 1 is no string), only its problems; otherwise one problem at the value
    saying what each member expected ("Input should be a valid string or a valid list")."""
    out: list[tuple[tuple, str, str | None]] = []
    by_union: dict[tuple, list[tuple[tuple, str, str | None]]] = {}
    for union_at, path, message, hint in unions:
        by_union.setdefault(union_at, []).append((path, message, hint))
    for union_at, problems in by_union.items():
        deeper = [p for p in problems if len(p[0]) > len(union_at)]
        if deeper:
            out += list(dict.fromkeys(deeper))
            continue
        wanted = [m.removeprefix("Input should be ") for _, m, _ in problems]
        message = "Input should be " + " or ".join(dict.fromkeys(wanted))
        out.append((union_at, message, next((h for _, _, h in problems if h), None)))
    return out


def _message(err: Any, model: type[BaseModel] | None, loc: tuple) -> tuple[str, str | None]:
    """The message and hint of one pydantic error at ``loc`` (its key path in the table)."""
    kind = err["type"]
    hint = None
    if kind == "extra_forbidden":
        message = "unknown key"
        known = _known_fields(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif known:
            hint = "allowed keys: " + ", ".join(sorted(known))
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        ctx = err.get("ctx") or {}
        if "expected" in ctx and str(ctx["expected"]) not in message:
            hint = f"expected {ctx['expected']}"
    return message, hint


def _named_key(loc: tuple, message: str, data: Any) -> tuple:
    """A check of a whole table (a model validator) reports the table; when its message names a
    key written in that table (``scope.channels ... do not apply``), the problem is that key's."""
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return loc
    if not isinstance(node, dict):
        return loc
    for name in re.findall(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)+", message):
        path, inner = (), node
        for part in name.split("."):
            if not isinstance(inner, dict) or part not in inner:
                break
            path, inner = path + (part,), inner[part]
        else:
            return loc + path
    return loc


def _known_fields(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    current: Any = model
    for part in loc:
        if current is None or not hasattr(current, "model_fields"):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation if isinstance(field.annotation, type) else None
    if current is None or not hasattr(current, "model_fields"):
        return []
    return list(current.model_fields)


def _validate(model: type[BaseModel], data: Any, prefix: tuple, problems: list,
              context: dict[str, Any] | None = None) -> BaseModel | None:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, prefix, model, data))
        return None


def _typed_tables(section: str, tables: dict[str, dict[str, Any]], registry: dict[str, type], what: str,
                  problems: list, context: dict[str, Any]) -> dict[str, tuple[str, BaseModel]]:
    out: dict[str, tuple[str, BaseModel]] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.append(((section, name), "must be a table", f"write [{section}.{name}] with type = \"...\""))
            continue
        kind = table.get("type")
        if not kind:
            problems.append(((section, name), "missing key 'type'",
                             f"one of: {', '.join(sorted(registry)) or f'(no {what} plugins installed)'}"))
            continue
        cls = registry.get(kind)
        if cls is None:
            close = difflib.get_close_matches(str(kind), list(registry), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"installed {what} types: {', '.join(sorted(registry)) or 'none'}"
            problems.append(((section, name, "type"), f"unknown {what} type {kind!r}", hint))
            continue
        options = {k: v for k, v in table.items() if k != "type"}
        validated = _validate(cls.Options, options, (section, name), problems, context)
        if validated is not None:
            out[name] = (kind, validated)
    return out


def parse(text: str, *, file: str | None = None, base_dir: Path | None = None, plugins: Any = None,
          check_paths: bool = False) -> Config:
    """Validate careplug.toml text; raise ConfigError with every problem found. ``check_paths``:
    also check that the files and folders the sources and notifiers name exist (module docstring)."""
    base_dir = base_dir or Path.cwd()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError([ConfigProblem("", f"not valid TOML: {exc}", int(line.group(1)) if line else None,
                                         "check quotes, brackets and '=' on that line", file)]) from None
    raw_problems: list[tuple[tuple, str, str | None]] = []
    secrets: dict[tuple, _Interpolated] = {}
    data = _interpolate(data, (), base_dir, raw_problems, secrets)
    top = _validate(TopLevel, data, (), raw_problems) or _salvage(data)
    config = None
    if top is not None:
        if plugins is None:
            from .plugins import Plugins

            plugins = Plugins(extra=top.plugins)
        else:
            for module in top.plugins:
                plugins.add_module(module)
        config = _validate_plugin_tables(top, plugins, base_dir, raw_problems, check_paths)
        config.path = Path(file) if file else None
    # problems whose message quotes nothing of the value (a store URL's scheme at most): shown as
    # written even when the value was interpolated (a password in the URL is the usual case)
    quoting_nothing: set[tuple[tuple, str]] = set()
    if check_paths:
        for path, message, hint, quotes in _store_problems(data.get("store"), base_dir):
            raw_problems.append((path, message, hint))
            if not quotes:
                quoting_nothing.add((path, message))
    if raw_problems:
        lines = key_lines(text)
        # a value whose interpolation failed is already reported: not again as a bad value
        failed = {path for path, message, _ in raw_problems if path in secrets and _is_interpolation_problem(message)}
        raw_problems = [(path, message, hint) for path, message, hint in raw_problems
                        if _is_interpolation_problem(message) or not any(_related(f, path) and len(path) >= len(f)
                                                                         for f in failed)]
        problems = [ConfigProblem(".".join(str(p) for p in path), _scrub(message, secrets, path, quotes=quotes),
                                  _line_for(lines, path), _scrub(hint, secrets, path, hint=True, quotes=quotes), file)
                    for path, message, hint in raw_problems
                    for quotes in [(path, message) not in quoting_nothing]]
        problems.sort(key=lambda p: (p.line is None, p.line or 0))   # in file order
        raise ConfigError(problems)
    assert config is not None
    return config


def _store_problems(store: Any, base_dir: Path) -> list[tuple[tuple, str, str | None, bool]]:
    """What ``careplug validate`` can tell of the store without connecting to it (``careplug.
    store_access``): a URL SQLAlchemy cannot read, a database driver that is not installed, a SQLite
    file that could never be created. Each as ``(key path, message, hint, quotes the value)``."""
    try:
        options = StoreConfig.model_validate(store or {})
    except ValidationError:               # reported as the store table's problems
        return []
    from .store_access import sqlite_file_problem, url_problem

    if options.url is not None:
        problem = url_problem(options.url)
        if problem is not None:
            return [(("store", "url"), *problem, False)]
        where, target = ("store", "url"), options.url
    else:
        where, target = ("store", "path"), options.location(base_dir)
    problem = sqlite_file_problem(target)
    return [(where, *problem, True)] if problem is not None else []


def _salvage(data: dict[str, Any]) -> TopLevel:
    """The parts of an invalid top level that can still be checked, so every problem is reported at once."""

    def table(name: str) -> dict[str, Any]:
        value = data.get(name)
        return {k: v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}

    plugins = data.get("plugins")
    return TopLevel.model_construct(
        store=StoreConfig(), plugins=[p for p in plugins if isinstance(p, str)] if isinstance(plugins, list) else [],
        sources=table("sources"), calendars=table("calendars"), rules=table("rules"),
        nudges=data.get("nudges") if isinstance(data.get("nudges"), dict) else {}, notifiers=table("notifiers"))


def _check_team_calendars(calendars: dict[str, Any], problems: list) -> None:
    """A team (conversation group) counts on one calendar: a group listed by two is a problem."""
    owner: dict[str, str] = {}
    for name, options in calendars.items():
        for group in getattr(options, "groups", None) or ():
            first = owner.setdefault(group.lower(), name)
            if first != name:
                problems.append((("calendars", name, "groups"),
                                 f"group {group!r} is already on [calendars.{first}]",
                                 "a team's conversations count on one calendar: list the group once"))


def _validate_plugin_tables(top: TopLevel, plugins: Any, base_dir: Path, problems: list,
                            check_paths: bool = False) -> Config:
    context = {"base_dir": base_dir, "check_paths": check_paths}
    sources = _typed_tables("sources", top.sources, plugins.sources(), "source", problems, context)
    notifiers = _typed_tables("notifiers", top.notifiers, plugins.notifiers(), "notifier", problems, context)
    calendars: dict[str, BaseModel] = {}
    calendar_model = _optional_model("careplug.calendar", "CalendarOptions")
    for name, table in top.calendars.items():
        if calendar_model is None:
            calendars[name] = table  # type: ignore[assignment]
            continue
        validated = _validate(calendar_model, table, ("calendars", name), problems)
        if validated is not None:
            calendars[name] = validated
    _check_team_calendars(calendars, problems)
    rules: dict[str, BaseModel] = {}
    registry = plugins.rules()
    for name, table in top.rules.items():
        cls = registry.get(name)
        if cls is None:
            close = difflib.get_close_matches(name, list(registry), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"installed rules: {', '.join(sorted(registry)) or 'none'}"
            problems.append((("rules", name), f"unknown rule {name!r}", hint))
            continue
        validated = _validate(cls.Options, table, ("rules", name), problems)
        if validated is not None:
            rules[name] = validated
    _check_scope_sources(rules, top.sources, problems)
    policy_model = _optional_model("careplug.nudges.policy", "NudgePolicy")
    nudges: Any = top.nudges
    checkable: Any = None
    if policy_model is not None:
        try:
            nudges = checkable = policy_model.model_validate(top.nudges)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, ("nudges",), policy_model, top.nudges))
            nudges, checkable = None, _valid_part(policy_model, top.nudges, exc)
    if checkable is not None and hasattr(checkable, "reference_problems"):
        # names declared count as defined even when their tables have problems (reported there);
        # with other problems in [nudges], its valid parts are still checked: every problem at once
        problems.extend(checkable.reference_problems(
            sources=set(top.sources), notifiers=set(top.notifiers), calendars=set(top.calendars) | {"always"},
            rules=set(registry)))
    for name in top.rules:                # a rule with other problems still has its calendar checked
        options = rules.get(name)
        cal = getattr(options, "calendar", None) if options is not None else top.rules[name].get("calendar")
        if isinstance(cal, str) and cal not in top.calendars and cal != "always":
            problems.append((("rules", name, "calendar"), f"no calendar named {cal!r}",
                             f"define [calendars.{cal}] or use one of: {', '.join(sorted(calendars)) or 'always'}"))
    return Config(None, base_dir, top.store, top.plugins, sources, calendars, rules, nudges, notifiers)


def _check_scope_sources(rules: dict[str, BaseModel], sources: dict[str, Any], problems: list) -> None:
    """A rule's ``scope.sources`` must name configured sources: one that names none would match
    nothing, and the rule would never fire."""
    known = {name.lower(): name for name in sources}
    for rule, options in rules.items():
        wanted = getattr(getattr(options, "scope", None), "sources", None)
        if not isinstance(wanted, list):
            continue
        for i, name in enumerate(wanted):
            if isinstance(name, str) and name.lower() not in known:
                close = difflib.get_close_matches(name.lower(), list(known), n=1)
                hint = (f"did you mean {known[close[0]]!r}?" if close else
                        f"configured sources: {', '.join(sorted(sources))}" if sources else
                        "define it in a [sources.NAME] table")
                problems.append((("rules", rule, "scope", "sources", i), f"no source named {name!r}", hint))


def _valid_part(model: type[BaseModel], data: Any, exc: ValidationError, rounds: int = 8) -> BaseModel | None:
    """``model`` validated from ``data`` without the keys that have problems (each problem's key,
    or the list holding it), so what is valid can still be cross-checked; None when nothing is."""
    import copy

    data = copy.deepcopy(data)
    for _ in range(rounds):
        for err in exc.errors(include_input=False, include_url=False):
            if not _drop(data, err["loc"]):
                return None
        try:
            return model.model_validate(data)
        except ValidationError as again:
            exc = again
    return None


def _drop(data: Any, loc: tuple) -> bool:
    """Remove the deepest table key along ``loc`` (a list is removed whole); False if none is."""
    parent, key = None, None
    node = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            break
        parent, key, node = node, part, node[part]
    if parent is None:
        return False
    parent.pop(key, None)
    return True


def _optional_model(module: str, name: str) -> type[BaseModel] | None:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def find_config(explicit: str | os.PathLike | None = None) -> Path:
    """The config file: ``explicit``, else $CAREPLUG_CONFIG, else ./careplug.toml."""
    candidate = explicit or os.environ.get("CAREPLUG_CONFIG") or DEFAULT_CONFIG_NAME
    return Path(candidate)


def plugin_modules(path: str | os.PathLike) -> list[str]:
    """The ``plugins = [...]`` of the config file at ``path``, read without validating anything
    else: for what must be loaded before the config is (the commands its plugins add). Lenient:
    a file that is missing, unreadable or not TOML, a ``plugins`` that is not a list, an entry that
    is not a string or whose ``${...}`` cannot be resolved all give nothing (``load`` reports them)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    modules = data.get("plugins")
    if not isinstance(modules, list):
        return []
    out = []
    for i, module in enumerate(modules):
        problems: list[tuple[tuple, str, str | None]] = []
        value = _interpolate(module, ("plugins", i), path.resolve().parent, problems)
        if isinstance(value, str) and value and not problems:
            out.append(value)
    return out


def load(path: str | os.PathLike, *, plugins: Any = None, check_paths: bool = False) -> Config:
    """Read and validate the config file at ``path`` (``parse``; ``check_paths`` as there)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")   # a byte-order mark (Windows editors) is not content
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("", f"config file {path} not found", None,
                                         "create one with `careplug init`", str(path))]) from None
    except IsADirectoryError:
        raise ConfigError([ConfigProblem("", f"{path} is a directory, not a config file", None,
                                         f"name the file, e.g. {path / DEFAULT_CONFIG_NAME}", str(path))]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem("", f"{path} is not UTF-8 text (byte {exc.start}: "
                                         f"{exc.object[exc.start:exc.start + 1]!r})", line,
                                         "save it as UTF-8; a TOML file is UTF-8 text", str(path))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read config file {path}: {exc.strerror or exc}", None,
                                         None, str(path))]) from None
    return parse(text, file=str(path), base_dir=path.resolve().parent, plugins=plugins, check_paths=check_paths)
