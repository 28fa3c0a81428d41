-- After create_distributed_table / create_reference_table copied a table's rows to the shards, the
-- coordinator's own copy is dead weight (Citus keeps it, invisible): free it.
SELECT truncate_local_data_after_distributing_table(%(table)s::regclass)
