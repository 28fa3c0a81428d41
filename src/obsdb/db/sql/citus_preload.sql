-- shared_preload_libraries, when this role may see it (NULL otherwise: pg_settings hides it).
SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'
