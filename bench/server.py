"""What the server did between two readings, and how fast the machine is right now.

bench/scale.py reads these around each day so that a slow day can be told apart: the server's own
work (checkpoints, WAL, blocks read from outside shared buffers, temp files) against a probe of the
machine at that moment (a raw binary COPY of a fixed sample into an empty table, as make bench's
baseline). On a shared 2-core VM the probe moves by +-30% from hour to hour; a cost that grows
with the rows held shows as a falling load/probe ratio, machine noise does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import psycopg

# pg_stat_checkpointer exists from PostgreSQL 17 on; before, the counters are in pg_stat_bgwriter.
CHECKPOINTER_17 = """
SELECT c.num_timed + c.num_requested, c.buffers_written, 0
FROM pg_stat_checkpointer c
"""
CHECKPOINTER_15 = """
SELECT b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint, b.buffers_backend
FROM pg_stat_bgwriter b
"""
DATABASE = """
SELECT blks_read, blks_hit, temp_bytes, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')
FROM pg_stat_database WHERE datname = current_database()
"""
PROBE_TABLE = "CREATE UNLOGGED TABLE IF NOT EXISTS bench_probe (LIKE scalp_ticks INCLUDING ALL)"
PROBE_SAMPLE = "COPY (SELECT * FROM scalp_ticks LIMIT 300000) TO STDOUT (FORMAT BINARY)"


@dataclass
class Counters:
    checkpoints: int = 0
    buffers_checkpoint: int = 0
    buffers_backend: int = 0
    blocks_read: int = 0
    blocks_hit: int = 0
    temp_bytes: int = 0
    wal_bytes: int = 0

    def __sub__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


def counters(url: str) -> Counters:
    """The cumulative counters now (pg_stat_* are refreshed at the end of each transaction)."""
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.info.server_version
        row = conn.execute(CHECKPOINTER_17 if version >= 170000 else CHECKPOINTER_15).fetchone()
        db = conn.execute(DATABASE).fetchone()
    assert row is not None and db is not None
    return Counters(int(row[0]), int(row[1]), int(row[2]), int(db[0]), int(db[1]), int(db[2]), int(db[3]))


class Probe:
    """A fixed sample of ticks, COPYed (binary) into an empty table each time it is timed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.data = bytearray()
        self.rows = 0

    def rate(self) -> float:
        """Rows/s of a raw COPY of the sample (taken from scalp_ticks the first time)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            if not self.data:
                with conn.cursor() as cur:
                    with cur.copy(PROBE_SAMPLE) as copy:
                        for chunk in copy:
                            self.data += chunk
                    self.rows = cur.rowcount
            conn.execute(PROBE_TABLE)
            conn.execute("TRUNCATE bench_probe")
            view = memoryview(self.data)
            started = time.perf_counter()
            with conn.cursor().copy("COPY bench_probe FROM STDIN (FORMAT BINARY)") as copy:
                for i in range(0, len(view), 1 << 20):
                    copy.write(view[i:i + (1 << 20)])
            seconds = time.perf_counter() - started
            conn.execute("TRUNCATE bench_probe")
        return self.rows / seconds if seconds else 0.0
