"""The whole job against a raw COPY of the same rows into an identical table, in one run.

    make bench                      # 2,000,000 lines, then the live increment on a 1,000,000-tick morning
    .venv/bin/python -m bench.loader --lines 500000 --morning 200000
    .venv/bin/python -m bench.loader --load-only    # 1. only: the loader against the raw COPY

It writes production-shaped nested ticks (shape A: 40 symbols at about 2 Hz each, hourly files over
ten trading days) under bench/out/ and prints:
1. load: `obsdb migrate --no-derive` into a fresh database, against the baseline: the loaded rows,
   exported and COPYed (binary, the fastest raw path) into an empty table made LIKE scalp_ticks with
   the same partitions and keys;
2. derive: `obsdb derive` of everything that load marked, against the load's time;
3. end to end: `obsdb migrate` (derive included, what a user runs) into another fresh database;
4. live: a trading morning in one file, migrated, then ONE tick appended and `obsdb migrate` timed.
Times are whole commands (process start-up included). The database is DATABASE_URL's server when
set, else the embedded one.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

KST = timezone(timedelta(hours=9))
OUT = Path(__file__).resolve().parent / "out"
DAYS = [datetime(2026, 2, d, tzinfo=KST) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13)]


def generate(lines: int, out: Path, symbols: int = 40, seed: int = 7) -> int:
    """Shape A ticks, hour files like data/assets/scalp/YYYYMMDD_HH.jsonl. Returns bytes written."""
    rng = random.Random(seed)
    codes = [f"{rng.randrange(1, 999_999):06d}" for _ in range(symbols)]
    price = {c: rng.randrange(1_000, 200_000) // 10 * 10 for c in codes}
    out.mkdir(parents=True, exist_ok=True)
    per_day = max(1, lines // len(DAYS))
    written = total = 0
    dumps = orjson.dumps
    for day in DAYS:
        if written >= lines:
            break
        n = min(per_day, lines - written) if day != DAYS[-1] else lines - written
        step = timedelta(seconds=6.5 * 3600 / n)  # spread over the session
        t = day.replace(hour=9)
        cum = dict.fromkeys(codes, 0)
        files: dict[int, list[bytes]] = {}
        for i in range(n):
            t += step
            code = codes[i % symbols]
            p = max(100, price[code] + rng.choice((-10, 0, 0, 10)))
            price[code] = p
            cum[code] += rng.randrange(1, 500)
            rec = {"timestamp": t.isoformat(), "symbol": code, "execution_time": t.strftime("%H%M%S"),
                   "price": {"current": p, "open": p - 500, "high": p + 1000, "low": max(1, p - 1000),
                             "change_rate": 1.23},
                   "volume": {"accumulated": cum[code], "trade_value": cum[code] * p},
                   "bid_ask": {"ask_price": p + 10, "bid_price": p}, "source": "websocket",
                   "session_id": "observer-6f1c2d9e-bench"}
            files.setdefault(t.hour, []).append(dumps(rec))
        for hour, recs in files.items():
            path = out / f"{day:%Y%m%d}_{hour:02d}.jsonl"
            data = b"\n".join(recs) + b"\n"
            path.write_bytes(data)
            total += len(data)
        written += n
    return total


def admin_url() -> tuple[str, object | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    from obsdb.db.embedded import acquire

    server = acquire(Path(os.environ.get("OBSDB_PGDATA", ".obsdb/pgdata")))
    return server.conninfo("postgres"), server


def with_db(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **params)


@contextmanager
def scratch_database(*, keep: bool = False, prefix: str = "obsdb_bench") -> Iterator[str]:
    """A fresh database on DATABASE_URL's server (else the embedded one), dropped afterwards."""
    admin, server = admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_db(admin, name)
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.release()  # type: ignore[attr-defined]


