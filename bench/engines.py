"""COPY throughput into plain PostgreSQL and into a Citus cluster, on the same machine.

    .venv/bin/python -m bench.engines --plain postgresql://postgres@127.0.0.1:5432/p \\
        --citus postgresql://postgres@127.0.0.1:9700/c [--lines 1000000]

Both databases must exist and be empty; the Citus one must be a Citus database (the extension in it
on every node, the workers registered: README "Citus"). For each, it runs `obsdb init`, times
`obsdb migrate --no-derive` of the loader benchmark's ticks, then a raw binary COPY of the same rows
into an empty table shaped like scalp_ticks (on Citus distributed by symbol, co-located with it).
It prints rows/s of both and the Citus / plain ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from bench.loader import OUT, generate, raw_copy_rate, timed


def _ticks(lines: int) -> Path:
    out = OUT / f"ticks-{lines}"
    if not out.exists():
        generate(lines, out)
    return out


def _distribute_raw(url: str) -> None:
    """On Citus, the raw COPY's target is distributed like scalp_ticks (a no-op on plain PostgreSQL)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone():
            conn.execute("SELECT create_distributed_table('bench_raw', 'symbol', colocate_with => 'scalp_ticks')")


def _raw_rate(url: str) -> tuple[int, float]:
    """raw_copy_rate, with the target laid out as the engine lays out scalp_ticks."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS bench_raw"))
    return raw_copy_rate(url, before_copy=_distribute_raw)


def measure(url: str, data: Path) -> tuple[float, float]:
    """(migrate --no-derive rows/s, raw COPY rows/s) on the database at ``url``."""
    env = dict(os.environ, DATABASE_URL=url)
    timed([sys.executable, "-m", "obsdb", "init", "--json"], env)
    seconds, report = timed([sys.executable, "-m", "obsdb", "migrate", str(data), "--no-derive", "--json"], env)
    rows = int(report["rows_loaded"])  # type: ignore[call-overload]
    raw_rows, raw_seconds = _raw_rate(url)
    return rows / seconds, raw_rows / raw_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plain", required=True, help="an empty plain PostgreSQL database")
    parser.add_argument("--citus", required=True, help="an empty Citus database (the coordinator)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    data = _ticks(args.lines)
    results = {name: measure(url, data) for name, url in (("plain", args.plain), ("citus", args.citus))}
    for name, (load, raw) in results.items():
        print(f"{name:6s}: obsdb migrate --no-derive {load:>10,.0f} rows/s; raw binary COPY {raw:>10,.0f} rows/s")
    (pl, pr), (cl, cr) = results["plain"], results["citus"]
    print(f"citus / plain: migrate {cl / pl:.2f}, raw COPY {cr / pr:.2f}")


if __name__ == "__main__":
    main()
