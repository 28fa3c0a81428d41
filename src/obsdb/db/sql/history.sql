-- Bootstrap of obsdb's own migration history. Idempotent; run under the migration advisory lock.
CREATE TABLE IF NOT EXISTS obsdb_schema_history (
    version      integer     PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  integer     NOT NULL,
    applied_by   text        NOT NULL DEFAULT current_user,
    obsdb_version text       NOT NULL
);
