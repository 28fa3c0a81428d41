-- Feed gaps name the symbol '*' instead of NULL (issue 9), so scalp_gaps has a NOT NULL symbol in
-- every key, as a table distributed by symbol (Citus) needs: Citus refuses a NULL distribution value
-- and every unique key must hold the distribution column.
--
-- '*' reads as "every symbol" and is never a KRX code (six characters of [0-9A-Z]). It is reserved
-- in this table: scope 'feed' if and only if symbol '*' (the CHECK below), so `symbol = '*'` alone
-- finds the feed gaps, and on Citus it routes them to one shard. The key becomes a plain PRIMARY KEY
-- (NULLS NOT DISTINCT is no longer needed; a primary key is also the replica identity that moving a
-- shard needs). docs/derive-gaps.md describes the table.
--
-- Existing feed gaps are converted in place; nothing else changes. The constraint names dropped
-- here are the ones PostgreSQL gave 001's unnamed constraints.

LOCK TABLE scalp_gaps IN ACCESS EXCLUSIVE MODE;

-- A gap of a symbol literally named '*' (possible before: any non-empty text was a symbol) would
-- make the sentinel ambiguous. Refuse to guess: name them and stop (the migration rolls back).
DO $$
DECLARE
    clashing bigint;
BEGIN
    SELECT count(*) INTO clashing FROM scalp_gaps WHERE symbol = '*' AND scope <> 'feed';
    IF clashing > 0 THEN
        RAISE EXCEPTION 'scalp_gaps holds % gap(s) of a symbol named ''*'', which now means the whole feed',
                        clashing
            USING HINT = 'Rename or remove them (SELECT * FROM scalp_gaps WHERE symbol = ''*''), then run obsdb init again.';
    END IF;
END
$$;

ALTER TABLE scalp_gaps DROP CONSTRAINT scalp_gaps_check1;  -- (scope = 'feed') = (symbol IS NULL)

-- Only where there is something to convert: on a table already distributed by symbol (Citus), no
-- row can have a NULL symbol, and Citus refuses any UPDATE of the distribution column, even one
-- that matches no row (PL/pgSQL plans the UPDATE only when it runs).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM scalp_gaps WHERE symbol IS NULL) THEN
        UPDATE scalp_gaps SET symbol = '*' WHERE symbol IS NULL;
    END IF;
END
$$;

-- One action per ALTER TABLE: Citus refuses ADD CONSTRAINT next to other subcommands.
ALTER TABLE scalp_gaps ALTER COLUMN symbol SET NOT NULL;
ALTER TABLE scalp_gaps ADD CONSTRAINT scalp_gaps_feed_symbol CHECK ((scope = 'feed') = (symbol = '*'));
ALTER TABLE scalp_gaps ADD CONSTRAINT scalp_gaps_pkey PRIMARY KEY (symbol, gap_start_ts, scope, origin);

-- UNIQUE NULLS NOT DISTINCT (symbol, gap_start_ts, scope, origin): the primary key replaces it.
ALTER TABLE scalp_gaps DROP CONSTRAINT scalp_gaps_symbol_gap_start_ts_scope_origin_key;
