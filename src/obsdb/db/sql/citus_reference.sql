-- Make one small table a reference table: a full copy on every node.
SELECT create_reference_table(%(table)s::regclass)
