"""Resolve where the database is and open connections that fail with advice, not tracebacks."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from obsdb.config import DEFAULT_DB_NAME, Settings
from obsdb.errors import ConfigError, DatabaseUnavailable, MissingDatabase

if TYPE_CHECKING:
    from obsdb.db.embedded import EmbeddedServer

CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class Target:
    """A database to talk to. ``conninfo`` may hold a password: print ``display`` instead."""

    conninfo: str
    display: str
    dbname: str
    embedded: EmbeddedServer | None = None
    password: str | None = None

    def scrub(self, text: str) -> str:
        """Remove the password from a message that may have quoted the connection string."""
        return text.replace(self.password, "***") if self.password else text

    @property
    def conninfo_without_password(self) -> str:
        """For handing to another program; pass the password through PGPASSWORD instead."""
        params = {k: v for k, v in conninfo_to_dict(self.conninfo).items() if k != "password"}
        return make_conninfo("", **params)

    @property
    def where(self) -> str:
        """host:port (or the socket directory) for messages."""
        params = conninfo_to_dict(self.conninfo)
        host = params.get("host") or "localhost"
        return f"{host}:{params.get('port') or 5432}"


def _display(params: dict[str, Any]) -> str:
    user = params.get("user") or ""
    host = params.get("host") or ""
    port = params.get("port")
    dbname = params.get("dbname") or ""
    if str(host).startswith("/"):
        return f"postgresql://{user}@/{dbname}?host={host}" + (f"&port={port}" if port else "")
    secret = ":***" if params.get("password") else ""
    return f"postgresql://{user}{secret}@{host}{':' + str(port) if port else ''}/{dbname}"


def resolve(settings: Settings) -> Target:
    """Pick the database: DATABASE_URL, else DB_* variables, else the embedded server."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"DATABASE_URL is not a valid connection string: {_scrubbed(exc, url)}") from None
        params.setdefault("dbname", DEFAULT_DB_NAME)
        password = params.get("password")
        return Target(make_conninfo("", **params), _display(params), str(params["dbname"]), None,
                      str(password) if password else None)
    if not settings.uses_embedded:
        password = settings.db_password.get_secret_value() if settings.db_password else None
        params = {
            "host": settings.db_host or "localhost",
            "port": settings.db_port or 5432,
            "dbname": settings.database_name,
            "user": settings.db_user or "postgres",
        }
        if password:
            params["password"] = password
        return Target(make_conninfo("", **params), _display(params), settings.database_name, None, password)
    from obsdb.db.embedded import acquire

    server = acquire(settings.obsdb_pgdata)
    params = conninfo_to_dict(server.conninfo(settings.database_name))
    return Target(make_conninfo("", **params), _display(params), settings.database_name, server)


def _scrubbed(exc: BaseException, secret: str | None) -> str:
    text = str(exc).strip()
    if not secret:
        return text
    # libpq may quote one part of a URL as typed (`invalid percent-encoded token: "pa%ss"`), so the
    # password as written between ':' and '@' is masked too, not only the whole URL.
    typed = re.match(r"[A-Za-z][\w+.-]*://[^:@/]*:([^@/]+)@", secret)
    for part in (secret, typed.group(1) if typed else None):
        if part:
            text = text.replace(part, "***")
    return text


def connect(target: Target, *, autocommit: bool = False, create_missing: bool = True) -> psycopg.Connection[Any]:
    """Connect; create the database when it is missing and the role may; else explain what to run."""
    try:
        return psycopg.connect(target.conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        if _is_missing_database(exc):
            if not create_missing:
                raise MissingDatabase(f'database "{target.dbname}" does not exist at {target.where}') from None
            create_database(target)
            return connect(target, autocommit=autocommit, create_missing=False)
        raise unavailable(target, exc) from None


def unavailable(target: Target, exc: BaseException) -> DatabaseUnavailable:
    """Turn a driver error into advice that names the server but never the password."""
    detail = target.scrub(str(exc).strip()) or type(exc).__name__
    if "password authentication failed" in detail or "no password supplied" in detail:
        hint = "check DB_USER/DB_PASSWORD (or the password in DATABASE_URL)"
    elif target.embedded is not None:
        hint = "the embedded server stopped; run the command again, or see its log next to the data directory"
    else:
        hint = ("is PostgreSQL running there? Check DATABASE_URL or DB_HOST/DB_PORT, "
                "or unset them to use the embedded server")
    return DatabaseUnavailable(f"cannot reach PostgreSQL at {target.where}: {detail}\n  -> {hint}")


def _is_missing_database(exc: psycopg.OperationalError) -> bool:
    return getattr(exc, "sqlstate", None) == "3D000" or ("does not exist" in str(exc) and "database" in str(exc))


def create_database(target: Target) -> None:
    """CREATE DATABASE through the maintenance database, if this role is allowed to."""
    params = conninfo_to_dict(target.conninfo)
    user = params.get("user") or "the current user"
    maint = make_conninfo(target.conninfo, dbname="postgres")
    try:
        with psycopg.connect(maint, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            if not (row and row[0]):
                raise ConfigError(_ask_admin(target.dbname, str(user)))
            # another obsdb was quicker: DuplicateDatabase, or UniqueViolation when both were at it at once
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))
    except psycopg.OperationalError as exc:
        raise ConfigError(f"{_ask_admin(target.dbname, str(user))}\n  ({target.scrub(str(exc).strip())})") from None


def _ask_admin(dbname: str, user: str) -> str:
    ident = '"' + dbname.replace('"', '""') + '"'
    role = '"' + user.replace('"', '""') + '"'
    return (
        f'database "{dbname}" does not exist and role {role} may not create it. '
        f"Ask an administrator to run:\n    CREATE DATABASE {ident} OWNER {role};"
    )
