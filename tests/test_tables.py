"""The schema's own guarantees: partitions on demand, exact types, and constraints that bite."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.db

TICK = "INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) VALUES (%s, %s, %s, 'A')"


def test_tick_partitions_are_created_on_demand_by_kst_month(db: str) -> None:
    with psycopg.connect(db) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):  # no partition yet: nothing silently accepted
            conn.execute(TICK, ("005930", "2026-01-31 23:59:59+09", 1))
        conn.rollback()
        created = conn.execute(
            "SELECT obsdb_ensure_tick_partitions('2026-01-31 23:59:59+09', '2026-02-01 00:00+09')"
        ).fetchone()
        assert created == (2,)
        again = conn.execute("SELECT obsdb_ensure_tick_partitions('2026-01-05+09', '2026-02-20+09')").fetchone()
        assert again == (0,)
        conn.execute(TICK, ("005930", "2026-01-31 23:59:59+09", 1))
        conn.execute(TICK, ("005930", "2026-02-01 00:00:00+09", 1))  # KST midnight: February
        rows = conn.execute(
            "SELECT tableoid::regclass::text, event_time FROM scalp_ticks ORDER BY event_time"
        ).fetchall()
    assert [r[0] for r in rows] == ["scalp_ticks_202601", "scalp_ticks_202602"]


def test_tick_key_is_symbol_and_receive_time(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("SELECT obsdb_ensure_tick_partitions('2026-01-30+09', '2026-01-30+09')")
        conn.execute(TICK, ("005930", "2026-01-30 09:00:00.123456+09", 70000))
        conn.execute(TICK, ("000660", "2026-01-30 09:00:00.123456+09", 70000))  # same time, other symbol
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(TICK, ("005930", "2026-01-30 00:00:00.123456Z", 70100))  # same instant in UTC


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close) "
        "VALUES ('005930', now(), 'derived', 100, 90, 80, 85)",  # open above high
        "INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close) "
        "VALUES ('005930', now(), 'derived', 100, 110, 90, 80)",  # close below low
        "INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, coverage_ratio) "
        "VALUES ('005930', now(), 'derived', 100, 110, 90, 100, 1.5)",
        "INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape) VALUES ('005930', now(), -1, 'F')",
        "INSERT INTO swing_bars_10m (symbol, bar_time, origin, open, high, low, close) "
        "VALUES ('005930', now(), 'guessed', 1, 1, 1, 1)",
        "INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, origin) "
        "VALUES ('*', now(), now() - interval '1 s', 1, 'feed', 'derived')",
        "INSERT INTO portfolio_policy (policy_id, name, valid_from, max_weight) VALUES ('p', 'p', now(), 1.01)",
        "INSERT INTO analysis_rolling_stats (symbol, source_table, window_minutes, bar_time, bar_count) "
        "VALUES ('005930', 'scalp_1m_bars', 7, now(), 1)",
    ],
)
def test_constraints_reject_impossible_rows(db: str, statement: str) -> None:
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(statement)  # type: ignore[arg-type]


def test_portfolio_constraints_and_foreign_keys(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO portfolio_policy (policy_id, name, valid_from) VALUES ('core', 'Core', now())")
        conn.execute("INSERT INTO target_weights VALUES ('005930', 'core', '2026-02-02+09', 0.25)")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO target_weights VALUES ('000660', 'core', '2026-02-02+09', -0.1)")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO target_weights VALUES ('000660', 'nope', '2026-02-02+09', 0.1)")
        conn.execute("INSERT INTO rebalance_plan (plan_id, policy_id, account_id, created_at) "
                     "VALUES ('r1', 'core', 'acct', now())")
        order = ("INSERT INTO rebalance_orders (order_id, plan_id, symbol, side, quantity, created_at) "
                 "VALUES (%s, 'r1', '005930', %s, %s, now())")
        conn.execute(order, ("o1", "BUY", 10))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(order, ("o2", "HOLD", 10))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(order, ("o3", "SELL", -5))
        execution = ("INSERT INTO rebalance_execution "
                     "(execution_id, order_id, symbol, side, quantity, price, executed_at) "
                     "VALUES ('e1', 'o1', %s, 'BUY', 10, 70000, now())")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # executed a different symbol than ordered
            conn.execute(execution, ("000660",))
        conn.execute(execution, ("005930",))


def test_prices_are_exact_types(db: str) -> None:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = current_schema() AND data_type IN ('real', 'double precision')
               AND (column_name LIKE '%%price%%' OR column_name IN ('open', 'high', 'low', 'close',
                    'day_open', 'day_high', 'day_low', 'vwap', 'atr', 'cash', 'total_value', 'fee'))"""
        ).fetchall()
    assert rows == []
