"""Derive benchmark: `obsdb derive` of everything a load marked, against the load itself, and the
live increment (one tick appended to a trading morning, then `obsdb migrate`).

    .venv/bin/python -m bench.derive                          # 2,000,000 lines; a 1,000,000-tick morning
    .venv/bin/python -m bench.derive --lines 400000 --morning 200000

Phase 1 writes the loader benchmark's ticks (bench.loader: 40 symbols, hourly files over ten trading
days), loads them with `obsdb migrate --no-derive`, then times `obsdb derive`. Phase 2 writes one
trading morning of ticks (40 symbols) into one file, migrates it (with derive), appends ONE tick at
the end of the file and times `obsdb migrate` again. The database is DATABASE_URL's server when
set, else the embedded one; both are scratch databases, dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from bench.loader import OUT, generate, scratch_database
from obsdb import api
from obsdb.config import Settings

KST = timezone(timedelta(hours=9))
MORNING = datetime(2026, 2, 2, 9, 0, tzinfo=KST)


def _settings(url: str) -> Settings:
    return Settings(database_url=url, _env_file=None)  # type: ignore[arg-type,call-arg]


def _morning(ticks: int, out: Path, symbols: int = 40, seed: int = 11) -> Path:
    """``ticks`` shape A ticks from 09:00 KST over three hours, one file; the last tick is last."""
    rng = random.Random(seed)
    codes = [f"{100_000 + k:06d}" for k in range(symbols)]
    price = {c: rng.randrange(1_000, 200_000) // 10 * 10 for c in codes}
    cum = dict.fromkeys(codes, 0)
    step = timedelta(seconds=3 * 3600 / ticks)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "20260202_09.jsonl"
    with path.open("wb") as f:
        for i in range(ticks):
            f.write(_tick(MORNING + step * (i + 1), codes[i % symbols], price, cum, rng) + b"\n")
    return path


def _tick(t: datetime, code: str, price: dict[str, int], cum: dict[str, int], rng: random.Random) -> bytes:
    p = price[code] = max(100, price[code] + rng.choice((-10, 0, 0, 10)))
    cum[code] += rng.randrange(1, 500)
    return orjson.dumps({
        "timestamp": t.isoformat(), "symbol": code, "execution_time": t.strftime("%H%M%S"),
        "price": {"current": p, "open": p - 500, "high": p + 1000, "low": max(1, p - 1000), "change_rate": 1.23},
        "volume": {"accumulated": cum[code], "trade_value": cum[code] * p},
        "bid_ask": {"ask_price": p + 10, "bid_price": p}, "source": "websocket",
        "session_id": "observer-6f1c2d9e-bench"})


def bulk(lines: int) -> None:
    out = OUT / "derive-bulk"
    shutil.rmtree(out, ignore_errors=True)
    generate(lines, out)
    with scratch_database(prefix="obsdb_bench_derive") as url:
        started = time.perf_counter()
        api.migrate([out], settings=_settings(url), derive_after=False)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        report = api.derive(settings=_settings(url))
        derive_s = time.perf_counter() - started
    print(f"bulk: {lines:,} ticks, {len(report.days)} days, {len(report.symbols)} symbols: "
          f"load {load_s:.1f} s, derive {derive_s:.1f} s ({derive_s / load_s:.2f}x the load)")


def append_one(ticks: int) -> None:
    out = OUT / "derive-morning"
    shutil.rmtree(out, ignore_errors=True)
    path = _morning(ticks, out)
    with scratch_database(prefix="obsdb_bench_derive") as url:
        api.migrate([out], settings=_settings(url))
        last = orjson.loads(path.read_bytes().rsplit(b"\n", 2)[-2])
        t = datetime.fromisoformat(last["timestamp"]) + timedelta(seconds=1)
        last.update(timestamp=t.isoformat(), execution_time=t.strftime("%H%M%S"))
        last["volume"]["accumulated"] += 7
        with path.open("ab") as f:
            f.write(orjson.dumps(last) + b"\n")
        started = time.perf_counter()
        report = api.migrate([out], settings=_settings(url))
        total_s = time.perf_counter() - started
    derived = report.derive or {}
    print(f"append one tick to a {ticks:,}-tick morning: migrate {total_s:.2f} s "
          f"(derive {derived.get('seconds', 0):.2f} s; bars_1m {derived.get('bars_1m')}, stats {derived.get('stats')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000, help="ticks of the bulk phase (0: skip it)")
    parser.add_argument("--morning", type=int, default=1_000_000, help="ticks of the morning (0: skip it)")
    args = parser.parse_args()
    if args.lines:
        bulk(args.lines)
    if args.morning:
        append_one(args.morning)


if __name__ == "__main__":
    main()
