"""Errors that obsdb expects and explains; the CLI prints them without a traceback."""

from __future__ import annotations


class ObsdbError(Exception):
    """An expected failure with a message that tells the user what to do."""

    exit_code = 1


class ConfigError(ObsdbError):
    """The configuration is incomplete or contradictory."""

    exit_code = 2


class DatabaseUnavailable(ObsdbError):
    """PostgreSQL cannot be reached or refused us."""

    exit_code = 3


class MissingDatabase(DatabaseUnavailable):
    """The server answers but the database does not exist (and we were told not to create it)."""


class EmbeddedServerError(ObsdbError):
    """The embedded PostgreSQL could not be started or used."""

    exit_code = 3


class MigrationError(ObsdbError):
    """The schema cannot be brought up to date safely (e.g. an applied file changed)."""

    exit_code = 4


class EngineRefused(ObsdbError):
    """The server (e.g. a Citus coordinator) refused a statement obsdb sent: a feature it lacks."""

    exit_code = 7


def engine_refused(exc: BaseException) -> EngineRefused | None:
    """An EngineRefused for 'feature not supported' (0A000) or an internal error (XX000, which is
    how Citus reports e.g. a duplicate key inside a distributed COPY); None for anything else.

    The message is the server's own (primary text, detail, hint): never the connection string.
    """
    import psycopg

    if not isinstance(exc, psycopg.errors.FeatureNotSupported | psycopg.errors.InternalError_):
        return None
    diag = exc.diag
    text = (diag.message_primary or str(exc)).strip()
    extra = " ".join(f"({part.strip()})" for part in (diag.message_detail, diag.message_hint) if part)
    code = diag.sqlstate or "?"
    return EngineRefused(
        f"this PostgreSQL engine refused a statement (SQLSTATE {code}): {text}{' ' + extra if extra else ''}. "
        "obsdb does not support this operation on this engine yet; nothing of the failed step was kept. "
        "On Citus, see the README section 'Citus' for what works."
    )


class StatementFailed(ObsdbError):
    """The server reported an error obsdb has no specific advice for (a deadlock, a lock timeout,
    a cancelled statement...): its own words, and whether trying again can help."""

    exit_code = 1


#: SQLSTATE classes a second attempt can get past: transaction rollback (deadlock, serialization),
#: lock not available, operator intervention (cancel, shutdown)
_TRANSIENT = ("40", "55", "57")


def statement_failed(exc: BaseException) -> StatementFailed | None:
    """A StatementFailed for any error the server reported (it has a SQLSTATE); None otherwise."""
    import psycopg

    if not isinstance(exc, psycopg.Error) or not exc.sqlstate:
        return None
    text = (exc.diag.message_primary or str(exc)).strip()
    advice = ("nothing of the failed step was kept; running the command again is safe and usually succeeds"
              if exc.sqlstate[:2] in _TRANSIENT else
              "nothing of the failed step was kept; if it persists, report it with this message")
    return StatementFailed(f"the database reported an error (SQLSTATE {exc.sqlstate}): {text}; {advice}")
