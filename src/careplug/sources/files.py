"""The built-in ``files`` source: customer history from JSON Lines or CSV exports in a folder.

For teams without API access (and for the demo). Registered through ``careplug_register_sources``
exactly like a third-party adapter. The format is documented in ``docs/files-format.md``.

Reading
    One file per stream in ``path``: ``accounts``, ``agents``, ``customers``, ``conversations``,
    ``messages``, ``events``, ``ratings``, ``tasks`` and ``deletions``, each ``<stream>.jsonl`` or
    ``<stream>.csv`` (a missing file is an empty stream). A row's fields are the model's field
    names (``careplug.model``) with ``id`` for the external id. The cursor of a stream remembers
    the file's byte offset after the last complete line read, its line number, and fingerprints
    of the file's head and of the bytes just before the offset: lines appended since the last
    sync are read from there; a file that was truncated or rewritten is read again from the top
    (upserts make that harmless). A row that cannot be read becomes ``Quarantined`` with the file
    name, line number and what is wrong; the rest of the file is synced. A last line without a
    newline may still be being written: it is read when it parses, but the cursor stays before it.
    A file in the folder that no selected stream reads, but that looks like an export (a
    ``.json``, ``.jsonl``, ``.csv``... file, or one named like a stream: ``customers.json``,
    ``customer.jsonl``) is named in a warning saying which names are read.

Writing back
    ``deliver`` appends each nudge, with its marker, as one JSON line to the outbox file, after
    looking the marker up there, so a retry writes nothing twice; ``cancel`` appends one
    cancellation line per nudge (once).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import logging
import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, TypeAdapter, ValidationError, ValidationInfo, field_validator

import careplug
from careplug.errors import FatalSourceError
from careplug.model import RECORD_TYPES, Checkpoint, Quarantined, Record
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions

log = logging.getLogger(__name__)

STREAMS = ("accounts", "agents", "customers", "conversations", "messages", "events", "ratings", "tasks",
           "deletions")
KIND_OF_STREAM = {s: s[:-1] for s in STREAMS}
FINGERPRINT_BYTES = 4096
EXPORT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".txt", ".xls", ".xlsx")
"""A file with one of these suffixes in the folder is meant to be read: if it is not, say so."""


class FilesOptions(SourceOptions):
    """``[sources.NAME]`` with ``type = "files"``."""

    path: str = Field(description="Folder holding the export files (relative to the config file's folder).")
    format: Literal["auto", "jsonl", "csv"] = Field(
        "auto", description="File format; 'auto' takes <stream>.jsonl, else <stream>.csv.")
    delimiter: str = Field(",", description="CSV field delimiter.")
    list_separator: str = Field(";", description="Separator of list values (emails, tags, ...) in CSV cells.")
    time_zone: str = Field("UTC", description="Time zone of timestamps written without an offset.")
    encoding: str = Field("utf-8", description="Text encoding of the files.")
    checkpoint_every: int = Field(1000, ge=1, description="Records between checkpoints.")
    outbox: str | None = Field(None, description="JSON Lines file nudges are written to; default <path>/outbox.jsonl.")

    @field_validator("path")
    @classmethod
    def _existing_folder(cls, value: str, info: ValidationInfo) -> str:
        """With ``check_paths`` in the context (``careplug validate``): the folder must exist."""
        context = info.context or {}
        if not context.get("check_paths"):
            return value                        # a run: a missing folder fails this source's streams
        folder = resolve_path(value, context.get("base_dir"))
        if not os.path.exists(folder):
            raise ValueError(f"folder {folder} does not exist (a relative path is relative to the config "
                             "file's folder)")
        if not os.path.isdir(folder):
            raise ValueError(f"{folder} is a file, not a folder: name the folder holding the export files")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            info = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r} (e.g. 'utf-8', 'utf-8-sig', 'cp1252', "
                             "'latin-1')") from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{value!r} is not a text encoding (e.g. 'utf-8', 'cp1252', 'latin-1')")
        return value

    @field_validator("delimiter", "list_separator")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("must be exactly one character")
        return value

    @field_validator("streams")
    @classmethod
    def _known_streams(cls, value: list[str] | None) -> list[str] | None:
        unknown = [s for s in value or [] if s not in STREAMS]
        if unknown:
            raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(STREAMS)}")
        return value


def resolve_path(path: str, base_dir: str | os.PathLike | None) -> str:
    """``path`` with ``~`` expanded, relative to ``base_dir`` (the config file's folder; else the
    working directory)."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base_dir or os.getcwd(), path)
    return os.path.normpath(path)


