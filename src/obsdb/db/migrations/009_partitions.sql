-- Time partitions for the large tables besides scalp_ticks, and the record of retired ranges.
--
-- swing_snapshots, scalp_1m_bars and analysis_rolling_stats become PARTITION BY RANGE of their time
-- column, one partition per KST month like scalp_ticks (docs/retention.md says why monthly). Keys are
-- unchanged: each already holds (symbol, time), as partitioned and distributed (Citus) tables need.
--
-- An existing table is converted without moving a row: it is renamed and attached, whole, as the
-- partition for everything before the month after its last row ("<table>_before_YYYYMM", lower bound
-- MINVALUE). A CHECK constraint matching that bound is validated first (one read of the table), so
-- ATTACH itself scans nothing. Its indexes become the new parent's partitioned indexes' partitions
-- (same definitions: nothing is rebuilt); owner, privileges and comments are carried to the parent.
-- An empty table is attached the same way, as the partition for times before 1970 (KST), which no
-- real row has: nothing is ever dropped by a migration.

-- Ranges `obsdb retention` retired (partitions archived and/or dropped). The loader refuses to load
-- rows into an unreleased range again (obsdb.retention.guard), and obsdb_ensure_tick_partitions
-- never re-creates a partition inside one; `--reload-retired` sets released_at first.
CREATE TABLE obsdb_retired (
    retired_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name     text        NOT NULL CHECK (table_name <> ''),
    range_start    timestamptz NOT NULL,  -- inclusive; -infinity for a converted table's first partition
    range_end      timestamptz NOT NULL,  -- exclusive
    partition_name text        NOT NULL,
    row_count      bigint      NOT NULL CHECK (row_count >= 0),
    rows_sha256    text,                  -- SHA-256 of the archived lines, in key order
    archive_path   text,                  -- NULL: dropped without an archive (--drop)
    archive_bytes  bigint CHECK (archive_bytes >= 0),
    retired_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,           -- set by --reload-retired: this range may be loaded again
    CHECK (range_end > range_start)
);
CREATE INDEX obsdb_retired_table_idx ON obsdb_retired (table_name, range_start);

