"""Signal outcomes: price at the event, returns after 1/5/10 minutes, excursions; filled by derive."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

from obsdb.derive.outcomes import fill_outcomes
from obsdb.derive.run import derive
from tests.helpers import query
from tests.portfolio_fixture import kst, tick

S = "000100"
DAY = date(2026, 2, 2)
PRICES = [((10, 0, 10), 1000), ((10, 0, 40), 1010), ((10, 1, 20), 1020), ((10, 2, 30), 990),
          ((10, 5, 10), 1030), ((10, 8, 0), 1050), ((10, 10, 30), 1000), ((10, 11, 0), 1040)]


def r8(num: int, den: int) -> Decimal:
    """A return as the table stores it: numeric rounded half away from zero to 8 decimals."""
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.00000001"), ROUND_HALF_UP)


def _setup(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        for (hh, mm, ss), price in PRICES:
            tick(conn, S, kst(2, hh, mm, ss), price)
        tick(conn, S, kst(2, 10, 0, 44), 5000, "suspect")  # skipped for the price and the bars
        for at, kind, direction in ((kst(2, 10, 0, 45), "up1", "up"), (kst(2, 10, 5, 15), "dn1", "down")):
            conn.execute("INSERT INTO analysis_signal_events (symbol, event_time, signal_type, direction)"
                         " VALUES (%s, %s, %s, %s)", (S, at, kind, direction))


def _outcomes(db: str) -> dict[str, tuple[Any, ...]]:
    rows = query(db, "SELECT signal_type, price_at_event, return_1m, return_5m, return_10m, mfe_10m, mae_10m"
                     " FROM analysis_signal_outcomes ORDER BY signal_type")
    return {str(r[0]): tuple(r[1:]) for r in rows}


def test_outcomes_hand_computed_and_filled_when_the_horizon_arrives(db: str) -> None:
    _setup(db)
    with psycopg.connect(db, autocommit=True) as conn:
        report = derive(conn, start=DAY, end=DAY)  # bars, then the outcomes in the day's transaction
    assert report.outcomes.written == 2
    got = _outcomes(db)
    # up at 10:00:45: price 1,010 (10:00:40; the suspect 5,000 at 10:00:44 is skipped); bar closes
    # 10:01 = 1,020, 10:05 = 1,030, 10:10 = 1,000; highs/lows of bars 10:01..10:10: max 1,050, min 990
    assert got["up1"] == (1010, r8(10, 1010), r8(20, 1010), r8(-10, 1010), r8(40, 1010), r8(-20, 1010))
    # down at 10:05:15 from 1,030: after 1 min the last close is 10:05's (no 10:06 bar); after 5 min
    # 10:10's 1,000 is +30 in the signal's direction; 10 min (10:15) has no bar at or after it yet
    assert got["dn1"] == (1030, Decimal("0E-8"), r8(30, 1030), None, None, None)
    with psycopg.connect(db, autocommit=True) as conn:
        with conn.transaction():  # a direct call does nothing new
            assert fill_outcomes(conn, DAY, {S}).written == 0
        tick(conn, S, kst(2, 10, 16), 1060)  # the 10:15 horizon is now reached
        derive(conn, start=DAY, end=DAY)
    # 10:15: the last close at or before it is 10:11's 1,040 (-10 for a short); over bars 10:06..10:15
    # the lowest low is 1,000 (+30 favourable) and the highest high 1,050 (-20 adverse)
    assert _outcomes(db)["dn1"] == (1030, Decimal("0E-8"), r8(30, 1030), r8(-10, 1030), r8(30, 1030), r8(-20, 1030))


def test_a_late_tick_that_changes_a_bar_updates_the_outcome(db: str) -> None:
    _setup(db)
    with psycopg.connect(db, autocommit=True) as conn:
        derive(conn, start=DAY, end=DAY)
        tick(conn, S, kst(2, 10, 1, 50), 1025)  # the 10:01 bar now closes at 1,025
        report = derive(conn, start=DAY, end=DAY)
    assert report.outcomes.written == 1  # only the outcome that read the 10:01 bar
    assert _outcomes(db)["up1"][1] == r8(15, 1010)


def test_events_loaded_later_are_picked_up_by_the_next_derive_of_their_day(db: str) -> None:
    _setup(db)
    with psycopg.connect(db, autocommit=True) as conn:
        derive(conn, start=DAY, end=DAY)
        conn.execute("INSERT INTO analysis_signal_events (symbol, event_time, signal_type, direction)"
                     " VALUES (%s, %s, 'late', NULL)", (S, kst(2, 10, 2, 0)))
        with conn.transaction():  # no symbol was re-derived, yet the missing outcome is filled
            changes = fill_outcomes(conn, DAY, set())
    assert changes.written == 1 and changes.unchanged == 1  # + dn1, incomplete, looked at again
    # no direction: returns as is. Price 1,020 (10:01:20); 10:03's last close is 10:02's 990
    assert _outcomes(db)["late"][:2] == (1020, r8(-30, 1020))


def test_the_session_close_ends_the_horizon(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        tick(conn, S, kst(2, 15, 25, 0), 2000)
        tick(conn, S, kst(2, 15, 27, 0), 2010)
        conn.execute("INSERT INTO analysis_signal_events (symbol, event_time, signal_type, direction)"
                     " VALUES (%s, %s, 'eod', 'up')", (S, kst(2, 15, 25, 30)))
        derive(conn, start=DAY, end=DAY)
    # 1 min (15:26): a later bar (15:27) exists; 5 and 10 min reach the close (15:30): last close 2,010
    assert _outcomes(db)["eod"] == (2000, Decimal("0E-8"), r8(10, 2000), r8(10, 2000), r8(10, 2000), Decimal("0E-8"))


def test_no_trade_before_the_event_leaves_it_empty(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        tick(conn, S, kst(2, 11, 0), 2000)
        conn.execute("INSERT INTO analysis_signal_events (symbol, event_time, signal_type) VALUES (%s, %s, 'x')",
                     (S, kst(2, 10, 0)))
        derive(conn, start=DAY, end=DAY)
    assert _outcomes(db)["x"] == (None, None, None, None, None, None)
