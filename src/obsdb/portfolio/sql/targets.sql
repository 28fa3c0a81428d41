-- The policy's target set in force at a time: every weight of its latest as_of at or before it.
SELECT symbol, weight, as_of FROM target_weights
WHERE policy_id = %(policy)s
  AND as_of = (SELECT max(as_of) FROM target_weights WHERE policy_id = %(policy)s AND as_of <= %(at)s)
ORDER BY symbol
