"""A year at a flat rate: ticks a trading day at a time, `obsdb migrate` after each day.

    make bench-scale                                  # 20 trading days x 2,000,000 ticks (40M rows)
    make bench-scale DAYS=5 LINES_PER_DAY=200000
    .venv/bin/python -m bench.scale --days 3 --lines-per-day 50000 [--json] [--workers N]

In a scratch database (DATABASE_URL's server when set, else the embedded one) it writes one KRX
trading day of production-shaped ticks (shape A, as bench/loader.py: 40 symbols, spread over the
day's XKRX session from 2026-01-05 on, hourly files YYYYMMDD_HH.jsonl), runs `obsdb migrate <dir>
--json` (derive included, what a user runs) as a child, then deletes the day's files before the
next one: never more than one day of JSON on disk, the way a collector accumulates.

Per day it prints: rows loaded, load rows/s (migrate's rows_loaded / seconds), derive seconds,
the migrate child's peak RSS (its largest process, from os.wait4 as bench/memory.py), the total
sizes (heap + indexes, all partitions) of scalp_ticks, scalp_1m_bars, analysis_rolling_stats, their
indexes alone, and the database; then the machine's raw COPY rate of that moment (bench/server.py's
probe), the load rate against it, and what the server did during the day's migrate (checkpoints,
buffers written, WAL, blocks read, temp files). With --json: one JSON object per day, then a summary object.
At the end, the three flatness checks of issue 9 as PASS/FAIL (the exit status is always 0):
last day's load rate / first day's >= 0.8 (and, beside it, the same for the load/probe
ratios, which the machine's own speed from hour to hour does not move); median derive seconds
of the last 3 days / of days 2-4 <= 1.25; peak RSS max / min <= 1.25.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import psycopg

from bench.loader import OUT, migrate_cmd, scratch_database
from bench.server import Counters, Probe, counters
from obsdb import krx

START = date(2026, 1, 5)
TABLES = ("scalp_ticks", "scalp_1m_bars", "analysis_rolling_stats")
MB = 1024 * 1024
SIZES_SQL = """
SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0), coalesce(sum(pg_indexes_size(t.relid)), 0)
FROM pg_partition_tree(%s::regclass) t WHERE t.isleaf
"""


@dataclass
class Day:
    day: int
    date: str
    rows_loaded: int
    load_seconds: float
    load_rows_per_s: float
    derive_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    ticks_mb: float
    bars_1m_mb: float
    stats_mb: float
    indexes_mb: float
    database_mb: float
    probe_rows_per_s: float
    server: Counters

    @property
    def load_vs_probe(self) -> float:
        """The load rate against the machine's raw COPY rate of the same hour."""
        return self.load_rows_per_s / self.probe_rows_per_s if self.probe_rows_per_s else 0.0


