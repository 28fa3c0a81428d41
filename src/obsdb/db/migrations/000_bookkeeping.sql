-- obsdb's own bookkeeping: load runs, the ingest ledger (exactly-once loading) and rejects.

-- One row per `obsdb migrate` or `obsdb derive` run: what was asked and what happened.
CREATE TABLE obsdb_load_runs (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL DEFAULT 'migrate' CHECK (kind IN ('migrate', 'derive')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ok', 'failed', 'dry_run')),
    hostname     text,
    obsdb_version text NOT NULL,
    arguments    jsonb NOT NULL DEFAULT '{}'::jsonb,
    totals       jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- The ledger: one row per content stream. A stream is identified by its content, not its path:
-- the hash of its first line finds candidates, the hash of the loaded prefix confirms one. The
-- loader updates loaded_bytes/prefix_sha256 in the SAME transaction as the rows it COPYs, so a
-- crash can never leave the ledger claiming rows that are not there (or the reverse).
CREATE TABLE obsdb_ingest_files (
    file_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    head_sha256    text   NOT NULL,
    prefix_sha256  text   NOT NULL,
    loaded_bytes   bigint NOT NULL DEFAULT 0 CHECK (loaded_bytes >= 0),
    loaded_lines   bigint NOT NULL DEFAULT 0 CHECK (loaded_lines >= 0),
    rows_loaded    bigint NOT NULL DEFAULT 0 CHECK (rows_loaded >= 0),
    duplicates     bigint NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
    rejected       bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    skipped        jsonb  NOT NULL DEFAULT '{}'::jsonb,
    flagged        jsonb  NOT NULL DEFAULT '{}'::jsonb,
    first_path     text   NOT NULL,
    last_path      text   NOT NULL,
    compression    text   NOT NULL DEFAULT 'none' CHECK (compression IN ('none', 'gzip', 'zstd')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_run_id    bigint REFERENCES obsdb_load_runs (run_id),
    superseded_by  bigint REFERENCES obsdb_ingest_files (file_id)
);
CREATE INDEX obsdb_ingest_files_head_idx ON obsdb_ingest_files (head_sha256);

-- Every path seen, and what it held when last seen: a re-run skips an unchanged file from its
-- (size, mtime, inode) without reading it, and `obsdb status` can say where rows came from.
CREATE TABLE obsdb_ingest_paths (
    path         text   PRIMARY KEY,
    file_id      bigint NOT NULL REFERENCES obsdb_ingest_files (file_id),
    size_bytes   bigint NOT NULL,
    mtime_ns     bigint NOT NULL,
    inode        bigint NOT NULL,
    device       bigint NOT NULL,
    complete_bytes bigint NOT NULL DEFAULT 0,  -- content bytes up to the last complete line, at that visit
    seen_at      timestamptz NOT NULL DEFAULT now(),
    last_run_id  bigint REFERENCES obsdb_load_runs (run_id)
);
CREATE INDEX obsdb_ingest_paths_file_idx ON obsdb_ingest_paths (file_id);

-- Lines that could not become rows, verbatim, with the reason (naming the field). Written in the
-- same transaction as the rows around them. (file_id, line_no) makes re-runs idempotent.
CREATE TABLE obsdb_rejects (
    file_id      bigint NOT NULL REFERENCES obsdb_ingest_files (file_id),
    line_no      bigint NOT NULL CHECK (line_no > 0),
    path         text   NOT NULL,
    byte_offset  bigint NOT NULL CHECK (byte_offset >= 0),
    field        text,
    reason       text   NOT NULL,
    raw_line     bytea  NOT NULL,
    run_id       bigint REFERENCES obsdb_load_runs (run_id),
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_id, line_no)
);

-- Add two {"key": count} objects key by key: the ledger keeps running counts of skipped lines by
-- type and of quality flags without a read-modify-write race.
CREATE FUNCTION obsdb_jsonb_sum(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, coalesce((a ->> k)::bigint, 0) + coalesce((b ->> k)::bigint, 0)), '{}'::jsonb)
    FROM (SELECT jsonb_object_keys(coalesce(a, '{}'::jsonb)) UNION SELECT jsonb_object_keys(coalesce(b, '{}'::jsonb))) AS keys(k)
$$;
