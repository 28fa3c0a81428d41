"""A small hand-computed portfolio for tests/test_portfolio_*.py (numbers in docs/portfolio.md terms).

At 2026-02-02 10:00 KST, account ``acc`` holds A (10 @ 10,000 from a tick; a later suspect tick of
99,999 is skipped), B (20 @ 5,000 from a swing snapshot), D (5 @ 3,000 from a 1-minute bar close, no
target) and 100,000 cash. C is targeted but not held; its only price is Friday's tick (stale).
Total 315,000. Policy: band 0.03, max_weight 0.40, min_cash 0.05, max_turnover 0.50.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

KST = timezone(timedelta(hours=9))
A, B, C, D = "000010", "000020", "000030", "000040"
AT = datetime(2026, 2, 2, 10, 0, tzinfo=KST)


def kst(d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    """2026-02-<d> hh:mm:ss KST."""
    return datetime(2026, 2, d, hh, mm, ss, tzinfo=KST) if d >= 1 else datetime(2026, 1, 30, hh, mm, ss, tzinfo=KST)


def tick(conn: psycopg.Connection[Any], symbol: str, at: datetime, price: int, flag: str = "normal",
         volume: int | None = None) -> None:
    conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (at, at))
    conn.execute("INSERT INTO scalp_ticks (symbol, event_time, last_price, volume, record_shape, quality_flag)"
                 " VALUES (%s, %s, %s, %s, 'A', %s)", (symbol, at, price, volume, flag))


def build(conninfo: str, *, max_turnover: str = "0.50", band: str | None = "0.03") -> None:
    """Write the fixture portfolio (see the module docstring)."""
    params = f'{{"drift_band": {band}}}' if band is not None else "{}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO portfolio_policy (policy_id, name, valid_from, max_weight, min_cash_weight,"
                     " max_turnover, params) VALUES ('p1', 'test', '2026-01-01+09', 0.40, 0.05, %s, %s::jsonb)",
                     (max_turnover, params))
        # an older target set that must be ignored, then the set in force
        conn.execute("INSERT INTO target_weights VALUES (%s, 'p1', '2026-01-30 08:00+09', 0.9)", (A,))
        for symbol, w in ((A, "0.40"), (B, "0.30"), (C, "0.20")):
            conn.execute("INSERT INTO target_weights VALUES (%s, 'p1', '2026-02-02 08:00+09', %s)", (symbol, w))
        conn.execute("INSERT INTO portfolio_snapshot (account_id, snapshot_time, cash, total_value, policy_id)"
                     " VALUES ('acc', '2026-02-02 09:30+09', 100000, 999999, 'p1')")
        for symbol, qty in ((A, 10), (B, 20), (D, 5)):
            conn.execute("INSERT INTO portfolio_positions (symbol, account_id, snapshot_time, quantity, market_price)"
                         " VALUES (%s, 'acc', '2026-02-02 09:30+09', %s, 1)", (symbol, qty))
        tick(conn, A, kst(2, 9, 50), 10_000)
        tick(conn, A, kst(2, 9, 55), 99_999, "suspect")  # impossible value: skipped
        tick(conn, A, kst(2, 10, 0, 30), 11_000)  # after AT: not seen at AT
        conn.execute("INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape)"
                     " VALUES (%s, %s, 5000, 'F')", (B, kst(2, 9, 58)))
        tick(conn, C, kst(0, 14, 0), 2_000)  # Friday 2026-01-30: stale on Monday
        conn.execute("INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close)"
                     " VALUES (%s, %s, 'archived', 3100, 3100, 2900, 3000)", (D, kst(2, 9, 40)))
