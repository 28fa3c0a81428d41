-- Is Citus installed in this database, and could it be? (installed version, available version.)
-- Readable by any user: nothing here needs a superuser-only setting.
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'citus'),
       (SELECT default_version FROM pg_available_extensions WHERE name = 'citus')
