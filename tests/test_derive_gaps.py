"""Collection gaps (obsdb.derive.gaps) on a real PostgreSQL: hand-checked days with exact rows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from typing import Any

import psycopg
import pytest

from obsdb.derive.common import Changes, DeriveSettings
from obsdb.derive.gaps import find_feed_gaps, find_swing_gaps, find_symbol_gaps
from obsdb.models import FEED_SYMBOL

pytestmark = [pytest.mark.db, pytest.mark.engines]

KST = timezone(timedelta(hours=9))
FRI = date(2026, 1, 30)
MON = date(2026, 2, 2)
SEOLLAL = date(2026, 2, 16)
SAT = date(2026, 1, 31)
LATE_OPEN = date(2026, 1, 2)  # first trading day of 2026: opens at 10:00
S = DeriveSettings()

Conn = psycopg.Connection[Any]


def at(day: date, clock: str) -> datetime:
    """``day`` at ``HH:MM:SS[.ffffff]`` KST."""
    return datetime.fromisoformat(f"{day.isoformat()}T{clock}").replace(tzinfo=KST)


@pytest.fixture
def conn(db: str) -> Iterator[Conn]:
    with psycopg.connect(db) as c:
        yield c


def add_ticks(conn: Conn, rows: list[tuple[str, datetime]]) -> None:
    conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (min(r[1] for r in rows), max(r[1] for r in rows)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) "
                        "VALUES (%s, %s, 70000, 'A')", rows)


def tick_series(conn: Conn, symbol: str, start: datetime, end: datetime, step: float = 5.0) -> None:
    """One tick every ``step`` seconds from ``start`` to ``end`` inclusive."""
    conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (start, end))
    conn.execute("INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) "
                 "SELECT %s, t, 70000, 'A' FROM generate_series(%s::timestamptz, %s, make_interval(secs => %s)) t",
                 (symbol, start, end, step))


def silence(conn: Conn, lo: datetime, hi: datetime, symbol: str | None = None) -> None:
    """Delete the ticks strictly between ``lo`` and ``hi`` (of one symbol, or of all)."""
    conn.execute("DELETE FROM scalp_ticks WHERE event_time > %s AND event_time < %s "
                 "AND (%s::text IS NULL OR symbol = %s)", (lo, hi, symbol, symbol))


def add_snapshots(conn: Conn, rows: list[tuple[str, datetime]]) -> None:
    if rows:  # the month's partitions (009), as the loader makes them
        conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (min(r[1] for r in rows), max(r[1] for r in rows)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape) "
                        "VALUES (%s, %s, 70000, 'F')", rows)


def gaps(conn: Conn, scope: str, origin: str = "derived") -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, reason FROM scalp_gaps "
        "WHERE scope = %s AND origin = %s ORDER BY symbol, gap_start_ts", (scope, origin)).fetchall()


def snapshot(conn: Conn) -> list[tuple[Any, ...]]:
    """Every gap row, every column: to prove a re-run touched nothing."""
    return conn.execute("SELECT * FROM scalp_gaps ORDER BY gap_id").fetchall()


def gap(symbol: str, start: datetime, end: datetime, reason: str) -> tuple[Any, ...]:
    return (symbol, start, end, Decimal(f"{(end - start).total_seconds():.3f}"), reason)


def full_session(conn: Conn, day: date, *symbols: str) -> None:
    for s in symbols:
        tick_series(conn, s, at(day, "09:00:00"), at(day, "15:30:00"))


def test_feed_outage_against_a_quiet_symbol(conn: Conn) -> None:
    full_session(conn, FRI, "000001", "000002", "000003")
    silence(conn, at(FRI, "10:00:00"), at(FRI, "10:00:40"))  # everyone: 40 s
    silence(conn, at(FRI, "11:00:00"), at(FRI, "11:01:30"), "000003")  # one symbol: 90 s
    assert find_feed_gaps(conn, FRI, S) == Changes(written=1)
    for s in ("000001", "000002", "000003"):
        find_symbol_gaps(conn, s, FRI, S)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(FRI, "10:00:00"), at(FRI, "10:00:40"), "outage")]
    assert gaps(conn, "symbol") == [gap("000003", at(FRI, "11:00:00"), at(FRI, "11:01:30"), "no_trades")]


def test_symbol_silent_during_a_feed_outage_is_collector_down(conn: Conn) -> None:
    full_session(conn, FRI, "000001", "000002")
    silence(conn, at(FRI, "10:00:00"), at(FRI, "10:00:40"))
    silence(conn, at(FRI, "09:59:30"), at(FRI, "10:01:00"), "000002")
    # Symbol gaps ask the derived feed gaps: computed before them, the answer is wrong...
    find_symbol_gaps(conn, "000002", FRI, S)
    assert [g[4] for g in gaps(conn, "symbol")] == ["no_trades"]
    # ...and the documented order (feed first) corrects it with one rewrite.
    find_feed_gaps(conn, FRI, S)
    assert find_symbol_gaps(conn, "000002", FRI, S) == Changes(written=1)
    assert find_symbol_gaps(conn, "000001", FRI, S) == Changes()  # 40 s is no symbol gap
    assert gaps(conn, "symbol") == [gap("000002", at(FRI, "09:59:30"), at(FRI, "10:01:00"), "collector_down")]


def test_before_first_and_after_last_tick(conn: Conn) -> None:
    tick_series(conn, "000001", at(MON, "09:05:00"), at(MON, "15:00:00"))
    find_feed_gaps(conn, MON, S)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(MON, "09:00:00"), at(MON, "09:05:00"), "before_first_tick"),
                                  gap(FEED_SYMBOL, at(MON, "15:00:00"), at(MON, "15:30:00"), "after_last_tick")]


def test_symbol_edges_while_the_feed_is_alive(conn: Conn) -> None:
    full_session(conn, MON, "000002")
    tick_series(conn, "000001", at(MON, "09:05:00"), at(MON, "15:00:00"))
    assert find_feed_gaps(conn, MON, S) == Changes()
    find_symbol_gaps(conn, "000001", MON, S)
    assert gaps(conn, "symbol") == [gap("000001", at(MON, "09:00:00"), at(MON, "09:05:00"), "no_trades"),
                                    gap("000001", at(MON, "15:00:00"), at(MON, "15:30:00"), "no_trades")]


def test_a_trading_day_without_ticks_is_one_no_data_gap(conn: Conn) -> None:
    tick_series(conn, "000001", at(FRI, "09:00:00"), at(FRI, "15:30:00"))  # another day's ticks do not count
    find_feed_gaps(conn, MON, S)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(MON, "09:00:00"), at(MON, "15:30:00"), "no_data")]


def test_feed_threshold_is_at_least_ten_seconds(conn: Conn) -> None:
    full_session(conn, FRI, "000001")
    silence(conn, at(FRI, "10:00:00"), at(FRI, "10:00:10"))  # exactly 10 s: a gap
    silence(conn, at(FRI, "11:00:00"), at(FRI, "11:00:10"))
    add_ticks(conn, [("000001", at(FRI, "11:00:09.9"))])  # 9.9 s then 0.1 s: no gap
    find_feed_gaps(conn, FRI, S)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(FRI, "10:00:00"), at(FRI, "10:00:10"), "outage")]


def test_symbol_threshold_is_longer_than_sixty_seconds(conn: Conn) -> None:
    full_session(conn, FRI, "000001", "000002")
    silence(conn, at(FRI, "12:00:00"), at(FRI, "12:01:00"), "000001")  # exactly 60 s: no gap
    silence(conn, at(FRI, "13:00:00"), at(FRI, "13:01:05"), "000001")
    add_ticks(conn, [("000001", at(FRI, "13:01:00.001"))])  # 60.001 s: a gap
    find_feed_gaps(conn, FRI, S)
    find_symbol_gaps(conn, "000001", FRI, S)
    assert gaps(conn, "symbol") == [gap("000001", at(FRI, "13:00:00"), at(FRI, "13:01:00.001"), "no_trades")]


@pytest.mark.parametrize("day", [SEOLLAL, date(2026, 2, 17), SAT])
def test_no_gaps_on_days_without_trading(conn: Conn, day: date) -> None:
    add_ticks(conn, [("000001", at(day, "10:00:00")), ("000001", at(day, "11:00:00")),
                     ("000002", at(day, "10:30:00"))])
    add_snapshots(conn, [("000001", at(day, "10:00:00")), ("000002", at(day, "10:00:01")),
                         ("000001", at(day, "10:10:00"))])
    conn.execute("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin) "
                 "VALUES ('*', %s, %s, 3600, 'feed', 'outage', 'derived')", (at(day, "10:00:00"), at(day, "11:00:00")))
    assert find_feed_gaps(conn, day, S) == Changes(deleted=1)  # a stale derived gap of that day goes
    assert find_symbol_gaps(conn, "000001", day, S) == Changes()
    assert find_swing_gaps(conn, day, S) == Changes()
    assert snapshot(conn) == []


def test_late_open_day_counts_from_ten(conn: Conn) -> None:
    # Ticks before the 10:00 open (auction, stray) are outside the session and change nothing.
    add_ticks(conn, [("000001", at(LATE_OPEN, "09:00:00")), ("000001", at(LATE_OPEN, "09:30:00"))])
    tick_series(conn, "000001", at(LATE_OPEN, "10:00:00"), at(LATE_OPEN, "15:30:00"))
    find_feed_gaps(conn, LATE_OPEN, S)
    find_symbol_gaps(conn, "000001", LATE_OPEN, S)
    assert snapshot(conn) == []
    silence(conn, at(LATE_OPEN, "09:59:59"), at(LATE_OPEN, "10:00:30"))
    find_feed_gaps(conn, LATE_OPEN, S)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(LATE_OPEN, "10:00:00"), at(LATE_OPEN, "10:00:30"),
                                      "before_first_tick")]


def test_swing_missing_poll(conn: Conn) -> None:
    rows = [("000009", at(MON, "08:50:00"))]  # before the open: not a sweep, not a symbol of the day
    for clock in ("09:00:0", "09:10:0", "09:20:0"):
        rows += [("000001", at(MON, clock + "0")), ("000002", at(MON, clock + "1")), ("000003", at(MON, clock + "2"))]
    rows.remove(("000002", at(MON, "09:10:01")))
    add_snapshots(conn, rows)
    assert find_swing_gaps(conn, MON, S) == Changes(written=1)
    assert gaps(conn, "swing") == [gap("000002", at(MON, "09:10:00"), at(MON, "09:10:02"), "missing_poll")]


def test_swing_sweeps_split_at_the_threshold(conn: Conn) -> None:
    # 119 s after the previous snapshot is the same sweep; 120 s starts a new one.
    add_snapshots(conn, [("000001", at(MON, "09:20:00")), ("000002", at(MON, "09:21:59")),
                         ("000003", at(MON, "09:23:59"))])
    find_swing_gaps(conn, MON, S)
    assert gaps(conn, "swing") == [gap("000001", at(MON, "09:23:59"), at(MON, "09:23:59"), "missing_poll"),
                                   gap("000002", at(MON, "09:23:59"), at(MON, "09:23:59"), "missing_poll"),
                                   gap("000003", at(MON, "09:20:00"), at(MON, "09:21:59"), "missing_poll")]


def _busy_day(conn: Conn) -> None:
    full_session(conn, FRI, "000001", "000002")
    silence(conn, at(FRI, "10:00:00"), at(FRI, "10:00:40"))
    silence(conn, at(FRI, "11:00:00"), at(FRI, "11:00:30"))
    silence(conn, at(FRI, "12:00:00"), at(FRI, "12:00:20"))
    silence(conn, at(FRI, "13:00:00"), at(FRI, "13:02:00"), "000002")
    add_snapshots(conn, [("000001", at(FRI, "09:00:00")), ("000002", at(FRI, "09:00:01")),
                         ("000001", at(FRI, "09:10:00"))])


def _derive(conn: Conn, day: date) -> Changes:
    total = find_feed_gaps(conn, day, S)
    for s in ("000001", "000002"):
        total += find_symbol_gaps(conn, s, day, S)
    total += find_swing_gaps(conn, day, S)
    return total


def test_rerun_writes_nothing_and_keeps_computed_at(conn: Conn) -> None:
    _busy_day(conn)
    assert _derive(conn, FRI) == Changes(written=5)  # 3 feed, 1 symbol, 1 swing
    conn.commit()
    before = snapshot(conn)
    assert _derive(conn, FRI) == Changes(unchanged=5)
    conn.commit()
    assert snapshot(conn) == before


def test_recompute_touches_only_what_changed(conn: Conn) -> None:
    _busy_day(conn)
    _derive(conn, FRI)
    conn.commit()
    kept = {r[2]: r for r in snapshot(conn) if r[5] == "feed"}[at(FRI, "12:00:00")]
    tick_series(conn, "000001", at(FRI, "10:00:05"), at(FRI, "10:00:35"))  # the 40 s outage is over
    add_ticks(conn, [("000002", at(FRI, "11:00:15"))])  # the 30 s one splits in two 15 s ones
    conn.commit()
    assert find_feed_gaps(conn, FRI, S) == Changes(written=2, deleted=1, unchanged=1)
    assert gaps(conn, "feed") == [gap(FEED_SYMBOL, at(FRI, "11:00:00"), at(FRI, "11:00:15"), "outage"),
                                  gap(FEED_SYMBOL, at(FRI, "11:00:15"), at(FRI, "11:00:30"), "outage"),
                                  gap(FEED_SYMBOL, at(FRI, "12:00:00"), at(FRI, "12:00:20"), "outage")]
    assert kept in snapshot(conn)  # same id, same computed_at


def test_archived_gaps_are_never_touched(conn: Conn) -> None:
    _busy_day(conn)
    archived = [(FEED_SYMBOL, at(FRI, "10:00:00"), at(FRI, "10:05:00"), "feed"),  # same key as a derived one
                ("000002", at(FRI, "13:00:00"), at(FRI, "13:02:00"), "symbol"),
                ("000001", at(FRI, "14:00:00"), at(FRI, "14:01:00"), "swing"),
                (FEED_SYMBOL, at(SEOLLAL, "10:00:00"), at(SEOLLAL, "10:01:00"), "feed")]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, "
                        "origin, gap_type) VALUES (%s, %s, %s, 1, %s, 'ledger', 'archived', 'major')", archived)
    conn.commit()
    before = snapshot(conn)
    _derive(conn, FRI)
    find_feed_gaps(conn, SEOLLAL, S)
    assert [r for r in snapshot(conn) if r[8] == "archived"] == before
    assert len(gaps(conn, "feed")) == 3


def test_feed_gaps_have_the_symbol_star_in_their_key(conn: Conn, engine: str) -> None:
    insert = ("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, origin) "
              "VALUES (%s, %s, %s, 10, %s, 'derived')")
    conn.execute(insert, (FEED_SYMBOL, at(FRI, "10:00:00"), at(FRI, "10:00:10"), "feed"))
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        conn.execute(insert, (FEED_SYMBOL, at(FRI, "10:00:00"), at(FRI, "10:00:20"), "feed"))
    refused: tuple[type[Exception], ...] = (psycopg.errors.NotNullViolation, psycopg.errors.CheckViolation)
    if engine == "citus":  # the coordinator refuses a NULL distribution column before NOT NULL does
        refused += (psycopg.errors.NullValueNotAllowed,)
    for symbol, scope in ((None, "feed"), ("000001", "feed"), (FEED_SYMBOL, "symbol")):  # 011's constraints
        with pytest.raises(refused), conn.transaction():
            conn.execute(insert, (symbol, at(FRI, "11:00:00"), at(FRI, "11:00:10"), scope))


def test_a_tick_symbol_star_gets_no_gaps(conn: Conn) -> None:
    """'*' is the feed's symbol in scalp_gaps: a (bogus) tick or snapshot symbol '*' gets no gaps
    of its own, instead of failing the derive on the CHECK."""
    add_ticks(conn, [(FEED_SYMBOL, at(FRI, "10:00:00")), ("000001", at(FRI, "10:00:00"))])
    add_snapshots(conn, [(FEED_SYMBOL, at(FRI, "10:00:00")), ("000001", at(FRI, "10:00:01")),
                         ("000001", at(FRI, "10:10:00"))])
    find_feed_gaps(conn, FRI, S)
    find_symbol_gaps(conn, FEED_SYMBOL, FRI, S)
    find_symbol_gaps(conn, "000001", FRI, S)
    find_swing_gaps(conn, FRI, S)
    assert {g[0] for g in gaps(conn, "symbol")} == {"000001"}
    assert gaps(conn, "swing") == []
    assert {g[0] for g in gaps(conn, "feed")} == {FEED_SYMBOL}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_day_finds_every_injected_outage(conn: Conn, seed: int) -> None:
    rng = random.Random(seed)
    symbols = [f"00000{i}" for i in range(1, 9)]
    open_, end = at(MON, "09:00:00"), at(MON, "10:00:00")
    starts = sorted(rng.sample(range(60, 3400, 200), 3))  # seconds after the open, >= 200 s apart
    outages = [(open_ + timedelta(seconds=s + rng.random()), rng.uniform(15, 120)) for s in starts]
    outages = [(lo, lo + timedelta(seconds=d)) for lo, d in outages]
    rows, t = [], open_
    while t <= end:
        if not any(lo <= t <= hi for lo, hi in outages):
            rows.append((rng.choice(symbols), t))
        t += timedelta(microseconds=rng.randint(100_000, 500_000))
    add_ticks(conn, rows)
    find_feed_gaps(conn, MON, S)
    found = gaps(conn, "feed")
    outage_rows = [g for g in found if g[4] == "outage"]
    assert len(outage_rows) == len(outages)
    limit = timedelta(seconds=S.feed_gap_seconds)
    for (_, start, stop, _, _), (lo, hi) in zip(outage_rows, outages, strict=True):
        assert start <= lo and lo - start < limit
        assert stop >= hi and stop - hi < limit
        # exactly the ticks around the hole, in fact
        assert (start, stop) == (max(r[1] for r in rows if r[1] < lo), min(r[1] for r in rows if r[1] > hi))
    assert [g[4] for g in found] == ["outage"] * 3 + ["after_last_tick"]
    assert found[-1][1] == rows[-1][1] and found[-1][2] == at(MON, "15:30:00")
    for s in symbols:  # every symbol's silences lie in feed gaps here
        find_symbol_gaps(conn, s, MON, S)
    assert {g[4] for g in gaps(conn, "symbol")} == {"collector_down"}


@pytest.mark.parametrize("threshold", [7.3, 10.0, 25.0])
def test_feed_gaps_equal_a_brute_force_scan(conn: Conn, threshold: float) -> None:
    """The SQL bins ticks to avoid a full sort; every tick-to-tick silence must still come out exact."""
    rng = random.Random(threshold)
    t, times = at(MON, "09:00:00") + timedelta(seconds=rng.uniform(0, 30)), []
    while t < at(MON, "10:00:00"):
        times.append(t)
        t += timedelta(microseconds=rng.randint(1, 30_000_000))
    add_ticks(conn, [(rng.choice(["000001", "000002"]), x) for x in times])
    find_feed_gaps(conn, MON, DeriveSettings(feed_gap_seconds=threshold))
    points = [at(MON, "09:00:00"), *times, at(MON, "15:30:00")]
    want = [(a, b) for a, b in pairwise(points) if (b - a).total_seconds() >= threshold]
    assert [(g[1], g[2]) for g in gaps(conn, "feed")] == want
    assert want[-1][1] == at(MON, "15:30:00")


@pytest.mark.parametrize("threshold", [37.3, 60.0, 95.0])
def test_symbol_gaps_equal_a_brute_force_scan(conn: Conn, threshold: float) -> None:
    """The SQL bins each symbol's ticks to avoid sorting them all; every silence must still be exact,
    including ones exactly as long as the threshold (not gaps) and one millisecond longer."""
    rng, edge = random.Random(threshold), round(threshold * 1_000_000)
    series: dict[str, list[datetime]] = {}
    for symbol in ("000001", "000002", "000003"):
        t, times = at(MON, "09:00:00") + timedelta(seconds=rng.uniform(0, 90)), []
        while t < at(MON, "11:00:00"):
            times.append(t)
            t += timedelta(microseconds=rng.choice((1, edge, edge + 1000, rng.randint(1, 3 * edge))))
        series[symbol] = times
    add_ticks(conn, [(s, x) for s, xs in series.items() for x in xs])
    settings = DeriveSettings(feed_gap_seconds=1e6, symbol_gap_seconds=threshold)  # no feed gap: all no_trades
    for symbol in series:
        find_symbol_gaps(conn, symbol, MON, settings)
    want = []
    for symbol, times in series.items():
        points = [at(MON, "09:00:00"), *times, at(MON, "15:30:00")]
        want += [(symbol, a, b) for a, b in pairwise(points) if (b - a).total_seconds() > threshold]
    assert [(g[0], g[1], g[2]) for g in gaps(conn, "symbol")] == want
    assert any(b - a == timedelta(microseconds=edge + 1000) for _, a, b in want)  # the edge cases were drawn


def test_changed_stretches_are_the_symmetric_difference_of_the_unions() -> None:
    """Where feed gaps changed is where exactly one of the old and new unions covers an instant
    (checked second by second on random gap sets, overlapping and touching ones included)."""
    from obsdb.derive.gaps import FeedGaps, changed_stretches

    rng = random.Random(8)
    base = datetime(2026, 1, 30, 9, 0, tzinfo=timezone(timedelta(hours=9)))

    def some() -> FeedGaps:
        spans = []
        for _ in range(rng.randint(0, 6)):
            lo = rng.randint(0, 100)
            spans.append((base + timedelta(seconds=lo), base + timedelta(seconds=lo + rng.randint(1, 20))))
        return FeedGaps.of(spans)

    def covers(g: FeedGaps, t: datetime) -> bool:
        return any(a <= t < b for a, b in g.ranges())

    for _ in range(300):
        old, new = some(), some()
        changed = changed_stretches(old, new)
        assert all(b > a for a, b in changed.ranges())
        assert all(b1 < a2 for (_, b1), (a2, _) in pairwise(changed.ranges()))  # merged: disjoint, apart
        for s in range(130):
            t = base + timedelta(seconds=s, milliseconds=500)
            assert covers(changed, t) == (covers(old, t) != covers(new, t)), (old, new, t)
