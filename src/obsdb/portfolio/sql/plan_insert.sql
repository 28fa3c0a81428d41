-- A plan is identified by its inputs: writing the same plan again changes nothing.
INSERT INTO rebalance_plan (plan_id, policy_id, account_id, created_at, based_on_snapshot, status, turnover, notes)
VALUES (%(plan_id)s, %(policy_id)s, %(account_id)s, %(created_at)s, %(snapshot_time)s, 'planned',
        %(turnover)s, %(notes)s)
ON CONFLICT (plan_id) DO NOTHING
RETURNING plan_id
