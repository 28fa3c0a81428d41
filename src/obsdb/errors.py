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
