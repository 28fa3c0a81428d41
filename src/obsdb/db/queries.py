"""SQL statements used from Python, in one place. Values are always parameters; identifiers come
from code through ``psycopg.sql``, never from input."""

from __future__ import annotations

from typing import LiteralString

# A fixed key for pg_advisory_lock: "obsdb" in ASCII, so it is easy to spot in pg_locks.
MIGRATION_LOCK_KEY = 0x6F6273_6462
MIGRATION_LOCK: LiteralString = "SELECT pg_advisory_lock(%s)"
MIGRATION_UNLOCK: LiteralString = "SELECT pg_advisory_unlock(%s)"

HISTORY_EXISTS: LiteralString = "SELECT to_regclass('obsdb_schema_history') IS NOT NULL"
HISTORY_ROWS: LiteralString = (
    "SELECT version, name, checksum, applied_at, duration_ms FROM obsdb_schema_history ORDER BY version"
)
HISTORY_INSERT: LiteralString = (
    "INSERT INTO obsdb_schema_history (version, name, checksum, duration_ms, obsdb_version) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING applied_at"
)

# --- status -------------------------------------------------------------------------------------
TABLE_EXISTS: LiteralString = "SELECT to_regclass(%s) IS NOT NULL"
# Planner estimate over a table and its partitions; -1 (never analysed) counts as unknown.
ROW_ESTIMATE: LiteralString = (
    "SELECT sum(greatest(c.reltuples, 0))::bigint, bool_or(c.reltuples < 0) FROM pg_class c "
    "WHERE c.oid = %s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)"
)
COUNT_ROWS: LiteralString = "SELECT count(*) FROM {table}"
EXTENT: LiteralString = "SELECT min({col}), max({col}) FROM {table}"
# Loose index scan: walk the distinct symbols of the (symbol, time) key, then probe each one's
# first and last time. Milliseconds even on billions of rows.
EXTENT_BY_SYMBOL: LiteralString = """
WITH RECURSIVE syms(s) AS (
    SELECT min(symbol) FROM {table}
    UNION ALL
    SELECT (SELECT min(symbol) FROM {table} WHERE symbol > syms.s) FROM syms WHERE syms.s IS NOT NULL
)
SELECT min(x.lo), max(x.hi)
FROM syms, LATERAL (SELECT min({col}) AS lo, max({col}) AS hi FROM {table} WHERE symbol = syms.s) AS x
WHERE syms.s IS NOT NULL
"""
LAST_LOAD: LiteralString = (
    "SELECT max(finished_at) FROM obsdb_load_runs "
    "WHERE status = 'ok' AND jsonb_typeof(totals->'tables'->%s) = 'number' AND (totals->'tables'->>%s)::numeric > 0"
)
LEDGER_SUMMARY: LiteralString = (
    "SELECT count(*), coalesce(sum(loaded_lines), 0), coalesce(sum(rows_loaded), 0), "
    "coalesce(sum(rejected), 0), max(updated_at) FROM obsdb_ingest_files"
)
PATHS_COUNT: LiteralString = "SELECT count(*) FROM obsdb_ingest_paths"
SERVER_VERSION: LiteralString = "SHOW server_version"