# --- rows → records ---------------------------------------------------------------------------------


class _RowReader:
    """Turns one row (a dict of field name → JSON value or CSV text) into a record of one kind."""

    def __init__(self, kind: str, tz: ZoneInfo, list_separator: str):
        cls = RECORD_TYPES[kind]
        self.kind = kind
        self.adapter = TypeAdapter(cls)
        hints = typing.get_type_hints(cls)
        self.fields = {f.name for f in fields(cls)} - {"source", "external_id"}
        self.lists = {n for n in self.fields if typing.get_origin(hints[n]) is list}
        self.times = {n for n in self.fields if datetime in (typing.get_args(hints[n]) or (hints[n],))}
        self.tz = tz
        self.sep = list_separator

    def read(self, source: str, row: dict[str, Any], *, text: bool) -> Record:
        """The record, or ``ValueError`` saying what is wrong."""
        if not isinstance(row, dict):
            raise ValueError(f"expected an object, got {type(row).__name__}")
        data = dict(row)
        external_id = data.pop("id", None)
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        if not isinstance(external_id, str) or not external_id.strip():
            raise ValueError("missing 'id'")
        unknown = sorted(k for k in data if k not in self.fields)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))} for a {self.kind}")
        if text:
            data = {k: (v.split(self.sep) if k in self.lists else v) for k, v in data.items() if v != ""}
        data = {k: v for k, v in data.items() if v is not None}
        data["source"], data["external_id"] = source, external_id.strip()
        try:
            record = self.adapter.validate_python(data)
        except ValidationError as exc:
            raise ValueError("; ".join(_describe(e) for e in exc.errors())) from None
        for name in self.times:
            value = getattr(record, name)
            if value is not None:
                value = value.replace(tzinfo=self.tz) if value.tzinfo is None else value
                setattr(record, name, value.astimezone(timezone.utc))
        return record


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "row"
    return f"{where}: {error.get('msg')} (got {error.get('input')!r})"


# --- files and cursors ------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _fingerprints(f: io.BufferedReader, offset: int) -> tuple[str, str]:
    """Fingerprints of the file's first bytes and of the bytes just before ``offset``."""
    f.seek(0)
    head = _digest(f.read(min(offset, FINGERPRINT_BYTES)))
    start = max(0, offset - FINGERPRINT_BYTES)
    f.seek(start)
    tail = _digest(f.read(offset - start))
    return head, tail


class _Lines:
    """Complete lines of a binary file from ``offset``, tracking the offset after each line."""

    def __init__(self, f: io.BufferedReader, offset: int, line: int, encoding: str):
        self.f, self.offset, self.line, self.encoding = f, offset, line, encoding
        self.partial: str | None = None     # a last line without a newline (maybe still being written)
        self.undecodable: dict[int, str] = {}   # line number -> what is wrong with its bytes
        f.seek(offset)

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            if not raw.endswith(b"\n"):
                self.partial = raw.decode(self.encoding, errors="replace")
                return
            self.offset += len(raw)
            self.line += 1
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.undecodable[self.line] = f"not valid {self.encoding} text: {exc.reason} at byte {exc.start}"
                text = raw.decode(self.encoding, errors="replace")
            if self.line == 1:
                text = text.removeprefix("\ufeff")
            yield text