-- Each partition of a range-partitioned table and its bounds. The bounds are read back from the
-- catalog's text form, printed in ISO style with their offset, so the cast is exact whatever the
-- session's time zone is. MINVALUE reads as -infinity.
CREATE FUNCTION obsdb_partitions(parent regclass)
RETURNS TABLE (part regclass, range_start timestamptz, range_end timestamptz)
LANGUAGE sql STABLE
SET datestyle = 'ISO, YMD'
AS $$
    SELECT c.oid::regclass,
           CASE WHEN b[1] = 'MINVALUE' THEN '-infinity'::timestamptz ELSE btrim(b[1], '''')::timestamptz END,
           CASE WHEN b[2] = 'MAXVALUE' THEN 'infinity'::timestamptz ELSE btrim(b[2], '''')::timestamptz END
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \((.+)\) TO \((.+)\)$') AS b
    WHERE i.inhparent = parent
    ORDER BY 2
$$;

-- Convert the three tables. The statements are built with format(): the table names come from the
-- list below, never from input. (The object kind is a parameter of the statement text, so the same
-- helper renames tables and indexes; no column is added, changed or removed here.)
DO $$
DECLARE
    spec     text[];
    t        text;
    col      text;
    old      oid;
    maxv     timestamptz;
    hi_m     timestamp;
    hi       timestamptz;
    legacy   text;
    owner    name;
    acl      aclitem[];
    note     text;
    idx_defs text[];
    con_defs text[];
    stmt     text;
    r        record;
BEGIN
    FOREACH spec SLICE 1 IN ARRAY ARRAY[['swing_snapshots', 'snapshot_time'],
                                        ['scalp_1m_bars', 'bar_time'],
                                        ['analysis_rolling_stats', 'bar_time']] LOOP
        t := spec[1];
        col := spec[2];
        old := to_regclass(quote_ident(t));
        CONTINUE WHEN old IS NULL OR (SELECT relkind FROM pg_class WHERE oid = old) = 'p';
        EXECUTE format('LOCK %s %I IN ACCESS EXCLUSIVE MODE', 'TABLE', t);

        -- The last row's month, from the time index (instant).
        EXECUTE format('SELECT max(%I) FROM %I', col, t) INTO maxv;
        hi_m := CASE WHEN maxv IS NULL THEN timestamp '1970-01-01'
                     ELSE date_trunc('month', maxv AT TIME ZONE 'Asia/Seoul') + interval '1 month' END;
        hi := hi_m AT TIME ZONE 'Asia/Seoul';
        legacy := t || '_before_' || to_char(hi_m, 'YYYYMM');

        -- What the parent must carry over, captured before anything is renamed.
        SELECT c.relowner::regrole::name, c.relacl, obj_description(c.oid, 'pg_class')
          INTO owner, acl, note FROM pg_class c WHERE c.oid = old;
        SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid), '{}')
          INTO idx_defs FROM pg_index i
         WHERE i.indrelid = old AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);
        SELECT coalesce(array_agg(format('ADD CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid))
                                  ORDER BY k.oid), '{}')
          INTO con_defs FROM pg_constraint k WHERE k.conrelid = old AND k.contype IN ('p', 'u', 'x');

        -- The old table and its indexes (and so their constraints) move to the partition's names.
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, legacy);
        FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = old LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname,
                           CASE WHEN left(r.relname, length(t)) = t
                                THEN legacy || substr(r.relname, length(t) + 1) ELSE r.relname || '_old' END);
        END LOOP;

        -- The parent: the same columns, defaults, CHECKs and comments; keys and indexes by their
        -- original names and definitions.
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS '
                       'INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING STATISTICS INCLUDING GENERATED '
                       'INCLUDING IDENTITY) PARTITION BY RANGE (%I)', t, legacy, col);
        FOREACH stmt IN ARRAY con_defs LOOP
            EXECUTE format('ALTER TABLE %I %s', t, stmt);
        END LOOP;
        FOREACH stmt IN ARRAY idx_defs LOOP
            EXECUTE stmt;  -- pg_get_indexdef named the original table: now the parent
        END LOOP;

        -- Prove the bound once, then ATTACH skips its own scan.
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I IS NOT NULL AND %I < %L)',
                       legacy, legacy || '_bound', col, col, hi);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', t, legacy, hi);

        -- Owner, privileges (table and column) and the table's comment.
        IF owner <> current_user THEN
            EXECUTE format('ALTER TABLE %I OWNER TO %I', t, owner);
        END IF;
        FOR r IN SELECT a.privilege_type, a.grantee, a.is_grantable FROM aclexplode(acl) a
                  WHERE a.grantee <> (SELECT relowner FROM pg_class WHERE oid = old) LOOP
            EXECUTE format('GRANT %s ON %I TO %s%s', r.privilege_type, t,
                           CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END,
                           CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        FOR r IN SELECT att.attname, a.privilege_type, a.grantee, a.is_grantable
                   FROM pg_attribute att, aclexplode(att.attacl) a
                  WHERE att.attrelid = old AND att.attnum > 0 AND NOT att.attisdropped AND att.attacl IS NOT NULL LOOP
            EXECUTE format('GRANT %s (%I) ON %I TO %s%s', r.privilege_type, r.attname, t,
                           CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END,
                           CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        IF note IS NOT NULL THEN
            EXECUTE format('COMMENT ON TABLE %I IS %L', t, note);
        END IF;
    END LOOP;
END
$$;

-- One call makes a KST month exist in every time-partitioned table: the loader calls it for the
-- months of the raw rows it writes (ticks, snapshots) and of archived bars and statistics, and
-- derived rows always fall within the months of their raw rows. Months retired by `obsdb retention`
-- are not re-created (see obsdb_retired). Returns the number of months that got a new partition.
-- The signature is 007's, so its SECURITY DEFINER rights and the loader's EXECUTE grant still hold.
CREATE OR REPLACE FUNCTION obsdb_ensure_tick_partitions(lo timestamptz, hi timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m       timestamp := date_trunc('month', lo AT TIME ZONE 'Asia/Seoul');
    last_m  timestamp := date_trunc('month', hi AT TIME ZONE 'Asia/Seoul');
    m_lo    timestamptz;
    m_hi    timestamptz;
    t       text;
    made    boolean;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('obsdb.scalp_ticks.partitions'));
    WHILE m <= last_m LOOP
        m_lo := m AT TIME ZONE 'Asia/Seoul';
        m_hi := (m + interval '1 month') AT TIME ZONE 'Asia/Seoul';
        made := false;
        FOREACH t IN ARRAY ARRAY['scalp_ticks', 'swing_snapshots', 'scalp_1m_bars', 'analysis_rolling_stats'] LOOP
            CONTINUE WHEN to_regclass(quote_ident(t)) IS NULL;
            CONTINUE WHEN EXISTS (SELECT 1 FROM obsdb_partitions(to_regclass(quote_ident(t))) p
                                   WHERE p.range_start <= m_lo AND m_lo < p.range_end);
            CONTINUE WHEN EXISTS (SELECT 1 FROM obsdb_retired r
                                   WHERE r.table_name = t AND r.released_at IS NULL
                                     AND r.range_start <= m_lo AND m_hi <= r.range_end);
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           t || '_' || to_char(m, 'YYYYMM'), t, m_lo, m_hi);
            made := true;
        END LOOP;
        IF made THEN
            created := created + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END;
$$;

-- CREATE OR REPLACE resets a function's attributes (not its owner or grants): restore 007's.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION obsdb_ensure_tick_partitions(timestamptz, timestamptz) '
        'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE EXECUTE ON FUNCTION obsdb_ensure_tick_partitions(timestamptz, timestamptz) FROM PUBLIC;

-- Rows already held: every month with ticks or snapshots gets its derived tables' partitions too
-- (derive may still have to write bars and statistics there). A loose index scan over the months.
DO $$
DECLARE
    m timestamptz;
BEGIN
    PERFORM obsdb_ensure_tick_partitions(p.range_start, p.range_start)
       FROM obsdb_partitions('scalp_ticks'::regclass) p WHERE p.range_start > '-infinity';
    m := (SELECT min(snapshot_time) FROM swing_snapshots);
    WHILE m IS NOT NULL LOOP
        PERFORM obsdb_ensure_tick_partitions(m, m);
        m := (SELECT min(snapshot_time) FROM swing_snapshots
               WHERE snapshot_time >= (date_trunc('month', m AT TIME ZONE 'Asia/Seoul') + interval '1 month')
                                      AT TIME ZONE 'Asia/Seoul');
    END LOOP;
END
$$;
