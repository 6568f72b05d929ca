"""careplug's errors, grouped by how to recover (in the spirit of the Singer SDK).

Every message names what is wrong and where; none ever contains a secret.
"""

from __future__ import annotations


class CareplugError(Exception):
    """Base of every careplug error."""


class ConfigError(CareplugError):
    """The configuration is wrong. ``problems`` lists every problem found, each with key path,
    line and hint; the CLI prints them all and exits with EXIT_CONFIG."""

    def __init__(self, problems: list | str):  # list of careplug.config.ConfigProblem
        if isinstance(problems, str):
            self.problems = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(CareplugError):
    """An argument names nothing there is (a finding key no finding has); the CLI exits with
    EXIT_USAGE, as for any wrong argument."""


class PluginError(CareplugError):
    """A plugin failed to load or registered something invalid."""


class ShapeError(CareplugError, TypeError):
    """A plugin returned something of the wrong shape (a bare ``Finding`` where a list is due, a
    list holding None): ``careplug.shapes`` says what each hook and rule returns. Recorded as that
    plugin's failure; the run goes on without its result."""


class StoreLocked(CareplugError):
    """Another run holds the store's run lock."""


class StoreUnavailable(CareplugError):
    """The store cannot be created, opened or reached (a PostgreSQL server down, a path that
    cannot be created). ``store`` names it with its credentials hidden; nothing was done."""

    def __init__(self, message: str, *, store: str):
        super().__init__(message)
        self.store = store


class SourceError(CareplugError):
    """A source failed. ``source`` and ``stream`` say where."""

    def __init__(self, message: str, *, source: str | None = None, stream: str | None = None):
        self.source, self.stream = source, stream
        where = ":".join(p for p in (source, stream) if p)
        super().__init__(f"{where}: {message}" if where else message)


class RetriableError(SourceError):
    """Transient (429, 5xx, timeouts, connection resets): retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimitExhausted(SourceError):
    """The CRM's allowance is used up (Salesforce REQUEST_LIMIT_EXCEEDED, a daily cap reached, or a
    Retry-After longer than careplug will wait). Stop the stream cleanly; cursors are kept."""


class AuthError(SourceError):
    """Credentials are missing, wrong or expired and could not be renewed."""


class FatalSourceError(SourceError):
    """Anything else the source cannot recover from (a 4xx that retrying will not fix)."""


class DeliveryError(CareplugError):
    """A nudge could not be delivered; the ledger keeps it for the next run.

    ``receipts``: for a batch that failed part-way, the receipts of the nudges that *were*
    delivered before the failure (recorded as delivered; only the rest are retried)."""

    def __init__(self, message: str, *, receipts: list | None = None):
        super().__init__(message)
        self.receipts = list(receipts or [])
