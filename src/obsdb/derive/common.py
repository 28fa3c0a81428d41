"""What every derive step shares: settings, change counts, SQL files, KST session bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import LiteralString

from obsdb import krx


@dataclass(frozen=True)
class DeriveSettings:
    """Thresholds (seconds). Configurable from the CLI; these defaults are documented in docs/derive.md."""

    feed_gap_seconds: float = 10.0
    symbol_gap_seconds: float = 60.0
    #: snapshots further apart than this belong to different polling sweeps
    sweep_gap_seconds: float = 120.0


@dataclass
class Changes:
    """What one step did to its table: rows written (new or changed), deleted, and left as they were."""

    written: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __iadd__(self, other: Changes) -> Changes:
        self.written += other.written
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        return self


@cache
def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/derive/sql/<name>.sql`` (SQL lives in files; values are parameters)."""
    text = resources.files("obsdb.derive").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text  # our own package file, not input


def session_bounds(day: date) -> tuple[datetime, datetime] | None:
    """The regular session [open, close] of a KST date (late opens included), or None."""
    s = krx.session(day)
    return (s.open, s.close) if s is not None else None
