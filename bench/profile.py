"""Client µs per row by step of the loader's hot path, and the server's COPY, on production ticks.

    .venv/bin/python -m bench.profile               # 200,000 lines
    .venv/bin/python -m bench.profile --lines 500000

Each step runs alone over the same lines, with the cycle collector off as in a load: read (chunks,
SHA-256, split into lines), decode (msgspec, constraints included: this is the validation),
build rows (times, flags), encode (psycopg binary COPY rows, written to memory); the same three
as the loader runs them (load/packed.py: each chunk encoded right after it is decoded); the server:
those COPY bytes sent into scalp_ticks of a fresh database (DATABASE_URL's server, else embedded).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import subprocess
import sys
import time
from collections import Counter

import psycopg
from psycopg import sql
from psycopg.copy import Copy, FileWriter

from bench.loader import OUT, generate, scratch_database
from obsdb.db import queries as q
from obsdb.formats import production
from obsdb.formats.production import DENSE_COLUMNS
from obsdb.load.files import open_archive
from obsdb.load.packed import pack_production
from obsdb.load.reader import StreamReader
from obsdb.load.writer import Writer


def _per_row(seconds: float, rows: int) -> str:
    return f"{seconds / rows * 1e6:5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    out = OUT / f"ticks-{args.lines}"
    if not out.exists():
        generate(args.lines, out)
    files = sorted(out.glob("*.jsonl"))
    gc.disable()

    started = time.perf_counter()
    batches = []
    for path in files:
        opened = open_archive(path)
        batches += [b.lines for b in StreamReader(opened.stream).batches(50_000, 32 << 20, 1)]
        opened.close()
    read_s = time.perf_counter() - started
    n = sum(len(b) for b in batches)

    production.decode_batch(batches[0][:1000], 1, 1)  # warm the one-off caches (the XKRX calendar)
    started = time.perf_counter()
    for lines in batches:
        production._decode_all(lines)
    decode_s = time.perf_counter() - started
    started = time.perf_counter()
    for lines in batches:  # each batch's rows dropped before the next, as the loader does once it is written
        production.decode_batch(lines, 1, 1)
    rows_s = time.perf_counter() - started - decode_s
    # (Kept all at once, 200,000 rows take fresh memory; its page faults cost about 3 µs/row more on
    # this VM, a cost the loader does not pay: it reuses the memory of the batches it has written.)
    rows = [r for lines in batches for r in production.decode_batch(lines, 1, 1)]

    with scratch_database(prefix="obsdb_bench_profile") as url:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DB_")}, "DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "obsdb", "init"], env=env, check=True, capture_output=True)
        with psycopg.connect(url, autocommit=True) as conn:
            types = dict(conn.execute(q.COLUMN_TYPES, ("scalp_ticks",)).fetchall())
            sink = io.BytesIO()
            started = time.perf_counter()
            with Copy(conn.cursor(), binary=True, writer=FileWriter(sink)) as copy:
                copy.set_types([types[c] for c in DENSE_COLUMNS])
                for row in rows:
                    copy.write_row(row)
            encode_s = time.perf_counter() - started
            factory = Writer(conn, None).packer()
            started = time.perf_counter()
            for lines in batches:  # the loader's path: each chunk encoded as soon as it is decoded
                pack_production(lines, 1, 1, factory, Counter())
            packed_s = time.perf_counter() - started
            times = [r[1] for r in rows if r is not None]
            conn.execute(q.ENSURE_TICK_PARTITIONS, (min(times), max(times)))
            data = memoryview(sink.getvalue())
            statement = sql.SQL(q.COPY_BINARY).format(
                table=sql.Identifier("scalp_ticks"), cols=sql.SQL(", ").join(map(sql.Identifier, DENSE_COLUMNS)))
            started = time.perf_counter()
            with conn.cursor().copy(statement) as copy:
                for i in range(0, len(data), 1 << 20):
                    copy.write(data[i:i + (1 << 20)])
            server_s = time.perf_counter() - started
    print(f"{n:,} production ticks; µs per row:")
    print(f"  read (chunks, SHA-256, lines) {_per_row(read_s, n)}")
    print(f"  decode + validate (msgspec)   {_per_row(decode_s, n)}")
    print(f"  build rows (times, flags)     {_per_row(rows_s, n)}")
    print(f"  encode (binary COPY rows)     {_per_row(encode_s, n)}")
    print(f"  client total                  {_per_row(read_s + decode_s + rows_s + encode_s, n)}")
    print(f"  packed: decode, rows, encode  {_per_row(packed_s, n)}   (the loader's path, load/packed.py)")
    print(f"  client total, packed          {_per_row(read_s + packed_s, n)}")
    print(f"  server COPY into scalp_ticks  {_per_row(server_s, n)}")


if __name__ == "__main__":
    main()
