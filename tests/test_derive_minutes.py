"""The client-side 1-minute buckets (derive/minutes.py) against the all-SQL form of the same bars.

Plain PostgreSQL makes 1-minute bars from buckets summed with numpy; Citus runs the SQL form
(sql/bars_1m_citus.sql and its delete and count). Both must give the same rows for any ticks:
random ones here, with the cases the definitions single out (no exchange time, no cumulative
volume, a reset of it, flagged ticks, ties of exchange time, after-hours minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsdb.derive import minutes, pgbinary
from obsdb.derive.bars import minute_bars
from obsdb.derive.common import Day, load_sql, split_per_symbol, transaction_time
from obsdb.derive.gaps import read_feed_gaps

pytestmark = [pytest.mark.db]

KST = timezone(timedelta(hours=9))
MON = date(2026, 2, 2)
OPEN = datetime(2026, 2, 2, 9, 0, tzinfo=KST)
SYMBOLS = ("000660", "005930")
ROWS = ("SELECT symbol, bar_time, open, high, low, close, volume, tick_count, coverage_ratio, quality_flag"
        " FROM scalp_1m_bars WHERE origin = 'derived' ORDER BY symbol, bar_time")

tick = st.tuples(
    st.sampled_from(SYMBOLS),
    # receive time, seconds from the open: most in a few crowded minutes, some before, some after hours
    st.one_of(st.integers(-120, 300), st.integers(-600, 7 * 3600)),
    st.one_of(st.none(), st.integers(-90, 5)),  # exchange time, seconds from the receive time (None: none)
    st.one_of(st.none(), st.integers(1, 20)),   # price
    st.one_of(st.none(), st.integers(0, 40)),   # cumulative volume (not monotonic: resets happen)
    st.one_of(st.none(), st.integers(0, 9)),    # own volume
    st.sampled_from(("normal", "normal", "normal", "suspect", "late,outside_session", "stale")),
)


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db) as c:
        c.execute("SELECT obsdb_ensure_tick_partitions('2026-02-01+09', '2026-02-03+09')")
        c.commit()
        yield c


def _insert(conn: psycopg.Connection[Any], draws: list[tuple[Any, ...]]) -> None:
    rows, seen = [], set()
    for symbol, second, skew, price, cum, vol, flag in draws:
        received = OPEN + timedelta(seconds=second, microseconds=len(rows))  # unique per symbol
        if (symbol, received) in seen:
            continue
        seen.add((symbol, received))
        exchange = None if skew is None else (received + timedelta(seconds=skew)).replace(microsecond=0)
        rows.append((symbol, received, exchange, price, cum, vol, flag))
    conn.cursor().executemany(
        "INSERT INTO scalp_ticks (symbol, event_time, exchange_time, last_price, cum_volume, volume,"
        " record_shape, quality_flag) VALUES (%s, %s, %s, %s, %s, %s, 'A', %s)", rows)


def _sql_form(conn: psycopg.Connection[Any], day: Day) -> None:
    feed = read_feed_gaps(conn, day).merged()
    split_per_symbol(conn, "bars_1m", day.params(symbols=list(SYMBOLS), feed_lo=feed.starts, feed_hi=feed.ends,
                                                 now=transaction_time(conn)))


@settings(max_examples=40, deadline=None)
@given(draws=st.lists(tick, min_size=0, max_size=80))
def _agree(conn: psycopg.Connection[Any], draws: list[tuple[Any, ...]]) -> None:
    day = Day.of(MON)
    with conn.transaction(force_rollback=True):
        _insert(conn, draws)
        with conn.transaction(force_rollback=True):
            computed = minute_bars(conn, SYMBOLS, day).changes
            client = conn.execute(ROWS).fetchall()
        _sql_form(conn, day)
        assert client == conn.execute(ROWS).fetchall()
        assert computed.written == len(client)


def test_property_client_buckets_equal_the_sql_form(conn: psycopg.Connection[Any]) -> None:
    _agree(conn)


def test_ticks_go_by_exchange_time_then_receive_time(conn: psycopg.Connection[Any]) -> None:
    # (receive s, exchange - receive s, price): exchange times 7, 6, 6; the 6s tie goes by receive time
    draws = [("005930", 5, 2, 7, 12, None, "normal"), ("005930", 6, 0, 9, 10, None, "normal"),
             ("005930", 8, -2, 4, 11, None, "normal")]
    with conn.transaction(force_rollback=True):
        _insert(conn, draws)
        minute_bars(conn, SYMBOLS, Day.of(MON))
        (row,) = conn.execute(ROWS).fetchall()
    assert (row[1], row[2], row[5], row[6], row[7]) == (OPEN, 9, 7, 2, 3)  # open, close, volume, ticks


def test_binary_arrays_and_copy_rows_as_the_server_reads_and_writes_them(conn: psycopg.Connection[Any]) -> None:
    second = datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)
    with conn.cursor(binary=True) as cur:
        pgbinary.raw_arrays(cur)
        row = cur.execute("SELECT ARRAY[1, -2]::int8[], ARRAY[%s]::timestamptz[], NULL::int4[], '{}'::int4[],"
                          " ARRAY[1, NULL]::int4[]", (second,)).fetchone()
    assert row is not None
    assert [pgbinary.read_array(raw, t).tolist() for raw, t in zip(row[:4], ("int8", "timestamptz", "int4", "int4"),
                                                                   strict=True)] == [[1, -2], [1_000_000], [], []]
    with pytest.raises(ValueError, match="without NULLs"):
        pgbinary.read_array(row[4], "int4")
    columns = {"s": np.array([1, 2]), "bar_time": np.array([1_000_000, -1]), "open": np.array([7, 8]),
               "high": np.array([9, 9]), "low": np.array([1, 2]), "close": np.array([3, 4]),
               "tick_count": np.array([5, 6]), "raw_volume": np.array([-1, 2**40]),
               "has_volume": np.array([True, False]), "partial": np.array([False, True])}
    with conn.transaction(force_rollback=True):
        conn.execute(load_sql("bars_1m_in_create"))
        with conn.cursor().copy(load_sql("bars_1m_in_copy")) as copy:
            pgbinary.write_rows(copy.write, columns, minutes.STAGED)
        got = conn.execute("SELECT * FROM obsdb_bars_in ORDER BY s").fetchall()
    assert got[0] == (1, second, 7, 9, 1, 3, 5, -1, True, False)
    assert got[1][1] == second - timedelta(seconds=1, microseconds=1) and got[1][7:] == (2**40, False, True)


def test_numeric_and_float_fields_as_the_server_reads_them(conn: psycopg.Connection[Any]) -> None:
    """The statistics' exact sums go out as numeric fields of a fixed digit count (int64, or Python
    integers past it), their floats as float8: the server must read back the very values."""
    small = np.array([0, 1, 9_999, 10_000, 123_456_789, -42, 2**63 - 1], dtype=np.int64)
    big = np.array([0, 10**40 + 7, -(2**70), 5], dtype=np.object_)
    floats = np.array([0.1, -1e300, 5e-324, 1.0])
    assert pgbinary.numeric_digits(small) == pgbinary.INT64_DIGITS and pgbinary.numeric_digits(big) == 11
    for values in (small, big):
        digits = pgbinary.numeric_digits(values)
        layout = pgbinary.row_type([("n", pgbinary.numeric_type(digits)), ("f", "float8")])
        f = np.resize(floats, values.size)
        with conn.transaction(force_rollback=True):
            conn.execute("CREATE TEMPORARY TABLE numeric_in (n numeric NOT NULL, f float8 NOT NULL) ON COMMIT DROP")
            with conn.cursor().copy("COPY numeric_in FROM STDIN (FORMAT BINARY)") as copy:
                pgbinary.write_rows(copy.write, {"n": pgbinary.numerics(values, digits), "f": f}, layout)
            got = conn.execute("SELECT n::text, f FROM numeric_in").fetchall()
        assert got == [(str(v), x) for v, x in zip(values.tolist(), f.tolist(), strict=True)]
