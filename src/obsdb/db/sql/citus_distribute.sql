-- Distribute one market table by symbol, co-located with the anchor (NULL: the anchor itself,
-- which starts its own co-location group). Existing rows are copied to the shards.
SELECT create_distributed_table(%(table)s::regclass, 'symbol',
                                colocate_with => coalesce(%(colocate_with)s, 'none'))
