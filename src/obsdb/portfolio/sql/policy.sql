-- The snapshot's policy, or else the policy valid at the time (the latest valid_from wins).
SELECT policy_id, max_weight, min_cash_weight, max_turnover, params ->> 'drift_band'
FROM portfolio_policy
WHERE policy_id = coalesce(%(policy)s::text,
                           (SELECT p.policy_id FROM portfolio_policy p
                            WHERE p.valid_from <= %(at)s AND (p.valid_to IS NULL OR p.valid_to > %(at)s)
                            ORDER BY p.valid_from DESC, p.policy_id LIMIT 1))