# --- loader: ledger, paths, runs ------------------------------------------------------------------
#: pg_advisory_lock(int, int) namespace for "one loader per content stream at a time".
STREAM_LOCK_CLASS = 0x6F62  # "ob"
STREAM_LOCK: LiteralString = "SELECT pg_advisory_lock(%s, %s)"
STREAM_UNLOCK: LiteralString = "SELECT pg_advisory_unlock(%s, %s)"
RUN_START: LiteralString = (
    "INSERT INTO obsdb_load_runs (kind, status, hostname, obsdb_version, arguments) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING run_id"
)
RUN_FINISH: LiteralString = (
    "UPDATE obsdb_load_runs SET finished_at = now(), status = %s, totals = %s WHERE run_id = %s"
)
#: PostgreSQL 15+: this backend reports its row counts when it next goes idle (before it answers)
FLUSH_COUNTS: LiteralString = "SELECT pg_stat_force_next_flush()"
LEDGER_CANDIDATES: LiteralString = (
    "SELECT file_id, loaded_bytes, loaded_lines, prefix_digest FROM obsdb_ingest_files "
    "WHERE head_sha256 = %s ORDER BY loaded_bytes, file_id"
)
LEDGER_NEW: LiteralString = (
    "INSERT INTO obsdb_ingest_files (head_sha256, prefix_digest, first_path, last_path, compression, last_run_id) "
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING file_id"
)
LEDGER_SUPERSEDE: LiteralString = "UPDATE obsdb_ingest_files SET superseded_by = %s WHERE file_id = %s"
#: Advances a stream only from where this loader found it: 0 rows means another loader moved it.
LEDGER_ADVANCE: LiteralString = """
UPDATE obsdb_ingest_files SET
    loaded_bytes = %(end_bytes)s, loaded_lines = %(end_lines)s, prefix_digest = %(prefix)s,
    rows_loaded = rows_loaded + %(loaded)s, duplicates = duplicates + %(duplicates)s,
    rejected = rejected + %(rejected)s,
    skipped = obsdb_jsonb_sum(skipped, %(skipped)s), flagged = obsdb_jsonb_sum(flagged, %(flagged)s),
    last_path = %(path)s, updated_at = now(), last_run_id = %(run_id)s
WHERE file_id = %(file_id)s AND loaded_bytes = %(start_bytes)s
"""
PATH_GET: LiteralString = (
    "SELECT file_id, size_bytes, mtime_ns, inode, device, complete_bytes FROM obsdb_ingest_paths "
    "WHERE path = %s"
)
PATH_UPSERT: LiteralString = """
INSERT INTO obsdb_ingest_paths
    (path, file_id, size_bytes, mtime_ns, inode, device, complete_bytes, seen_at, last_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, now(), %s)
ON CONFLICT (path) DO UPDATE SET file_id = excluded.file_id, size_bytes = excluded.size_bytes,
    mtime_ns = excluded.mtime_ns, inode = excluded.inode, device = excluded.device,
    complete_bytes = excluded.complete_bytes, seen_at = now(), last_run_id = excluded.last_run_id
"""
LEDGER_LOADED_BYTES: LiteralString = "SELECT loaded_bytes FROM obsdb_ingest_files WHERE file_id = %s"
COLUMN_TYPES: LiteralString = (
    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
ENSURE_TICK_PARTITIONS: LiteralString = "SELECT obsdb_ensure_tick_partitions(%s, %s)"
#: Could any row of this batch already be there? One index range scan per symbol of the batch
#: (and no correlated subquery, which Citus refuses next to a set-returning function).
TICKS_OVERLAP: LiteralString = (
    "SELECT EXISTS (SELECT 1 FROM scalp_ticks WHERE symbol = ANY(%s::text[]) AND event_time BETWEEN %s AND %s)"
)
STAGE_CREATE: LiteralString = (
    "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
STAGE_INSERT: LiteralString = (
    "WITH ins AS (INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM ins"
)
STAGE_CLEAR: LiteralString = "DELETE FROM {stage}"
COPY_BINARY: LiteralString = "COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)"
INSERT_ONE: LiteralString = "INSERT INTO {target} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING"
REJECT_COLUMNS = ("file_id", "line_no", "path", "byte_offset", "field", "reason", "raw_line", "run_id")
REJECTS_LIST: LiteralString = """
SELECT r.path, r.line_no, r.field, r.reason, r.raw_line, r.rejected_at, r.file_id
FROM obsdb_rejects r
WHERE (%(path)s::text IS NULL OR r.path LIKE %(path)s)
ORDER BY r.rejected_at DESC, r.file_id, r.line_no
LIMIT %(limit)s
"""
#: Before a batch marks days: hold off a derive of them (run_day_begin.sql takes the same key
#: exclusively; on Citus the key -1, for every day) until this batch commits. Without it a derive
#: could take a mark this batch leaves in place and read the day before these rows commit.
MARK_DAYS_LOCK: LiteralString = """
SELECT pg_advisory_xact_lock_shared(hashtext('obsdb.derive.day'), k)
FROM (SELECT -1 AS k
      UNION ALL
      SELECT d::date - date '2000-01-01'
      FROM generate_series((%(lo)s::timestamptz AT TIME ZONE 'Asia/Seoul')::date,
                           (%(hi)s::timestamptz AT TIME ZONE 'Asia/Seoul')::date, interval '1 day') AS d) AS days
ORDER BY k
"""
#: The tables derive writes (the loader writes their archived rows).
DERIVED_TABLES = ("scalp_1m_bars", "swing_bars_10m", "scalp_gaps", "analysis_rolling_stats")
#: Before a batch writes archived rows into a table derive writes: on Citus, hold off a derive
#: (which takes the key -1 exclusively for every day) until this batch commits, or the two
#: multi-shard writes of one table can lock its shards in opposite orders (40P01). Plain
#: PostgreSQL's derive never takes the key -1: there the lock waits for nothing.
DERIVED_WRITE_LOCK: LiteralString = "SELECT pg_advisory_xact_lock_shared(hashtext('obsdb.derive.day'), -1)"
#: Mark (symbol, KST date) pairs as needing derive: each row i of the arrays is symbols[i] x every
#: KST date in [los[i], his[i]] of tables[i], changed from los[i] on (013: merged with least; NULL,
#: the whole day, wins). A mark is rewritten only to move its ``since`` earlier. ONE statement for
#: all of a batch's marks, in key order: loaders then lock marks in one order, so two that load the
#: same day at once wait for each other instead of deadlocking (marks written table by table locked
#: (s, d, t2) before (s, d, t1) in one loader and the reverse in another).
MARK_DIRTY: LiteralString = """
INSERT INTO obsdb_derive_dirty AS m (symbol, kst_date, source_table, since)
SELECT x.symbol, d::date, x.source_table, min(x.lo)
FROM unnest(%(symbols)s::text[], %(tables)s::text[], %(los)s::timestamptz[], %(his)s::timestamptz[])
         AS x (symbol, source_table, lo, hi),
     generate_series((x.lo AT TIME ZONE 'Asia/Seoul')::date, (x.hi AT TIME ZONE 'Asia/Seoul')::date,
                     interval '1 day') AS d
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (symbol, kst_date, source_table) DO UPDATE SET since = EXCLUDED.since
    WHERE m.since IS NOT NULL AND EXCLUDED.since < m.since
"""
