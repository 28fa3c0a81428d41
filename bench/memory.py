"""Peak memory of `obsdb migrate` on a 1 GB archive file (a check, not part of `make test`).

    make bench-memory            # 3,000,000 lines in one ~1.04 GB file
    .venv/bin/python -m bench.memory --lines 1000000

It writes the file under bench/out/, loads it into a fresh database (DATABASE_URL's server, else
the embedded one) and prints the peak resident set size of the migrate process, which must stay
under the limit (300 MB): obsdb streams the file in 1 MiB chunks and holds at most two batches.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

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
    with scratch_database(prefix="obsdb_mem") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env["DATABASE_URL"] = url
        proc = subprocess.run([sys.executable, "-m", "obsdb", "migrate", str(single), "--workers", "1", "--json"],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"obsdb migrate failed:\n{proc.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_gb = target.stat().st_size / 1e9
    print(f"file          : {target} ({size_gb:.2f} GB, {args.lines:,} lines)")
    print(f"peak RSS      : {peak_mb:.0f} MB (limit {LIMIT_MB} MB) -> {'OK' if peak_mb < LIMIT_MB else 'TOO HIGH'}")
    if peak_mb >= LIMIT_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
