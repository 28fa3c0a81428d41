"""Where the database is, read from the environment and a `.env` file.

Precedence: ``DATABASE_URL``; else any of ``DB_HOST``/``DB_PORT``/``DB_NAME``/``DB_USER``/
``DB_PASSWORD`` (missing ones take their defaults); else the embedded PostgreSQL, whose data
directory is ``OBSDB_PGDATA`` (default ``.obsdb/pgdata`` in the working directory).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_NAME = "observer"


class Settings(BaseSettings):
    """Connection settings; the password is a SecretStr so it never prints by accident."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_user: str | None = None
    db_password: SecretStr | None = None
    obsdb_pgdata: Path = Path(".obsdb/pgdata")

    @property
    def uses_embedded(self) -> bool:
        """True when nothing names a server, so obsdb runs its own."""
        parts = (self.db_host, self.db_port, self.db_name, self.db_user, self.db_password)
        return self.database_url is None and all(p is None for p in parts)

    @property
    def database_name(self) -> str:
        return self.db_name or DEFAULT_DB_NAME


def load_settings() -> Settings:
    """Read the environment (and `.env` in the working directory) now."""
    return Settings()
