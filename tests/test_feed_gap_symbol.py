"""Migration 011: feed gaps of a database migrated before it (symbol NULL) get the symbol '*' in
place, every other column and row as it was, and derive then matches them by the new key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from importlib import resources

import psycopg
import pytest

from obsdb import api
from obsdb.db import schema
from obsdb.derive.common import DeriveSettings
from obsdb.derive.gaps import find_feed_gaps
from obsdb.errors import MigrationError
from obsdb.models import FEED_SYMBOL
from tests.helpers import query, settings_for

pytestmark = pytest.mark.db

KST = timezone(timedelta(hours=9))
FRI = date(2026, 1, 30)
OPEN, CLOSE = datetime(2026, 1, 30, 9, 0, tzinfo=KST), datetime(2026, 1, 30, 15, 30, tzinfo=KST)
COMPUTED = datetime(2026, 1, 30, 16, 0, tzinfo=KST)

# (symbol, start, end, seconds, scope, reason, origin): a derived feed gap as derive writes it for a
# day whose only ticks are at the open and the close, an archived one, and gaps of a real symbol.
GAPS = [
    (None, OPEN, CLOSE, 23400, "feed", "outage", "derived"),
    (None, OPEN, OPEN + timedelta(minutes=1), 60, "feed", "websocket_no_data", "archived"),
    ("005930", OPEN, OPEN + timedelta(minutes=2), 120, "symbol", "no_trades", "derived"),
    ("005930", OPEN, OPEN + timedelta(minutes=2), 120, "symbol", "major", "archived"),
    ("000660", OPEN, OPEN + timedelta(seconds=9), 9, "swing", "missing_poll", "derived"),
]
ROWS = ("SELECT gap_id, symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin, computed_at"
        " FROM scalp_gaps ORDER BY gap_id")


@pytest.fixture
def at_010(empty_db: str) -> Iterator[str]:
    """A database at schema 010 (000-010 only) holding feed gaps with symbol NULL."""
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(resources.files("obsdb.db").joinpath("sql/history.sql").read_text())
        for m in schema.available():
            if m.version <= 10:
                conn.execute(m.sql)
                conn.execute("INSERT INTO obsdb_schema_history (version, name, checksum, duration_ms, obsdb_version)"
                             " VALUES (%s, %s, %s, 0, 'test')", (m.version, m.name, m.checksum))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason,"
                            " origin, computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                            [(*g, COMPUTED) for g in GAPS])
    yield empty_db


def test_upgrade_gives_feed_gaps_the_symbol_star_and_keeps_everything_else(at_010: str) -> None:
    before = query(at_010, ROWS)
    applied = [m.version for m in api.init(settings=settings_for(at_010)).applied]
    assert applied[0] == 11  # then the later ones (012, ...)
    after = query(at_010, ROWS)
    assert after == [(r[0], FEED_SYMBOL if r[5] == "feed" else r[1], *r[2:]) for r in before]
    assert [r[1] for r in after] == ["*", "*", "005930", "005930", "000660"]
    # The new constraints: NOT NULL, '*' exactly for the feed, one key for every scope.
    insert = ("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, origin)"
              " VALUES (%s, %s, %s, 1, %s, 'derived')")
    with psycopg.connect(at_010) as conn:
        for symbol, scope in ((None, "feed"), ("005930", "feed"), (FEED_SYMBOL, "symbol")):
            with pytest.raises((psycopg.errors.NotNullViolation, psycopg.errors.CheckViolation)), conn.transaction():
                conn.execute(insert, (symbol, CLOSE, CLOSE, scope))
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute(insert, (FEED_SYMBOL, OPEN, CLOSE, "feed"))
        key = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                           " WHERE conrelid = 'scalp_gaps'::regclass AND contype = 'p'").fetchall()
    assert key == [("PRIMARY KEY (symbol, gap_start_ts, scope, origin)",)]


def test_derive_matches_a_converted_feed_gap_instead_of_adding_one(at_010: str) -> None:
    api.init(settings=settings_for(at_010))
    with psycopg.connect(at_010) as conn:
        conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (OPEN, CLOSE))
        conn.execute("INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape)"
                     " VALUES ('005930', %s, 1, 'A'), ('005930', %s, 1, 'A')", (OPEN, CLOSE))
        changes = find_feed_gaps(conn, FRI, DeriveSettings())
        assert (changes.written, changes.deleted) == (0, 0)
        rows = conn.execute("SELECT symbol, gap_start_ts, computed_at FROM scalp_gaps"
                            " WHERE scope = 'feed' AND origin = 'derived'").fetchall()
    assert rows == [(FEED_SYMBOL, OPEN, COMPUTED)]  # the converted row, untouched


def test_upgrade_refuses_a_symbol_named_star_and_changes_nothing(at_010: str) -> None:
    with psycopg.connect(at_010) as conn:
        conn.execute("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, origin)"
                     " VALUES ('*', %s, %s, 1, 'symbol', 'archived')", (CLOSE, CLOSE))
    before = query(at_010, ROWS)
    with pytest.raises(MigrationError, match=r"011_feed_gap_symbol.*symbol named '\*'"):
        api.init(settings=settings_for(at_010))
    assert query(at_010, ROWS) == before
    assert query(at_010, "SELECT max(version) FROM obsdb_schema_history") == [(10,)]
