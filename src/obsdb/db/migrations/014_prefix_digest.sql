-- The ledger's prefix digest is XXH3-128 from now on, written as 'xxh3_128:<hex>' (obsdb/load/
-- digest.py says why: the append check of a live file hashes its whole loaded prefix on every
-- migrate). The column is renamed for what it holds; rows written before keep their SHA-256 hex,
-- which the loader still checks once, then replaces at the row's next batch. Nothing else changes.
ALTER TABLE obsdb_ingest_files RENAME COLUMN prefix_sha256 TO prefix_digest;
