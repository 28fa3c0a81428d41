"""Derived 1-minute and 10-minute bars and their reconciliation: tiny hand-checked cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from obsdb.derive.bars import BarDiff, build_minute_bars, build_ten_minute_bars, reconcile
from obsdb.derive.common import Changes

pytestmark = [pytest.mark.db, pytest.mark.engines]

KST = timezone(timedelta(hours=9))
FRI, SAT, MON = date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 2)
SYM = "005930"


def at(day: date, hh: int, mm: int, ss: int = 0, ms: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, ms * 1000, KST)


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db) as c:
        c.execute("SELECT obsdb_ensure_tick_partitions('2026-01-29+09', '2026-02-03+09')")
        yield c


def ticks(conn: psycopg.Connection[Any], *rows: tuple[Any, ...], symbol: str = SYM) -> None:
    """rows: (event_time, exchange_time, last_price, cum_volume[, volume, record_shape, quality_flag])."""
    full = [(symbol, *r, *(None, "A", "normal")[len(r) - 4:]) for r in rows]
    conn.cursor().executemany(
        "INSERT INTO scalp_ticks (symbol, event_time, exchange_time, last_price, cum_volume, volume,"
        " record_shape, quality_flag) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", full)


def feed_gap(conn: psycopg.Connection[Any], start: datetime, end: datetime, *, scope: str = "feed",
             origin: str = "derived") -> None:
    conn.execute(
        "INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, origin)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        ("*" if scope == "feed" else SYM, start, end, (end - start).total_seconds(), scope, origin))


def snapshot(conn: psycopg.Connection[Any], ts: datetime, price: int, high: int, low: int, cum: int,
             symbol: str = SYM) -> None:
    conn.execute(
        "INSERT INTO swing_snapshots (symbol, snapshot_time, day_open, day_high, day_low, price, cum_volume,"
        " record_shape) VALUES (%s, %s, 1000, %s, %s, %s, %s, 'F')", (symbol, ts, high, low, price, cum))


M1 = ("SELECT bar_time, open, high, low, close, volume, tick_count, coverage_ratio, quality_flag"
      " FROM scalp_1m_bars WHERE symbol = %s AND origin = %s ORDER BY bar_time")
M10 = ("SELECT bar_time, open, high, low, close, volume, bar_count, coverage_ratio, quality_flag"
       " FROM swing_bars_10m WHERE symbol = %s AND origin = %s ORDER BY bar_time")


def bars(conn: psycopg.Connection[Any], query: str = M1, origin: str = "derived",
         symbol: str = SYM) -> list[tuple[Any, ...]]:
    return conn.execute(query, (symbol, origin)).fetchall()


ONE = Decimal("1.0000")


def test_bucket_edges_exchange_time_and_first_bar_partial(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 9, 0, 0, 100), at(FRI, 9, 0, 0), 100, 1000),
          (at(FRI, 9, 0, 59, 999), None, 104, 1030),             # no exchange time: receive time counts
          (at(FRI, 9, 1, 0, 200), at(FRI, 9, 0, 59), 99, 1020),  # received 09:01, traded 09:00:59
          (at(FRI, 9, 1, 0, 0), None, 110, 1050))                # 09:01:00.000 opens the next minute
    assert build_minute_bars(conn, SYM, FRI) == Changes(written=2, deleted=0, unchanged=0)
    assert bars(conn) == [
        # ordered 09:00:00, 09:00:59 (exchange), 09:00:59.999: close is the receive-time tick
        (at(FRI, 9, 0), 100, 104, 99, 104, 30, 3, ONE, "partial"),  # first bar: 1030 - 1000
        (at(FRI, 9, 1), 110, 110, 110, 110, 20, 1, ONE, "normal"),  # 1050 - 1030 (last before)
    ]


def test_order_inside_a_bucket_is_exchange_time_then_receive_time(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 9, 5, 10, 500), at(FRI, 9, 5, 10), 200, None),
          (at(FRI, 9, 5, 10, 100), at(FRI, 9, 5, 10), 201, None),  # same second, received first: opens
          (at(FRI, 9, 5, 20), at(FRI, 9, 5, 50), 202, None),       # received early, traded last: closes
          (at(FRI, 9, 5, 40), at(FRI, 9, 5, 30), 199, None))
    build_minute_bars(conn, SYM, FRI)
    assert bars(conn) == [(at(FRI, 9, 5), 201, 202, 199, 202, None, 4, ONE, "normal")]


def test_cum_volume_reset_across_days_and_inside_a_day(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 15, 29, 1), at(FRI, 15, 29, 1), 500, 5000),
          (at(FRI, 15, 29, 30), at(FRI, 15, 29, 30), 505, 5100),
          (at(MON, 9, 0, 5), at(MON, 9, 0, 5), 510, 100),   # the collector's counter restarts
          (at(MON, 9, 0, 40), at(MON, 9, 0, 40), 512, 130),
          (at(MON, 9, 1, 10), at(MON, 9, 1, 10), 511, 160),
          (at(MON, 9, 2, 10), at(MON, 9, 2, 10), 511, 90),  # bad data: the total went down
          (at(MON, 9, 3, 10), at(MON, 9, 3, 10), 513, 95))
    build_minute_bars(conn, SYM, FRI)
    assert build_minute_bars(conn, SYM, MON).written == 4
    assert [(b[0], b[5], b[8]) for b in bars(conn)] == [
        (at(FRI, 15, 29), 100, "partial"),
        (at(MON, 9, 0), 30, "partial"),                  # only Monday's ticks: 130 - 100
        (at(MON, 9, 1), 30, "normal"),
        (at(MON, 9, 2), None, "volume_inconsistent"),    # 90 - 160 < 0
        (at(MON, 9, 3), 5, "normal"),                    # from the new level: 95 - 90
    ]


def test_flat_shape_c_sums_stated_volumes(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 10, 0, 1), None, 300, None, 5, "C", "normal"),
          (at(FRI, 10, 0, 2), None, 302, None, 7, "C", "normal"),
          (at(FRI, 10, 0, 3), None, 301, None, 3, "C", "normal"))
    build_minute_bars(conn, SYM, FRI)
    assert bars(conn) == [(at(FRI, 10, 0), 300, 302, 300, 301, 15, 3, ONE, "normal")]


def test_flagged_ticks_left_out_and_after_hours_flag(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 8, 10), None, 100, 1, None, "A", "outside_session"),
          (at(FRI, 15, 29, 1), None, 100, 10),
          (at(FRI, 15, 29, 2), None, 999999, 11, None, "A", "price_outside_range,suspect"),
          (at(FRI, 15, 29, 3), None, 101, 20),
          (at(FRI, 15, 30, 2), None, 102, 30),                        # the closing print: regular
          (at(FRI, 15, 45, 0), None, 103, 40, None, "A", "after_hours"))
    build_minute_bars(conn, SYM, FRI)
    assert [(b[0], b[1], b[2], b[5], b[6], b[8]) for b in bars(conn)] == [
        (at(FRI, 15, 29), 100, 101, 10, 2, "partial"),
        (at(FRI, 15, 30), 102, 102, 10, 1, "normal"),
        (at(FRI, 15, 45), 103, 103, 10, 1, "after_hours"),
    ]


def test_coverage_from_derived_feed_gaps_and_no_bar_for_empty_minutes(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(FRI, 9, 0, 10), None, 100, 10),
          (at(FRI, 9, 1, 10), None, 101, 20),
          (at(FRI, 9, 4, 10), None, 102, 50))
    feed_gap(conn, at(FRI, 9, 0, 20), at(FRI, 9, 0, 50))                     # 30 s of 09:00
    feed_gap(conn, at(FRI, 9, 0, 40), at(FRI, 9, 0, 45))                     # inside the first: no double count
    feed_gap(conn, at(FRI, 9, 1, 0), at(FRI, 9, 1, 30), scope="symbol")      # not the feed
    feed_gap(conn, at(FRI, 9, 1, 0), at(FRI, 9, 1, 59), origin="archived")  # not derived
    feed_gap(conn, at(FRI, 9, 3, 50), at(FRI, 9, 4, 5))                      # 5 s of 09:04
    build_minute_bars(conn, SYM, FRI)
    assert [(b[0], b[5], b[7]) for b in bars(conn)] == [
        (at(FRI, 9, 0), 0, Decimal("0.5000")),
        (at(FRI, 9, 1), 10, ONE),
        (at(FRI, 9, 4), 30, Decimal("0.9167")),  # 1 - 5/60; no bars at 09:02, 09:03
    ]
    build_ten_minute_bars(conn, SYM, FRI)
    assert bars(conn, M10, "ticks")[0][7] == Decimal("0.9250")  # 1 - (30 + 15) / 600


def test_recompute_rewrites_only_the_changed_bucket(conn: psycopg.Connection[Any], engine: str) -> None:
    ticks(conn, *((at(FRI, 9, m, s), None, 100 + m, 10 * m + s) for m in range(3) for s in (10, 50)))
    archived = (SYM, at(FRI, 9, 1), "archived", 1, 9, 1, 9, 7)
    conn.execute("INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, volume, computed_at)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '2026-01-30 20:00+09')", archived)
    conn.execute("INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, computed_at)"
                 " VALUES (%s, %s, 'archived', 5, 5, 5, 5, '2026-01-30 20:00+09')", (SYM, at(FRI, 9, 7)))
    assert build_minute_bars(conn, SYM, FRI) == Changes(written=3, deleted=0, unchanged=0)
    conn.commit()
    before = dict(conn.execute("SELECT bar_time, computed_at FROM scalp_1m_bars WHERE origin = 'derived'").fetchall())

    ticks(conn, (at(FRI, 9, 1, 30), None, 150, 25))  # late tick inside 09:01, not its last
    assert build_minute_bars(conn, SYM, FRI) == Changes(written=1, deleted=0, unchanged=2)
    conn.commit()
    after = dict(conn.execute("SELECT bar_time, computed_at FROM scalp_1m_bars WHERE origin = 'derived'").fetchall())
    assert after[at(FRI, 9, 0)] == before[at(FRI, 9, 0)] and after[at(FRI, 9, 2)] == before[at(FRI, 9, 2)]
    assert after[at(FRI, 9, 1)] > before[at(FRI, 9, 1)]
    assert bars(conn)[1][1:7] == (101, 150, 101, 101, 10, 3)

    # plain: no new row version, not even a row lock. Citus: no new row version; the unchanged
    # bars are row-locked by ON CONFLICT .. WHERE (a pre-filter would stop shard pruning)
    versions = ("SELECT bar_time, xmin::text, xmax::text FROM scalp_1m_bars ORDER BY bar_time, origin"
                if engine == "plain" else "SELECT bar_time, xmin::text FROM scalp_1m_bars ORDER BY bar_time, origin")
    seen = conn.execute(versions).fetchall()
    assert build_minute_bars(conn, SYM, FRI) == Changes(written=0, deleted=0, unchanged=3)
    assert conn.execute(versions).fetchall() == seen
    conn.execute("DELETE FROM scalp_ticks WHERE event_time >= %s", (at(FRI, 9, 2),))
    assert build_minute_bars(conn, SYM, FRI) == Changes(written=0, deleted=1, unchanged=2)
    assert conn.execute("SELECT symbol, bar_time, origin, open, high, low, close, volume FROM scalp_1m_bars"
                        " WHERE origin = 'archived' ORDER BY bar_time").fetchall() == [
        archived, (SYM, at(FRI, 9, 7), "archived", 5, 5, 5, 5, None)]
    assert conn.execute("SELECT count(*) FROM scalp_1m_bars WHERE origin = 'archived'"
                        " AND computed_at = '2026-01-30 20:00+09'").fetchone() == (2,)


def test_ten_minute_bars_from_minute_bars_replace_snapshot_bars(conn: psycopg.Connection[Any]) -> None:
    ticks(conn,
          (at(MON, 9, 0, 5), None, 100, 1000),
          (at(MON, 9, 3, 5), None, 104, 1040),
          (at(MON, 9, 9, 5), None, 98, 1100),
          (at(MON, 9, 10, 5), None, 99, 1000),   # the total goes down: that minute's volume is unknown
          (at(MON, 9, 12, 5), None, 101, 1010))
    snapshot(conn, at(MON, 9, 5), 103, 104, 100, 1030)
    conn.execute("INSERT INTO swing_bars_10m (symbol, bar_time, origin, open, high, low, close)"
                 " VALUES (%s, %s, 'archived', 1, 1, 1, 1)", (SYM, at(MON, 9, 0)))
    assert build_ten_minute_bars(conn, SYM, MON) == Changes(written=1, deleted=0, unchanged=0)  # snapshots only
    build_minute_bars(conn, SYM, MON)
    feed_gap(conn, at(MON, 9, 11), at(MON, 9, 12))
    assert build_ten_minute_bars(conn, SYM, MON) == Changes(written=2, deleted=1, unchanged=0)
    assert bars(conn, M10, "ticks") == [
        (at(MON, 9, 0), 100, 104, 98, 98, 100, 3, ONE, "partial"),             # 0 + 40 + 60
        (at(MON, 9, 10), 99, 101, 99, 101, None, 2, Decimal("0.9000"), "volume_inconsistent"),
    ]
    assert bars(conn, M10, "snapshots") == []
    assert bars(conn, M10, "archived") == [(at(MON, 9, 0), 1, 1, 1, 1, None, None, None, "normal")]
    assert build_ten_minute_bars(conn, SYM, MON) == Changes(written=0, deleted=0, unchanged=2)


def test_ten_minute_bars_reconstructed_from_snapshots(conn: psycopg.Connection[Any]) -> None:
    snapshot(conn, at(FRI, 8, 50), 990, 990, 990, 0)        # pre-open poll: no bar, not "previous"
    snapshot(conn, at(FRI, 9, 3), 1010, 1020, 995, 500)     # first of the day
    snapshot(conn, at(FRI, 9, 8), 1015, 1020, 995, 800)
    snapshot(conn, at(FRI, 9, 13), 1030, 1040, 995, 1200)   # the day high rose to 1040 in this bucket
    snapshot(conn, at(FRI, 9, 17), 1025, 1040, 995, 1500)
    snapshot(conn, at(FRI, 9, 24), 990, 1040, 985, 2000)    # the day low fell to 985
    snapshot(conn, at(FRI, 9, 33), 1050, 1045, 985, 1900)   # price above the stated day high; volume down
    snapshot(conn, at(FRI, 15, 35), 1040, 1050, 985, 9000)  # after the close: no bar
    for hour in (10, 11):                                   # Saturday polls repeat Friday's values
        snapshot(conn, at(SAT, hour, 0), 1040, 1050, 985, 9000)
    assert build_ten_minute_bars(conn, SYM, FRI) == Changes(written=4, deleted=0, unchanged=0)
    assert bars(conn, M10, "snapshots") == [
        (at(FRI, 9, 0), 1010, 1015, 1010, 1015, 300, 2, None, "partial,reconstructed"),
        (at(FRI, 9, 10), 1015, 1040, 1015, 1025, 700, 2, None, "reconstructed"),
        (at(FRI, 9, 20), 1025, 1025, 985, 990, 500, 1, None, "reconstructed"),
        (at(FRI, 9, 30), 990, 1050, 990, 1050, None, 1, None, "reconstructed,volume_inconsistent"),
    ]
    assert build_ten_minute_bars(conn, SYM, SAT) == Changes()
    assert conn.execute("SELECT count(*) FROM swing_bars_10m WHERE bar_time >= %s", (at(SAT, 0, 0),)).fetchone() == (0,)
    assert build_ten_minute_bars(conn, SYM, FRI) == Changes(written=0, deleted=0, unchanged=4)


def test_reconcile_reports_differences_and_missing_bars(conn: psycopg.Connection[Any]) -> None:
    ticks(conn, *((at(FRI, 9, m, 10), None, 100 + m, 10 * m) for m in (0, 1, 3)))
    build_minute_bars(conn, SYM, FRI)  # 09:00 (volume 0, partial), 09:01, 09:03
    conn.cursor().executemany(
        "INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, volume)"
        " VALUES (%s, %s, 'archived', %s, %s, %s, %s, %s)", [
            (SYM, at(FRI, 9, 0), 100, 100, 100, 100, 0),     # agrees
            (SYM, at(FRI, 9, 1), 101, 102, 101, 102, None),  # derived: 101 101 101 101 10
            (SYM, at(FRI, 9, 2), 5, 5, 5, 5, 1),             # no derived bar
            (SYM, at(MON, 9, 0), 7, 7, 7, 7, 7),             # Monday has no derived bars: not compared
        ])
    diffs = reconcile(conn)
    assert diffs == [
        BarDiff(SYM, at(FRI, 9, 1), "high", 102, 101),
        BarDiff(SYM, at(FRI, 9, 1), "close", 102, 101),
        BarDiff(SYM, at(FRI, 9, 1), "volume", None, 10),
        BarDiff(SYM, at(FRI, 9, 2), "missing_derived", None, None),
        BarDiff(SYM, at(FRI, 9, 3), "missing_archived", None, None),
    ]
    assert reconcile(conn, start=MON, end=MON) == []
    assert reconcile(conn, start=FRI, end=FRI, symbol="000660") == []
    assert reconcile(conn, start=FRI, end=FRI, symbol=SYM) == diffs