class Ticks:
    """Shape A ticks for one day after another; prices and volumes carry on from day to day."""

    def __init__(self, symbols: int = 40, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.codes = [f"{self.rng.randrange(1, 999_999):06d}" for _ in range(symbols)]
        self.price = {c: self.rng.randrange(1_000, 200_000) // 10 * 10 for c in self.codes}

    def write_day(self, day: date, n: int, out: Path) -> None:
        """``n`` ticks over ``day``'s session, written line by line: one hour's file open at a time."""
        session = krx.session(day)
        assert session is not None, day
        step = (session.close - session.open) / n
        t = session.open
        cum = dict.fromkeys(self.codes, 0)
        rng, dumps, codes = self.rng, orjson.dumps, self.codes
        files: dict[int, BinaryIO] = {}
        try:
            for i in range(n):
                t += step
                f = files.get(t.hour)
                if f is None:  # ticks come in time order: close the previous hour's file
                    for done in files.values():
                        done.close()
                    f = files[t.hour] = (out / f"{day:%Y%m%d}_{t.hour:02d}.jsonl").open("ab", buffering=1 << 20)
                code = codes[i % len(codes)]
                p = max(100, self.price[code] + rng.choice((-10, 0, 0, 10)))
                self.price[code] = p
                cum[code] += rng.randrange(1, 500)
                rec = {"timestamp": t.isoformat(), "symbol": code, "execution_time": t.strftime("%H%M%S"),
                       "price": {"current": p, "open": p - 500, "high": p + 1000, "low": max(1, p - 1000),
                                 "change_rate": 1.23},
                       "volume": {"accumulated": cum[code], "trade_value": cum[code] * p},
                       "bid_ask": {"ask_price": p + 10, "bid_price": p}, "source": "websocket",
                       "session_id": "observer-6f1c2d9e-bench"}
                f.write(dumps(rec) + b"\n")
        finally:
            for f in files.values():
                f.close()


def trading_days(count: int) -> list[date]:
    """``count`` consecutive XKRX sessions from START."""
    days: list[date] = []
    d = START
    while len(days) < count:
        if krx.session(d) is not None:
            days.append(d)
        d += timedelta(days=1)
    return days


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, peak RSS (MB) and JSON output of one child. RUSAGE_CHILDREN's maxrss never
    resets, so each child's own rusage comes from os.wait4 (its largest waited-for process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd[2:])} failed ({proc.returncode}):\n{err.read()[-2000:].decode(errors='replace')}")
        return wall, usage.ru_maxrss / 1024, orjson.loads(out.read())


def sizes(url: str) -> list[float]:
    """MB: each of TABLES (all partitions, indexes and TOAST included), their indexes, the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        totals = [conn.execute(SIZES_SQL, (t,)).fetchone() or (0, 0) for t in TABLES]
        db = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return [int(s[0]) / MB for s in totals] + [sum(int(s[1]) for s in totals) / MB, int(db[0] if db else 0) / MB]


def one_day(number: int, n: int, day: date, ticks: Ticks, work: Path, url: str, env: dict[str, str],
            workers: int | None, probe: Probe) -> Day:
    ticks.write_day(day, n, work)
    before = counters(url)
    try:
        wall, rss, report = run_child(migrate_cmd(work, workers), env)
    finally:
        for path in work.glob("*.jsonl"):  # the ledger remembers them; migrate only reads what is here
            path.unlink()
    load_s = float(report["seconds"])
    loaded = int(report["rows_loaded"])
    derive = report.get("derive") or {}
    server = counters(url) - before
    ticks_mb, bars_mb, stats_mb, idx_mb, db_mb = sizes(url)
    return Day(number, day.isoformat(), loaded, load_s, loaded / load_s if load_s else 0.0,
               float(derive.get("seconds", 0.0)), wall, rss, ticks_mb, bars_mb, stats_mb, idx_mb, db_mb,
               probe.rate(), server)


def line(d: Day) -> str:
    return (f"day {d.day:3d} {d.date}: {d.rows_loaded:>10,} rows, load {d.load_rows_per_s:>9,.0f} rows/s, "
            f"derive {d.derive_seconds:7.2f} s, peak RSS {d.peak_rss_mb:5.0f} MB | ticks {d.ticks_mb:,.0f} MB, "
            f"1m bars {d.bars_1m_mb:,.0f} MB, stats {d.stats_mb:,.0f} MB (indexes {d.indexes_mb:,.0f} MB), "
            f"db {d.database_mb:,.0f} MB\n"
            f"        probe {d.probe_rows_per_s:>9,.0f} rows/s, load/probe {d.load_vs_probe:.2f} | "
            f"{server_line(d.server)}")


def server_line(c: Counters) -> str:
    mb = 1024 * 1024
    return (f"checkpoints {c.checkpoints}, written by checkpoints {c.buffers_checkpoint * 8192 // mb:,} MB, "
            f"by backends {c.buffers_backend * 8192 // mb:,} MB, WAL {c.wal_bytes // mb:,} MB, "
            f"read {c.blocks_read * 8192 // mb:,} MB (hit {c.blocks_hit * 8192 // mb:,} MB), "
            f"temp {c.temp_bytes // mb:,} MB")


def as_json(d: Day) -> str:
    fields = {**asdict(d), "load_vs_probe": d.load_vs_probe}
    return orjson.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in fields.items()}).decode()


def checks(days: list[Day]) -> list[tuple[str, float, float, bool]]:
    """(name, ratio, limit, passed) for the three flatness targets of issue 9."""
    load = days[-1].load_rows_per_s / days[0].load_rows_per_s if days[0].load_rows_per_s else 0.0
    early = [d.derive_seconds for d in days[1:4]] or [days[0].derive_seconds]
    late = [d.derive_seconds for d in days[-3:]]
    derive = statistics.median(late) / statistics.median(early) if statistics.median(early) else float("inf")
    rss = [d.peak_rss_mb for d in days]
    first, last = days[0].load_vs_probe, days[-1].load_vs_probe
    machine = last / first if first else 0.0
    return [("load rate, last day / first day", load, 0.8, load >= 0.8),
            ("(the same, each day's rate against its probe's)", machine, 0.8, machine >= 0.8),
            ("derive s, median of last 3 days / of days 2-4", derive, 1.25, derive <= 1.25),
            ("peak RSS, max / min", max(rss) / min(rss), 1.25, max(rss) / min(rss) <= 1.25)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=20, help="trading days, from 2026-01-05 on")
    parser.add_argument("--lines-per-day", type=int, default=2_000_000, help="ticks per trading day")
    parser.add_argument("--workers", type=int, default=None, help="passed to obsdb migrate")
    parser.add_argument("--json", action="store_true", help="one JSON object per day, then a summary")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.days < 1 or args.lines_per_day < 1:
        parser.error("--days and --lines-per-day must be at least 1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scale-", dir=OUT))
    ticks, results = Ticks(), list[Day]()
    try:
        with scratch_database(keep=args.keep, prefix="obsdb_scale") as url:
            env["DATABASE_URL"] = url
            subprocess.run([sys.executable, "-m", "obsdb", "init"], env=env, check=True, capture_output=True)
            probe = Probe(url)
            for number, day in enumerate(trading_days(args.days), 1):
                d = one_day(number, args.lines_per_day, day, ticks, work, url, env, args.workers, probe)
                results.append(d)
                print(as_json(d) if args.json else line(d), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summarize(results, args.json)


def summarize(days: list[Day], as_json: bool) -> None:
    # A child's peak RSS cannot be below this process's own peak at the time it was started.
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = checks(days)
    if as_json:
        print(orjson.dumps({"summary": True, "days": len(days), "rows_loaded": sum(d.rows_loaded for d in days),
                            "parent_peak_rss_mb": round(parent_mb, 1),
                            "checks": [{"name": n, "ratio": round(r, 3), "limit": lim, "pass": ok}
                                       for n, r, lim, ok in found]}).decode())
        return
    print(f"{len(days)} days, {sum(d.rows_loaded for d in days):,} rows; this process peaked at {parent_mb:.0f} MB")
    for name, ratio, limit, ok in found:
        sign = ">=" if limit < 1 else "<="
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {ratio:.2f} (must be {sign} {limit})")


if __name__ == "__main__":
    main()
