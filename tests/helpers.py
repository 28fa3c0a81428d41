"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import Composable

from obsdb.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def with_db(conninfo: str, dbname: str) -> str:
    """The same server, another database."""
    params = conninfo_to_dict(conninfo)
    params["dbname"] = dbname
    return make_conninfo(**params)


def settings_for(conninfo: str) -> Settings:
    """Settings that point obsdb at one test database, whatever the environment or `.env` say."""
    return Settings(database_url=conninfo, _env_file=None)  # type: ignore[arg-type,call-arg]


def obsdb_env(conninfo: str | None, **extra: str) -> dict[str, str]:
    """The environment for an ``obsdb`` subprocess aimed at ``conninfo`` (None: nothing configured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_") and k != "DATABASE_URL"}
    if conninfo is not None:
        env["DATABASE_URL"] = conninfo
    env.update(extra)
    return env


def run_obsdb(*args: str, env: dict[str, str], cwd: Path | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "obsdb", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def write_lines(path: Path, *lines: str | bytes | dict[str, object], end: bytes = b"\n") -> Path:
    """Write JSONL: dicts are encoded, text and bytes are written as they are."""
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    out = bytearray()
    for line in lines:
        if isinstance(line, dict):
            out += orjson.dumps(line)
        elif isinstance(line, str):
            out += line.encode()
        else:
            out += line
        out += end
    path.write_bytes(bytes(out))
    return path


def query(conninfo: str, sql: str | Composable, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
