-- Weights against targets for the newest portfolio snapshot (of each account at that time, at most
-- %(limit)s rows): the position's stated weight (else market value / total value) and the newest
-- target weight of the snapshot's policy as of the snapshot time. Symbols held or targeted appear.
WITH snap AS (
    SELECT * FROM portfolio_snapshot
    WHERE snapshot_time = (SELECT max(snapshot_time) FROM portfolio_snapshot)
),
targets AS (
    SELECT s.account_id, t.symbol, t.weight, t.as_of
    FROM snap s JOIN target_weights t ON t.policy_id = s.policy_id
    WHERE t.as_of = (SELECT max(t2.as_of) FROM target_weights t2
                     WHERE t2.policy_id = s.policy_id AND t2.as_of <= s.snapshot_time)
),
held AS (
    SELECT p.account_id, p.symbol, p.quantity, p.market_value,
           coalesce(p.weight, CASE WHEN s.total_value > 0 THEN p.market_value / s.total_value END) AS weight
    FROM snap s JOIN portfolio_positions p ON p.account_id = s.account_id AND p.snapshot_time = s.snapshot_time
)
SELECT s.account_id, s.snapshot_time, s.policy_id, s.cash, s.total_value, s.currency,
       CASE WHEN s.total_value > 0 THEN round(s.cash / s.total_value, 8) END AS cash_weight,
       coalesce(h.symbol, t.symbol) AS symbol, h.quantity, h.market_value,
       round(h.weight, 8) AS weight, t.weight AS target, t.as_of AS target_as_of
FROM snap s
LEFT JOIN (held h FULL JOIN targets t ON t.account_id = h.account_id AND t.symbol = h.symbol)
       ON coalesce(h.account_id, t.account_id) = s.account_id
ORDER BY s.account_id, coalesce(h.weight, 0) DESC, coalesce(t.weight, 0) DESC, 8
LIMIT %(limit)s