# --- the source --------------------------------------------------------------------------------------


class FilesSource(Source):
    """Customer history from JSON Lines / CSV exports in a folder (see the module docstring)."""

    kind = "files"
    Options = FilesOptions
    streams = STREAMS
    description = "JSON Lines or CSV exports in a folder (no API needed); nudges go to an outbox file."

    options: FilesOptions

    def __init__(self, name: str, options: FilesOptions, *, base_dir: str | None = None):
        super().__init__(name, options, base_dir=base_dir)
        self.path = resolve_path(options.path, base_dir)
        self.outbox = resolve_path(options.outbox, base_dir) if options.outbox else os.path.join(self.path, "outbox.jsonl")
        self.tz = ZoneInfo(options.time_zone)
        self._readers: dict[str, _RowReader] = {}

    @property
    def outbox_path(self) -> str:
        """The outbox file nudges are appended to."""
        return self.outbox

    def file_for(self, stream: str) -> tuple[str, str] | None:
        """``(path, format)`` of a stream's file, or None when there is none."""
        formats = ("jsonl", "csv") if self.options.format == "auto" else (self.options.format,)
        for fmt in formats:
            candidate = os.path.join(self.path, f"{stream}.{fmt}")
            if os.path.isfile(candidate):
                return candidate, fmt
        return None

    def _reader(self, stream: str) -> _RowReader:
        if stream not in self._readers:
            self._readers[stream] = _RowReader(KIND_OF_STREAM[stream], self.tz, self.options.list_separator)
        return self._readers[stream]

    # --- reading ------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        if stream not in STREAMS:
            raise ValueError(f"files source has no stream {stream!r}")
        if not os.path.isdir(self.path):
            raise FatalSourceError(f"folder {self.path} does not exist", source=self.name, stream=stream)
        found = self.file_for(stream)
        if found is None:
            return
        path, fmt = found
        name = os.path.basename(path)
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            offset, line = self._resume(f, cursor, name, size)
            if offset >= size:
                return
            lines = _Lines(f, offset, line, self.options.encoding)
            rows = self._csv_rows(f, lines) if fmt == "csv" else self._jsonl_rows(lines)
            reader = self._reader(stream)
            since_checkpoint = 0
            for line_no, row, error in rows:
                if lines.undecodable:
                    error = "; ".join(lines.undecodable.values())
                    line_no = min(lines.undecodable)
                    lines.undecodable.clear()
                if error is None:
                    try:
                        yield reader.read(self.name, row, text=fmt == "csv")
                        since_checkpoint += 1
                    except ValueError as exc:
                        error = str(exc)
                if error is not None:
                    external_id = row.get("id") if isinstance(row, dict) else None
                    yield Quarantined(stream, f"{name} line {line_no}: {error}", payload=row,
                                      external_id=f"{name}#{line_no}" if external_id in (None, "")
                                      else str(external_id))
                if since_checkpoint >= self.options.checkpoint_every:
                    yield Checkpoint(stream, self._cursor(f, name, lines))
                    since_checkpoint = 0
            yield Checkpoint(stream, self._cursor(f, name, lines))
            if lines.partial is not None:
                yield from self._partial(stream, name, fmt, reader, lines, f)

    def _partial(self, stream: str, name: str, fmt: str, reader: _RowReader, lines: _Lines,
                 f: io.BufferedReader) -> Iterator[Item]:
        """A last line without a newline: read it if it parses (the cursor stays before it)."""
        text = lines.partial or ""
        if not text.strip():
            return
        try:
            if fmt == "csv":
                header = self._header(f, lines.encoding)
                values = next(csv.reader([text], delimiter=self.options.delimiter))
                if len(values) != len(header):
                    raise ValueError("incomplete")
                row = dict(zip(header, values))
            else:
                row = json.loads(text)
            yield reader.read(self.name, row, text=fmt == "csv")
        except (ValueError, StopIteration):
            log.warning("%s: %s line %d has no newline at the end and does not parse yet; it is read "
                        "when it is complete", self.name, name, lines.line + 1)

    def _resume(self, f: io.BufferedReader, cursor: Any | None, name: str, size: int) -> tuple[int, int]:
        """Where to start: after the cursor, or at the top when the file is not the one it covers."""
        if not isinstance(cursor, dict) or cursor.get("file") != name:
            return 0, 0
        offset = int(cursor.get("offset", 0))
        if offset <= 0 or offset > size:
            if offset > size:
                log.info("%s: %s is shorter than at the last sync: reading it again", self.name, name)
            return 0, 0
        if _fingerprints(f, offset) != (cursor.get("head"), cursor.get("tail")):
            log.info("%s: %s was rewritten since the last sync: reading it again", self.name, name)
            return 0, 0
        return offset, int(cursor.get("line", 0))

    def _cursor(self, f: io.BufferedReader, name: str, lines: _Lines) -> dict[str, Any]:
        here = f.tell()
        head, tail = _fingerprints(f, lines.offset)
        f.seek(here)
        return {"file": name, "offset": lines.offset, "line": lines.line, "head": head, "tail": tail}

    def _jsonl_rows(self, lines: _Lines) -> Iterator[tuple[int, Any, str | None]]:
        for text in lines:
            if not text.strip():
                continue
            try:
                yield lines.line, json.loads(text), None
            except json.JSONDecodeError as exc:
                yield lines.line, text.rstrip("\n"), f"not valid JSON: {exc.msg} at column {exc.colno}"

    def _header(self, f: io.BufferedReader, encoding: str) -> list[str]:
        here = f.tell()
        f.seek(0)
        first = f.readline().decode(encoding).removeprefix("\ufeff")
        f.seek(here)
        return [h.strip() for h in next(csv.reader([first], delimiter=self.options.delimiter), [])]

    def _csv_rows(self, f: io.BufferedReader, lines: _Lines) -> Iterator[tuple[int, Any, str | None]]:
        if lines.offset == 0:
            header_lines = iter(lines)
            first = next(header_lines, None)
            if first is None:
                return
            header = [h.strip() for h in next(csv.reader([first], delimiter=self.options.delimiter), [])]
        else:
            header = self._header(f, lines.encoding)
            f.seek(lines.offset)
        reader = csv.reader(iter(lines), delimiter=self.options.delimiter)
        while True:
            start = lines.line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, f"not valid CSV: {exc}"
                continue
            if not values or all(not v for v in values):
                continue
            if len(values) != len(header):
                yield start, values, f"has {len(values)} cells, the header has {len(header)}"
                continue
            yield start, dict(zip(header, values)), None

    # --- what is not read ---------------------------------------------------------------------

    def warnings(self) -> list[str]:
        """One warning per file in the folder that looks like an export but is not read (see the
        module docstring), naming the file and what is read instead. Hidden files, sub-folders,
        the outbox and the files of streams left out of ``streams`` are not mentioned."""
        if not os.path.isdir(self.path):
            return []                                   # the streams already failed for that
        selected = self.selected_streams()
        taken = {_identity(found[0]) for found in map(self.file_for, selected) if found}
        if os.path.exists(self.outbox):
            taken.add(_identity(self.outbox))
        out = []
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file() or _identity(entry.path) in taken:
                continue
            stem = entry.name.split(".", 1)[0].lower()
            stream = stem if stem in STREAMS else next(iter(difflib.get_close_matches(stem, STREAMS, 1, 0.8)), None)
            if stream is None and not entry.name.lower().endswith(EXPORT_SUFFIXES):
                continue
            if stream is None or stream in selected:
                out.append(f"{entry.name} in {self.path} is not read: {self._read_instead(entry.name, stream)}")
        return out

    def _names(self, stream: str) -> str:
        formats = ("jsonl", "csv") if self.options.format == "auto" else (self.options.format,)
        return " or ".join(f"{stream}.{fmt}" for fmt in formats)

    def _read_instead(self, name: str, stream: str | None) -> str:
        """What the files source reads instead of the file ``name`` (for ``stream``, if it is one's)."""
        if stream is None:
            return (f"the files source reads {self._names('<stream>')} for the streams "
                    f"{', '.join(self.selected_streams())} (docs/files-format.md)")
        found = self.file_for(stream)
        if found is not None and name.split(".", 1)[0].lower() == stream:
            return (f"the {stream} stream is read from {os.path.basename(found[0])} (format "
                    f"{self.options.format!r}; one file per stream)")
        hint = " (JSON Lines: one object per line, not a JSON array)" if name.lower().endswith(".json") else ""
        return f"the {stream} stream is read from {self._names(stream)}{hint}"

    # --- writing back -------------------------------------------------------------------------

    def _outbox_entries(self) -> Iterator[dict[str, Any]]:
        if not os.path.exists(self.outbox):
            return
        with open(self.outbox, encoding="utf-8") as f:
            for text in f:
                if not text.endswith("\n"):
                    break               # a write torn by a crash: never delivered
                try:
                    entry = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    yield entry

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        wanted = {n.marker: n for n in nudges}
        found: dict[str, Receipt] = {}
        for entry in self._outbox_entries():
            nudge = wanted.get(entry.get("marker", ""))
            if nudge is not None and entry.get("type") == "nudge" and nudge.key not in found:
                found[nudge.key] = Receipt(nudge.key, entry.get("ref"), _parse_time(entry.get("at")), existed=True)
        return found

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        already = self.find_delivered(nudges)
        receipts: list[Receipt] = []
        new_lines: list[str] = []
        now = datetime.now(timezone.utc)
        for nudge in nudges:
            if nudge.key in already:
                receipts.append(already[nudge.key])
                continue
            ref = f"outbox:{nudge.key}"
            new_lines.append(json.dumps(_nudge_entry(nudge, ref, now), ensure_ascii=False) + "\n")
            receipts.append(Receipt(nudge.key, ref, now))
            already[nudge.key] = receipts[-1]
        self._append(new_lines)
        return receipts

    def cancel(self, nudges: list[Nudge]) -> None:
        cancelled = {e.get("marker") for e in self._outbox_entries() if e.get("type") == "cancel"}
        now = datetime.now(timezone.utc).isoformat()
        lines = []
        for nudge in nudges:
            if nudge.marker in cancelled:
                continue
            cancelled.add(nudge.marker)
            lines.append(json.dumps({"type": "cancel", "marker": nudge.marker, "key": nudge.key,
                                     "ref": nudge.external_ref, "at": now}) + "\n")
        self._append(lines)

    def _append(self, lines: list[str]) -> None:
        if not lines:
            return
        os.makedirs(os.path.dirname(self.outbox) or ".", exist_ok=True)
        with open(self.outbox, "a+", encoding="utf-8") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":    # a line torn by a crash: end it so ours stay whole
                    f.write("\n")
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())


def _identity(path: str) -> tuple[int, int]:
    """The file ``path`` is, whatever its name's case on a case-insensitive file system."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _nudge_entry(n: Nudge, ref: str, at: datetime) -> dict[str, Any]:
    return {"type": "nudge", "marker": n.marker, "key": n.key, "ref": ref, "at": at.isoformat(),
            "finding": n.finding_key, "stage": n.stage, "action": n.action.value, "title": n.title,
            "body": n.body, "assignee": n.assignee, "escalation": n.escalation,
            "due_at": n.due_at.isoformat() if n.due_at else None, "conversation_id": n.conversation_id,
            "customer_id": n.customer_id, "account_id": n.account_id, "tags": list(n.tags)}


def _parse_time(value: Any) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@careplug.hookimpl
def careplug_register_sources(register: Callable[[type[Source]], None]) -> None:
    register(FilesSource)
