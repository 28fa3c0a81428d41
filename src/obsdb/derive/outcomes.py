"""Signal outcomes (issue 10): filled for a KST day inside that day's derive transaction.

Contract with ``obsdb.derive.run``: it calls ``fill_outcomes(conn, day, symbols)`` once per derived
day, after the 1-minute bars of that day are final, in the same transaction. One statement covers
every event of the day that needs it (see ``sql/outcomes_fill.sql``); figures are defined in
docs/portfolio.md.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg

from obsdb.derive.common import Changes, load_sql, session_bounds
from obsdb.krx import KST


def fill_outcomes(conn: psycopg.Connection[Any], day: date, symbols: set[str]) -> Changes:
    """Fill or refresh the outcomes of the day's signal events.

    Events of ``symbols`` are recomputed (their bars may have changed); any other event of the day
    whose outcome is missing or still incomplete is picked up too, so events loaded after their
    day's ticks are filled by the next derive that visits the day. Equal outcomes are not rewritten.
    """
    lo = datetime.combine(day, time(0), KST)
    bounds = session_bounds(day)
    now = conn.execute("SELECT now()").fetchone()
    params = {"lo": lo, "hi": lo + timedelta(days=1), "symbols": sorted(symbols),
              "close": bounds[1] if bounds else None, "now": now[0] if now else None}
    # counted first: the selection depends on the outcomes the fill then writes (sql/outcomes_count.sql)
    count = conn.execute(load_sql("outcomes_count"), params).fetchone()
    row = conn.execute(load_sql("outcomes_fill"), params).fetchone()
    written, computed = (int(row[0]) if row else 0), (int(count[0]) if count else 0)
    return Changes(written=written, unchanged=computed - written)
