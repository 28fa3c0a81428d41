-- A loader's staging table on Citus: the target's columns, no keys, indexes, defaults or NOT NULL
-- (the batch's dedup is the target's ON CONFLICT; the columns a batch leaves out stay NULL here and
-- get the target's defaults), UNLOGGED (its rows never outlive their transaction: the writer
-- deletes them before the batch commits, and a rollback takes them with it).
CREATE UNLOGGED TABLE IF NOT EXISTS {stage} (LIKE {target})
