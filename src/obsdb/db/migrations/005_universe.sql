-- Dated symbol universes (plain-JSON symbol lists): which symbols were meant to be observed.

CREATE TABLE symbol_universe_lists (
    universe_date  date  NOT NULL,
    market         text  NOT NULL,
    symbol_count   integer CHECK (symbol_count >= 0),  -- the list's own stated count
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    src_file_id    bigint,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (universe_date, market)
);

CREATE TABLE symbol_universe (
    symbol         text NOT NULL CHECK (symbol <> ''),
    universe_date  date NOT NULL,
    market         text NOT NULL,
    position       integer NOT NULL CHECK (position >= 0),  -- order in the list
    PRIMARY KEY (symbol, universe_date, market),
    FOREIGN KEY (universe_date, market) REFERENCES symbol_universe_lists (universe_date, market)
);
CREATE INDEX symbol_universe_date_idx ON symbol_universe (universe_date, market);
