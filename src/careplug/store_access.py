"""Opening a command's store: one that cannot be created or reached is an error that names it
(credentials hidden) and says what is wrong, never "internal error (a bug)"."""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, StoreUnavailable


def store_label(url: str) -> str:
    """The store as messages name it: a SQLite file's path, or the URL without user, password
    and query (which may carry a password)."""
    if "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:   # not a URL SQLAlchemy reads: show only its scheme
        return url.split("://", 1)[0] + "://***"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    auth = "***@" if parsed.username or parsed.password is not None else ""
    port = f":{parsed.port}" if parsed.port else ""
    database = f"/{parsed.database}" if parsed.database else ""
    return f"{parsed.drivername}://{auth}{parsed.host or ''}{port}{database}"


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    """``exc`` (an ``OSError`` or a database driver's error) as a ``StoreUnavailable`` naming the
    store; a password in the driver's message is hidden too."""
    label = store_label(url)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        reason = f"{exc.strerror or exc}{where}"
    else:
        original = getattr(exc, "orig", None) or exc
        lines = [line.strip() for line in str(original).splitlines()
                 if line.strip() and not line.strip().startswith("(Background on this error")]
        reason = " ".join(lines) or type(exc).__name__
    reason = _hide_secrets(reason, url)
    return StoreUnavailable(f"cannot open the store {label}: {reason}", store=label)


def open_store(app: Any) -> Any:
    """``app.store``, created and migrated now. Raises ``StoreUnavailable`` when it cannot be, and
    ``ConfigError`` (at ``store.url``) for a URL no installed database driver reads."""
    try:
        return app.store
    except StoreUnavailable:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or is_database_error(exc):
            raise unavailable(app.config.store_url, exc) from exc
        problem = _url_problem(app.config.store_url, exc)
        if problem is not None:
            raise ConfigError([_at_store_url(app.config, *problem)]) from exc
        raise


def url_problem(url: str) -> tuple[str, str] | None:
    """(message, hint) for a store URL that can be told wrong without connecting: not a URL
    SQLAlchemy reads, a database no installed dialect knows, or its driver not importable. The
    message names the URL's scheme and the driver at most, never the URL (it may hold a password)."""
    from sqlalchemy.engine import make_url

    try:
        make_url(url).get_dialect().import_dbapi()
    except Exception as exc:
        return _url_problem(url, exc)
    return None


def sqlite_file_problem(url: str) -> tuple[str, str] | None:
    """(message, hint) when the SQLite file of ``url`` (a path, or a ``sqlite:`` URL) could never be
    created: it is a folder, or a file stands where its folder would be made. None otherwise (a
    folder that does not exist yet is created by the run)."""
    from pathlib import Path

    if "://" in url:
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception:                # reported by url_problem
            return None
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
                or parsed.database.startswith("file:"):
            return None
        url = parsed.database
    path = Path(url).expanduser()
    if path.is_dir():
        return f"{path} is a folder, not a database file", f"name the file in it, e.g. {path / 'careplug.db'}"
    for folder in path.parents:
        if folder.exists():
            if folder.is_dir():
                return None
            return (f"{folder} is a file, so the store's folder {path.parent} cannot be created",
                    "move that file or choose another path for the store")
    return None


def _url_problem(url: str, exc: BaseException) -> tuple[str, str] | None:
    """(message, hint) when ``exc`` says ``url`` is no URL, or names a database without a driver."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    scheme = url.split("://", 1)[0] if "://" in url else ""
    example = 'e.g. url = "postgresql+psycopg://careplug:${CAREPLUG_DB_PASSWORD}@db.internal/careplug"'
    if isinstance(exc, NoSuchModuleError):     # before ArgumentError: it is one
        return f"no database driver for {scheme!r}", f"careplug stores use SQLite (path = ...) or PostgreSQL: {example}"
    if isinstance(exc, ArgumentError):
        return "is not a database URL", example
    if isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith(("careplug", "sqlalchemy")):
        return (f"the database driver {exc.name!r} for {scheme!r} is not installed",
                "for PostgreSQL: pip install 'careplug[postgres]'")
    return None


def _at_store_url(config: Any, message: str, hint: str) -> Any:
    from .config import ConfigProblem, key_lines

    file = str(config.path) if config.path else None
    line = None
    if config.path:
        try:
            line = key_lines(config.path.read_text(encoding="utf-8-sig")).get(("store", "url"))
        except OSError:
            pass
    return ConfigProblem("store.url", message, line, hint, file)


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database saying it cannot be reached or written (a server down, a
    connection lost, a read-only or locked file), not a careplug bug."""
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover
        return False
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    said = str(getattr(exc, "orig", exc)).lower()     # SQLite says a bad query is "operational" too
    return not any(bug in said for bug in _QUERY_BUGS)


_QUERY_BUGS = ("no such table", "no such column", "syntax error", "ambiguous column", "has no column",
               "no such function", "too many sql variables")


def _hide_secrets(text: str, url: str) -> str:
    if "://" not in url:
        return text
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return text
    secrets = [parsed.password, *(v for k, v in parsed.query.items() if "pass" in k.lower() or "key" in k.lower())]
    for secret in secrets:
        for value in ([secret] if isinstance(secret, str) else list(secret or ())):
            if value and len(str(value)) >= 4:     # a shorter one would blank out ordinary words
                text = text.replace(str(value), "***")
    return text.replace(url, store_label(url))
