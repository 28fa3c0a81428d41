-- Portfolio: policy, target weights, account snapshots and positions, and the rebalance cycle
-- (plan -> orders -> executions). Identifiers are the producer's own text ids, so loading the same
-- JSONL twice is idempotent. Money is exact: integer KRW quantities and numeric amounts.

CREATE TABLE portfolio_policy (
    policy_id           text PRIMARY KEY CHECK (policy_id <> ''),
    name                text NOT NULL,
    valid_from          timestamptz NOT NULL,
    valid_to            timestamptz,
    rebalance_interval  text,
    max_weight          numeric(9, 8) CHECK (max_weight BETWEEN 0 AND 1),
    min_cash_weight     numeric(9, 8) CHECK (min_cash_weight BETWEEN 0 AND 1),
    max_turnover        numeric(9, 8) CHECK (max_turnover BETWEEN 0 AND 1),
    params              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE TABLE target_weights (
    symbol      text NOT NULL CHECK (symbol <> ''),
    policy_id   text NOT NULL REFERENCES portfolio_policy (policy_id),
    as_of       timestamptz NOT NULL,
    weight      numeric(9, 8) NOT NULL CHECK (weight BETWEEN 0 AND 1),
    PRIMARY KEY (symbol, policy_id, as_of)
);
CREATE INDEX target_weights_policy_idx ON target_weights (policy_id, as_of);

CREATE TABLE portfolio_snapshot (
    account_id    text NOT NULL CHECK (account_id <> ''),
    snapshot_time timestamptz NOT NULL,
    cash          numeric(20, 2) NOT NULL,
    total_value   numeric(20, 2) NOT NULL CHECK (total_value >= 0),
    currency      text NOT NULL DEFAULT 'KRW',
    policy_id     text REFERENCES portfolio_policy (policy_id),
    PRIMARY KEY (account_id, snapshot_time)
);

CREATE TABLE portfolio_positions (
    symbol        text NOT NULL CHECK (symbol <> ''),
    account_id    text NOT NULL,
    snapshot_time timestamptz NOT NULL,
    quantity      bigint NOT NULL CHECK (quantity >= 0),
    avg_price     numeric(20, 4) CHECK (avg_price >= 0),
    market_price  bigint CHECK (market_price >= 0),
    market_value  numeric(20, 2) CHECK (market_value >= 0),
    weight        numeric(9, 8) CHECK (weight BETWEEN 0 AND 1),
    PRIMARY KEY (symbol, account_id, snapshot_time),
    FOREIGN KEY (account_id, snapshot_time) REFERENCES portfolio_snapshot (account_id, snapshot_time)
);

CREATE TABLE rebalance_plan (
    plan_id       text PRIMARY KEY CHECK (plan_id <> ''),
    policy_id     text NOT NULL REFERENCES portfolio_policy (policy_id),
    account_id    text NOT NULL,
    created_at    timestamptz NOT NULL,
    based_on_snapshot timestamptz,
    status        text NOT NULL DEFAULT 'planned'
                  CHECK (status IN ('planned', 'approved', 'executing', 'done', 'cancelled')),
    turnover      numeric(9, 8) CHECK (turnover BETWEEN 0 AND 1),
    notes         text,
    FOREIGN KEY (account_id, based_on_snapshot) REFERENCES portfolio_snapshot (account_id, snapshot_time)
);

CREATE TABLE rebalance_orders (
    order_id      text NOT NULL CHECK (order_id <> ''),
    plan_id       text NOT NULL REFERENCES rebalance_plan (plan_id),
    symbol        text NOT NULL CHECK (symbol <> ''),
    side          text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity      bigint NOT NULL CHECK (quantity > 0),
    limit_price   bigint CHECK (limit_price > 0),  -- NULL for a market order
    target_weight numeric(9, 8) CHECK (target_weight BETWEEN 0 AND 1),
    status        text NOT NULL DEFAULT 'new'
                  CHECK (status IN ('new', 'sent', 'partially_filled', 'filled', 'cancelled', 'rejected')),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (order_id),
    UNIQUE (symbol, order_id)
);
CREATE INDEX rebalance_orders_plan_idx ON rebalance_orders (plan_id);

CREATE TABLE rebalance_execution (
    execution_id  text NOT NULL CHECK (execution_id <> ''),
    order_id      text NOT NULL,
    symbol        text NOT NULL,
    side          text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity      bigint NOT NULL CHECK (quantity > 0),
    price         bigint NOT NULL CHECK (price > 0),
    fee           numeric(20, 2) NOT NULL DEFAULT 0 CHECK (fee >= 0),
    executed_at   timestamptz NOT NULL,
    PRIMARY KEY (execution_id),
    -- the execution's symbol must be its order's symbol
    FOREIGN KEY (symbol, order_id) REFERENCES rebalance_orders (symbol, order_id)
);
CREATE INDEX rebalance_execution_order_idx ON rebalance_execution (order_id);