def raw_copy_rate(url: str, before_copy: Callable[[str], None] | None = None) -> tuple[int, float]:
    """Export scalp_ticks, then COPY it into an identical empty table; time only the COPY in.
    ``before_copy(url)`` may lay the empty table out first (bench.engines distributes it on Citus)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_raw (LIKE scalp_ticks INCLUDING ALL) PARTITION BY RANGE (event_time)")
        parts = conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'scalp_ticks'::regclass").fetchall()
        for name, bound in parts:
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF bench_raw {}").format(
                sql.Identifier("bench_raw_" + name), sql.SQL(bound)))
        data = bytearray()
        with conn.cursor().copy("COPY (SELECT * FROM scalp_ticks) TO STDOUT (FORMAT BINARY)") as copy:
            for chunk in copy:
                data += chunk
        rows = conn.execute("SELECT count(*) FROM scalp_ticks").fetchone()[0]  # type: ignore[index]
        if before_copy is not None:
            before_copy(url)
        view = memoryview(data)
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench_raw FROM STDIN (FORMAT BINARY)") as copy:
            for i in range(0, len(view), 1 << 20):
                copy.write(view[i:i + (1 << 20)])
        return int(rows), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--morning", type=int, default=1_000_000, help="ticks of the live-increment morning")
    parser.add_argument("--no-live", action="store_true", help="skip the live-increment measurement")
    parser.add_argument("--load-only", action="store_true", help="only 1. (the load against the raw COPY)")
    parser.add_argument("--workers", type=int, default=None,
                        help="passed to obsdb migrate (default: obsdb's own, one per core up to 4)")
    args = parser.parse_args()
    out = OUT / f"ticks-{args.lines}"
    if not out.exists():
        t = time.perf_counter()
        size = generate(args.lines, out)
        print(f"generated {args.lines:,} lines ({size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    with scratch_database(keep=args.keep) as url:
        env["DATABASE_URL"] = url
        subprocess.run([sys.executable, "-m", "obsdb", "init"], env=env, check=True, capture_output=True)
        load_cmd = [*migrate_cmd(out, args.workers), "--no-derive"]  # load only, like the COPY baseline
        wall, report = timed(load_cmd, env)
        loaded = report["rows_loaded"]
        if not args.load_only:
            derive_s, _ = timed([sys.executable, "-m", "obsdb", "derive", "--json"], env)
        rows, copy_s = raw_copy_rate(url)
        assert rows == loaded == args.lines, (rows, loaded, args.lines)
    copy_rate = rows / copy_s
    from obsdb.load.workers import default_workers

    print(f"workers       : {args.workers or default_workers()} ({os.cpu_count()} cores)")
    print(f"raw COPY      : {rows:,} rows in {copy_s:.2f} s = {copy_rate:,.0f} rows/s (binary, same table shape)")
    print(f"1. load       : obsdb migrate --no-derive {loaded:,} rows in {wall:.2f} s = {loaded / wall:,.0f} rows/s; "
          f"ratio {loaded / wall / copy_rate:.2f}")
    if args.load_only:
        return
    with scratch_database(keep=args.keep) as url:  # what a user runs: migrate, derive included
        env["DATABASE_URL"] = url
        subprocess.run([sys.executable, "-m", "obsdb", "init"], env=env, check=True, capture_output=True)
        e2e_s, e2e = timed(migrate_cmd(out, args.workers), env)
        assert e2e["rows_loaded"] == args.lines
    print(f"2. derive     : obsdb derive {derive_s:.2f} s = {derive_s / wall:.2f}x the load")
    print(f"3. end to end : obsdb migrate {e2e_s:.2f} s = {args.lines / e2e_s:,.0f} rows/s; "
          f"ratio {args.lines / e2e_s / copy_rate:.2f}")
    if not args.no_live:
        live = live_increment(args.morning, env)
        print(f"4. live       : one tick appended to a {args.morning:,}-tick morning, obsdb migrate {live:.2f} s")


def live_increment(ticks: int, env: dict[str, str]) -> float:
    """A trading morning in one file, migrated; then ONE tick appended and `obsdb migrate` timed."""
    from bench.derive import _morning

    out = OUT / f"morning-{ticks}"
    path = out / "20260202_09.jsonl"
    if not path.exists():
        _morning(ticks, out)
    data = path.read_bytes()
    with scratch_database() as url:
        env["DATABASE_URL"] = url
        try:
            timed(migrate_cmd(out, None), env)
            last = orjson.loads(data.rsplit(b"\n", 2)[-2])
            t = datetime.fromisoformat(last["timestamp"]) + timedelta(seconds=1)
            last.update(timestamp=t.isoformat(), execution_time=t.strftime("%H%M%S"))
            last["volume"]["accumulated"] += 7
            with path.open("ab") as f:
                f.write(orjson.dumps(last) + b"\n")
            seconds, _ = timed(migrate_cmd(out, None), env)
        finally:
            path.write_bytes(data)  # the morning stays as generated for the next run
    return seconds


def migrate_cmd(out: Path, workers: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "obsdb", "migrate", str(out), "--json"]
    return cmd + (["--workers", str(workers)] if workers else [])


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    """Run an obsdb command; its wall time (the whole command, start-up included) and JSON output."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:])} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, orjson.loads(proc.stdout)

if __name__ == "__main__":
    main()
