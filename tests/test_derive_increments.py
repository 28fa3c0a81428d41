"""Increments: gaps recomputed from an anchor (the marks' ``since``) equal a rebuild of the whole day.

A mark says where a symbol's day changed (migration 013); derive then recomputes the feed's and
each symbol's gaps only from a point before it that cannot have changed (gaps_feed_anchor.sql).
These tests load ticks in batches as the loader marks them, derive after each, and compare with a
rebuild of the day; and show that the anchored path really leaves earlier gaps alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from obsdb.db import queries as q
from obsdb.derive.common import Day, DeriveSettings
from obsdb.derive.gaps import feed_anchor, symbol_anchors
from obsdb.derive.run import derive
from tests.test_derive_gaps import MON, add_ticks, at, gaps

pytestmark = [pytest.mark.db]

Conn = psycopg.Connection[Any]
SYMBOLS = ("000001", "000002", "000003")
OPEN = at(MON, "09:00:00")
S = DeriveSettings()


@pytest.fixture
def conn(db: str) -> Iterator[Conn]:
    with psycopg.connect(db) as c:
        yield c


def load(conn: Conn, rows: list[tuple[str, datetime]]) -> None:
    """Insert ticks and mark them as the loader does: one batch, changed from its earliest time."""
    add_ticks(conn, rows)
    lo, hi = min(t for _, t in rows), max(t for _, t in rows)
    conn.execute(q.MARK_DAYS_LOCK, {"lo": lo, "hi": hi})
    symbols = sorted({s for s, _ in rows})
    conn.execute(q.MARK_DIRTY, {"symbols": symbols, "tables": ["scalp_ticks"] * len(symbols),
                                "los": [lo] * len(symbols), "his": [hi] * len(symbols)})


def all_gaps(conn: Conn) -> list[tuple[Any, ...]]:
    return gaps(conn, "feed") + gaps(conn, "symbol")


def rebuilt(conn: Conn, day: date = MON) -> list[tuple[Any, ...]]:
    report = derive(conn, start=day, end=day)
    assert report.days == [day]
    return all_gaps(conn)


# Steps between consecutive ticks (ms): dense, around the feed's 10 s and the symbols' 60 s
# thresholds, and long silences. Each tick goes to a symbol and to one of three loads.
STEP = st.one_of(st.integers(1, 3_000), st.integers(3_001, 9_989), st.integers(9_990, 10_010),
                 st.integers(10_011, 59_989), st.integers(59_990, 60_010), st.integers(60_011, 400_000))
TICKS = st.lists(st.tuples(STEP, st.integers(0, len(SYMBOLS) - 1), st.integers(0, 2)), min_size=1, max_size=70)


def _day(draw: list[tuple[int, int, int]]) -> list[list[tuple[str, datetime]]]:
    """The ticks of each load, in load order (a later load may hold earlier ticks: a late file)."""
    t, loads = OPEN, [list[tuple[str, datetime]]() for _ in range(3)]
    for step, symbol, batch in draw:
        t += timedelta(milliseconds=step)
        loads[batch].append((SYMBOLS[symbol], t))
    return [rows for rows in loads if rows]


def test_property_increments_equal_a_rebuild(conn: Conn) -> None:
    @settings(max_examples=60, deadline=None)
    @given(draw=TICKS)
    @example(draw=[(1_000, 0, 0), (1_000, 1, 0), (30_000, 0, 1), (1_000, 1, 1)])  # a feed gap filled late
    @example(draw=[(500, 0, 0)] * 5 + [(70_000, 1, 1), (1, 0, 2), (9_999, 2, 2)])
    # the last tick before the change just inside a threshold of it: the anchor must reach it
    @example(draw=[(100_000, 0, 0), (1_000, 0, 0), (58_000, 0, 1)])
    @example(draw=[(100_000, 0, 0), (1_000, 1, 0), (9_000, 0, 1)])
    def check(draw: list[tuple[int, int, int]]) -> None:
        with conn.transaction(force_rollback=True):
            for rows in _day(draw):
                load(conn, rows)
                derive(conn)
            got = all_gaps(conn)
            assert got == rebuilt(conn)

    check()


def test_an_increment_leaves_the_gaps_before_its_anchor_alone(conn: Conn) -> None:
    """The anchored path is taken: a (hand-spoiled) gap before the anchor survives the increment,
    one after it is rewritten; a rebuild then mends both."""
    morning = [(s, OPEN + timedelta(seconds=k)) for k in range(0, 1800, 2) for s in SYMBOLS[:2]]
    morning = [r for r in morning if not at(MON, "09:10:00") < r[1] < at(MON, "09:12:00")]
    with conn.transaction(force_rollback=True):
        load(conn, morning)
        derive(conn)
        # gap_seconds 0: what no derive writes, so a rewritten gap shows
        conn.execute("UPDATE scalp_gaps SET gap_seconds = 0 WHERE scope = 'feed' OR symbol = %s", (SYMBOLS[0],))
        spoiled = all_gaps(conn)
        load(conn, [(SYMBOLS[0], at(MON, "09:30:00.5"))])
        derive(conn)
        after = {(g[0], g[1]): g for g in all_gaps(conn)}
        early = [g for g in spoiled if g[1] < at(MON, "09:29:00")]
        assert early and all(after[(g[0], g[1])] == g for g in early)  # left alone: still spoiled
        late = [g for g in after.values() if g[1] >= at(MON, "09:29:59")]
        assert late and all(g[3] > 0 for g in late)  # recomputed
        assert all(g[3] > 0 for g in rebuilt(conn))


def test_anchors(conn: Conn) -> None:
    """Where an increment starts: a threshold before the change when a tick lies there; the start
    of the old gap around it otherwise; the whole day for a day never derived or a change near the open."""
    d = Day.of(MON)
    with conn.transaction(force_rollback=True):
        load(conn, [(SYMBOLS[0], at(MON, "09:05:00")), (SYMBOLS[0], at(MON, "09:05:05"))])
        assert feed_anchor(conn, d, S, at(MON, "09:07:00")) is None  # never derived: no old gap
        derive(conn)
        assert feed_anchor(conn, d, S, at(MON, "09:05:08")) == at(MON, "09:04:58")
        assert feed_anchor(conn, d, S, at(MON, "09:07:00")) == at(MON, "09:05:05")  # in 'after_last_tick'
        assert feed_anchor(conn, d, S, at(MON, "09:00:05")) is None  # within a threshold of the open
        assert feed_anchor(conn, d, S, None) is None
        assert feed_anchor(conn, d, S, at(MON, "18:00:00")) == at(MON, "09:05:05")  # after the close
        anchors = symbol_anchors(conn, d, S, {SYMBOLS[0]: at(MON, "09:05:30"), SYMBOLS[1]: at(MON, "09:05:30"),
                                              SYMBOLS[2]: None})
        assert anchors == {SYMBOLS[0]: at(MON, "09:04:30")}  # the others: the whole day
        assert symbol_anchors(conn, d, S, {SYMBOLS[0]: at(MON, "09:08:00")}) == {SYMBOLS[0]: at(MON, "09:05:05")}


def test_marks_merge_to_the_earliest_change_and_null_means_the_whole_day(conn: Conn) -> None:
    take = "SELECT symbol, since FROM obsdb_derive_dirty WHERE source_table = 'scalp_ticks' ORDER BY symbol"
    with conn.transaction(force_rollback=True):
        load(conn, [(SYMBOLS[0], at(MON, "09:10:00")), (SYMBOLS[1], at(MON, "09:10:01"))])
        load(conn, [(SYMBOLS[0], at(MON, "09:20:00"))])  # later: the mark keeps its earlier since
        load(conn, [(SYMBOLS[1], at(MON, "09:05:00"))])  # earlier (a late file): it moves back
        assert conn.execute(take).fetchall() == [(SYMBOLS[0], at(MON, "09:10:00")), (SYMBOLS[1], at(MON, "09:05:00"))]
        conn.execute("UPDATE obsdb_derive_dirty SET since = NULL WHERE symbol = %s", (SYMBOLS[0],))  # pre-013
        load(conn, [(SYMBOLS[0], at(MON, "09:30:00"))])
        assert conn.execute(take).fetchall()[0] == (SYMBOLS[0], None)


def test_a_batch_holds_off_the_derive_of_its_days_until_it_commits(db: str, conn: Conn) -> None:
    """The loader's shared lock is the key run_day_begin.sql takes: a derive of the day (or, on
    Citus, of any day) waits for the batch, so it never takes a mark and misses the batch's rows."""
    day_key = (MON - date(2000, 1, 1)).days
    try_lock = "SELECT pg_try_advisory_xact_lock(hashtext('obsdb.derive.day'), %s)"
    with conn.transaction(force_rollback=True):
        load(conn, [(SYMBOLS[0], at(MON, "09:10:00"))])
        with psycopg.connect(db) as other:
            assert other.execute(try_lock, (day_key,)).fetchone() == (False,)
            assert other.execute(try_lock, (-1,)).fetchone() == (False,)
            assert other.execute(try_lock, (day_key + 1,)).fetchone() == (True,)  # another day: free


def test_one_statement_marks_a_batch_in_key_order_once_per_key(db: str) -> None:
    """The loader's marks of a batch (queries.MARK_DIRTY): keys given out of order and twice land
    once, with the earliest change; one statement in key order is what keeps two loaders of the
    same day from deadlocking on the marks."""
    early, late = at(MON, "09:00:00"), at(MON, "09:30:00")
    with psycopg.connect(db) as conn:
        conn.execute(q.MARK_DIRTY, {"symbols": ["000020", "000010", "000010"],
                                    "tables": ["scalp_ticks", "scalp_ticks", "scalp_ticks"],
                                    "los": [late, late, early], "his": [late, late, late]})
        marks = conn.execute("SELECT symbol, since FROM obsdb_derive_dirty ORDER BY 1").fetchall()
    assert marks == [("000010", early), ("000020", late)]
