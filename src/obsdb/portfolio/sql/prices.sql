-- The trustworthy price of each symbol at a time (obsdb_last_price, migration 010).
SELECT s.symbol, p.price, p.price_time, p.price_source
FROM unnest(%(symbols)s::text[]) AS s (symbol)
LEFT JOIN LATERAL obsdb_last_price(s.symbol, %(at)s::timestamptz) p ON true
