"""Size and build time of `obsdb report` for 40 symbols x 250 trading days (make bench-report).

    make bench-report
    .venv/bin/python -m bench.report_size --symbols 40 --days 250 --keep

It makes a fresh database (DATABASE_URL's server, else the embedded one), writes derived data
directly with COPY (no ticks: the report never reads them): a 1-minute bar for every session minute
except the symbol's quiet spells, a 10-minute bar per bucket, the symbol gaps those spells are, a
few feed gaps and missed polls per day, archived bars for the newest day, load runs, rejects and a
portfolio snapshot. Then it builds the report and prints the page's size (raw and gzipped), the
build time and what the page holds. The page must stay under 5 MB.
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import psycopg

from bench.loader import OUT, scratch_database
from obsdb import api, krx
from obsdb.config import Settings
from obsdb.models import FEED_SYMBOL
from obsdb.report import ReportOptions

LIMIT_BYTES = 5_000_000
END = date(2026, 11, 30)


def _days(count: int) -> list[date]:
    return krx.trading_days(END - timedelta(days=count * 2), END)[-count:]


def _quiet_spells(rng: random.Random, minutes: int) -> list[tuple[int, int]]:
    """Minute ranges [a, b) with no trade: mostly none, sometimes one or two, rarely a long one."""
    spells = []
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        a = rng.randrange(0, minutes - 5)
        spells.append((a, min(minutes, a + rng.choice((2, 3, 5, 8, 15, 40)))))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spells):  # overlapping spells are one silence (one gap)
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _symbol_rows(rng: random.Random, symbol: str, day: date, archived: bool) -> Iterator[tuple[str, tuple[Any, ...]]]:
    s = krx.session(day)
    assert s is not None
    minutes = int((s.close - s.open).total_seconds() // 60)
    spells = _quiet_spells(rng, minutes)
    quiet = {m for a, b in spells for m in range(a, b)}
    price = rng.randrange(10_000, 300_000) // 10 * 10
    ten: dict[int, list[int]] = {}
    for m in range(minutes):
        move = rng.choice((-20, -10, 0, 0, 10, 20))
        o, c = price, max(100, price + move)
        hi, lo = max(o, c) + rng.choice((0, 10)), min(o, c) - rng.choice((0, 10))
        price = c
        if m in quiet:
            continue
        t = s.open + timedelta(minutes=m)
        vol = rng.randrange(100, 20_000)
        yield "scalp_1m_bars", (symbol, t, "derived", o, hi, lo, c, vol, rng.randrange(5, 120), 1, "normal")
        if archived:
            off = 10 if m % 97 == 0 else 0  # the collector's bar disagrees now and then
            yield "scalp_1m_bars", (symbol, t, "archived", o, hi + off, lo, c + off, vol, None, None, "normal")
        b = ten.setdefault(m // 10, [o, hi, lo, c, 0, 0])
        b[1], b[2], b[3], b[4], b[5] = max(b[1], hi), min(b[2], lo), c, b[4] + vol, b[5] + 1
    for k, (o, hi, lo, c, vol, n) in sorted(ten.items()):
        yield "swing_bars_10m", (symbol, s.open + timedelta(minutes=10 * k), "ticks", o, hi, lo, c, vol, n, 1, "normal")
    for a, b in spells:
        lo_t, hi_t = s.open + timedelta(minutes=a), s.open + timedelta(minutes=b)
        yield "scalp_gaps", (symbol, lo_t, hi_t, (hi_t - lo_t).total_seconds(), "symbol", "no_trades", "derived")


def _feed_rows(rng: random.Random, day: date) -> Iterator[tuple[str, tuple[Any, ...]]]:
    s = krx.session(day)
    assert s is not None
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        start = s.open + timedelta(seconds=rng.randrange(60, 22_000))
        end = start + timedelta(seconds=rng.choice((11, 15, 30, 90, 400)))
        yield "scalp_gaps", (FEED_SYMBOL, start, end, (end - start).total_seconds(), "feed", "outage", "derived")


COLUMNS = {
    "scalp_1m_bars": "symbol, bar_time, origin, open, high, low, close, volume, tick_count, coverage_ratio, "
                     "quality_flag",
    "swing_bars_10m": "symbol, bar_time, origin, open, high, low, close, volume, bar_count, coverage_ratio, "
                      "quality_flag",
    "scalp_gaps": "symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin",
}


def populate(url: str, symbols: int, days: int, seed: int = 11) -> dict[str, int]:
    """Write the derived tables and bookkeeping; returns rows per table."""
    rng = random.Random(seed)
    codes = sorted({f"{rng.randrange(1, 999_999):06d}" for _ in range(symbols * 2)})[:symbols]
    trading = _days(days)
    counts = dict.fromkeys(COLUMNS, 0)
    with psycopg.connect(url) as conn:  # the months of the time-partitioned tables, as the loader makes them
        conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)",
                     (krx.session(trading[0]).open, krx.session(trading[-1]).close))  # type: ignore[union-attr]
    # one COPY per table, each on its own connection, fed from one pass over the generated rows
    conns = {table: psycopg.connect(url) for table in COLUMNS}
    try:
        with ExitStack() as stack:
            copies = {t: stack.enter_context(conns[t].cursor().copy(
                f"COPY {t} ({cols}) FROM STDIN")) for t, cols in COLUMNS.items()}
            for day in trading:
                rows = chain(_feed_rows(rng, day), *(
                    _symbol_rows(rng, code, day, archived=day == trading[-1]) for code in codes))
                for name, row in rows:
                    copies[name].write_row(row)
                    counts[name] += 1
        for c in conns.values():
            c.commit()
    finally:
        for c in conns.values():
            c.close()
    with psycopg.connect(url) as conn:
        _bookkeeping(conn, rng, codes, trading)
    return counts


def _bookkeeping(conn: psycopg.Connection[Any], rng: random.Random, codes: list[str], trading: list[date]) -> None:
    """Load runs, rejects (with their ledger rows) and one portfolio snapshot."""
    for i, day in enumerate(trading):
        at = datetime.combine(day, datetime.min.time(), krx.KST) + timedelta(hours=16)
        run_id = conn.execute(
            "INSERT INTO obsdb_load_runs (kind, started_at, finished_at, status, obsdb_version, totals) "
            "VALUES ('migrate', %s, %s, 'ok', 'bench', %s) RETURNING run_id",
            (at, at + timedelta(seconds=40 + rng.random() * 30), psycopg.types.json.Jsonb(
                {"rows_loaded": 2_000_000 + rng.randrange(400_000), "rejected": i % 7, "files": 7, "duplicates": 0})),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO obsdb_load_runs (kind, started_at, finished_at, status, obsdb_version, totals) "
                     "VALUES ('derive', %s, %s, 'ok', 'bench', %s)",
                     (at + timedelta(minutes=2), at + timedelta(minutes=2, seconds=20),
                      psycopg.types.json.Jsonb({"tables": {"scalp_1m_bars": 15_600, "scalp_gaps": 40}})))
        if i % 7:
            file_id = conn.execute(
                "INSERT INTO obsdb_ingest_files (head_sha256, prefix_digest, first_path, last_path) "
                "VALUES (%s, %s, %s, %s) RETURNING file_id",
                (f"h{i}", f"p{i}", *[f"data/assets/scalp/{day:%Y%m%d}_09.jsonl"] * 2),
            ).fetchone()[0]  # type: ignore[index]
            for k in range(i % 7):
                conn.execute(
                    "INSERT INTO obsdb_rejects (file_id, line_no, path, byte_offset, field, reason, raw_line, run_id) "
                    "VALUES (%s, %s, %s, 0, %s, %s, %s, %s)",
                    (file_id, k + 1, f"data/assets/scalp/{day:%Y%m%d}_09.jsonl", ("price", "timestamp", None)[k % 3],
                     ("Input should be a valid integer", "timestamp has no time-zone offset (ambiguous): 'x'",
                      "invalid JSON: unexpected end of data")[k % 3], b'{"symbol": "005930", "price": "n/a"}', run_id))
    at = datetime.combine(trading[-1], datetime.min.time(), krx.KST) + timedelta(hours=15)
    conn.execute("INSERT INTO portfolio_policy (policy_id, name, valid_from) VALUES ('bench', 'bench', %s)",
                 (at - timedelta(days=30),))
    conn.execute("INSERT INTO portfolio_snapshot (account_id, snapshot_time, cash, total_value, policy_id) "
                 "VALUES ('acct', %s, 10000000, 200000000, 'bench')", (at,))
    for code in codes[:20]:
        conn.execute("INSERT INTO portfolio_positions (symbol, account_id, snapshot_time, quantity, market_value, "
                     "weight) VALUES (%s, 'acct', %s, 100, 9500000, 0.0475)", (code, at))
        conn.execute("INSERT INTO target_weights (symbol, policy_id, as_of, weight) VALUES (%s, 'bench', %s, 0.05)",
                     (code, at - timedelta(hours=7)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=40)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--keep", action="store_true", help="Keep the database (its URL is printed).")
    args = parser.parse_args()
    out = OUT / f"report-{args.symbols}x{args.days}.html"
    with scratch_database(keep=args.keep, prefix="obsdb_report_bench") as url:
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        api.init(settings=settings)
        began = time.perf_counter()
        counts = populate(url, args.symbols, args.days)
        print(f"wrote {counts} in {time.perf_counter() - began:.1f} s")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        result = api.report(ReportOptions(output=out), settings=settings)
        size, packed = result.bytes, len(gzip.compress(Path(out).read_bytes()))
        print(f"report: {out}")
        print(f"  {result.counts['symbols']} symbols x {result.counts['trading_days']} trading days, "
              f"{result.counts['cells_with_data']:,} cells with data, {result.counts['gaps']:,} gaps, "
              f"{result.counts['candle_symbols']} symbols of candles, {result.counts['load_runs']} runs")
        print(f"  size {size / 1e6:.2f} MB ({packed / 1e6:.2f} MB gzipped), built in {result.seconds:.2f} s")
        if args.keep:
            print(f"  database kept: {url}")
        if size >= LIMIT_BYTES:
            raise SystemExit(f"the page is {size:,} bytes: over the {LIMIT_BYTES:,}-byte limit")


if __name__ == "__main__":
    main()
