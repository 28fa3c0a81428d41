SELECT plan_id FROM rebalance_plan WHERE plan_id = %(plan)s
