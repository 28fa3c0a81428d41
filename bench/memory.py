"""Peak memory of `obsdb migrate` on a 1 GB archive file (a check, not part of `make test`).

    make bench-memory            # 3,000,000 lines in one ~1.04 GB file
    .venv/bin/python -m bench.memory --lines 1000000

It writes the file under bench/out/, loads it into a fresh database (DATABASE_URL's server, else
the embedded one) and prints the peak resident set size of the migrate process, which must stay
under the limit (300 MB): obsdb streams the file in 1 MiB chunks and holds at most two batches.
Then the same for `migrate --follow` while the file is appended to a growing file piece by piece.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.loader import OUT, generate, scratch_database

LIMIT_MB = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3_000_000)
    args = parser.parse_args()
    parts = OUT / f"ticks-{args.lines}"
    single = OUT / f"one-file-{args.lines}"
    target = single / "all.jsonl"
    if not target.exists():
        if not parts.exists():
            generate(args.lines, parts)
        single.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for path in sorted(parts.glob("*.jsonl")):
                out.write(path.read_bytes())
        # A child's peak RSS starts at this process's size when it forks: measure from a fresh one.
        os.execv(sys.executable, [sys.executable, "-m", "bench.memory", *sys.argv[1:]])
    with scratch_database(prefix="obsdb_mem") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env["DATABASE_URL"] = url
        proc = subprocess.run([sys.executable, "-m", "obsdb", "migrate", str(single), "--workers", "1", "--json"],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"obsdb migrate failed:\n{proc.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    follow_mb = follow_peak(target, args.lines)
    size_gb = target.stat().st_size / 1e9
    print(f"file          : {target} ({size_gb:.2f} GB, {args.lines:,} lines)")
    for name, mb in (("migrate", peak_mb), ("--follow", follow_mb)):
        print(f"peak RSS      : {name} {mb:.0f} MB (limit {LIMIT_MB} MB) -> {'OK' if mb < LIMIT_MB else 'TOO HIGH'}")
    if max(peak_mb, follow_mb) >= LIMIT_MB:
        sys.exit(1)


def follow_peak(source: Path, lines: int) -> float:
    """`migrate --follow --no-derive` while the same file is appended to it in 64 MiB pieces; the
    follower's own peak RSS (MB), read from its rusage once it has caught up and been stopped."""
    growing = OUT / "follow-memory" / "day.jsonl"
    growing.parent.mkdir(parents=True, exist_ok=True)
    growing.write_bytes(b"")
    with scratch_database(prefix="obsdb_mem") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env["DATABASE_URL"] = url
        proc = subprocess.Popen([sys.executable, "-m", "obsdb", "migrate", "--follow", str(growing.parent),
                                 "--interval", "0.5", "--no-derive", "--json"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with source.open("rb") as src, growing.open("ab") as out:
            while chunk := src.read(64 << 20):
                out.write(chunk)
                out.flush()
                time.sleep(0.5)
        with psycopg.connect(url) as conn:
            while conn.execute("SELECT count(*) FROM scalp_ticks").fetchone() != (lines,):
                time.sleep(1)
                conn.rollback()
        proc.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(proc.pid, 0)
    growing.unlink()
    return usage.ru_maxrss / 1024


if __name__ == "__main__":
    main()
