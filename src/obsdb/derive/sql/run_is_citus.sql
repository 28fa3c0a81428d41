-- Is this a Citus database? One row when the citus extension is installed, none otherwise.
SELECT 1 FROM pg_extension WHERE extname = 'citus'
