-- A load-only role may need a new month's partition of scalp_ticks, but only the table's owner may
-- create one. The function runs with its owner's rights instead (SECURITY DEFINER), with a fixed
-- search_path so nothing the caller puts on its path can be picked up; what it creates is named by
-- the function itself, never by the caller.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION obsdb_ensure_tick_partitions(timestamptz, timestamptz) '
        'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE EXECUTE ON FUNCTION obsdb_ensure_tick_partitions(timestamptz, timestamptz) FROM PUBLIC;
