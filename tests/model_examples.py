"""Data for tests/test_models.py: one example row per table, and the schema parsed from the SQL.

Every column of an example is set, so every type is round-tripped; the meta-tests derive their
rejections from these rows, so each must sit inside its table's CHECKs. ``SCHEMA`` is what the
CREATE TABLE statements of the migrations say: columns, types, nullability, keys and CHECKs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import obsdb
from obsdb.models import (
    AnalysisRollingStats,
    AnalysisSignalEvent,
    AnalysisSignalOutcome,
    AnalysisThresholdCandidate,
    PortfolioPolicy,
    PortfolioPosition,
    PortfolioSnapshot,
    RebalanceExecution,
    RebalanceOrder,
    RebalancePlan,
    Scalp1mBar,
    ScalpGap,
    ScalpTick,
    SwingBar10m,
    SwingSnapshot,
    SymbolUniverse,
    SymbolUniverseList,
    TableModel,
    TargetWeight,
)

__all__ = ["D0", "EXAMPLES", "KST", "SCHEMA", "T0", "T1", "S"]

KST = timezone(timedelta(hours=9))
T0 = datetime(2026, 1, 30, 13, 5, 1, 482113, tzinfo=KST)
T1 = datetime(2026, 1, 30, 4, 6, 31, tzinfo=UTC)
D0 = date(2026, 2, 2)
S = "005930"

EXAMPLES: dict[type[TableModel], TableModel] = {m.__class__: m for m in [
    ScalpTick(symbol=S, event_time=T0, exchange_time=T0.replace(microsecond=0), last_price=152300,
              bid_price=152200, ask_price=152300, bid_size=100, ask_size=200, day_open=150100,
              day_high=153000, day_low=149800, change_rate=1.53, cum_volume=10234567,
              cum_trade_value=1550123400000, volume=12, trade_count=3, mitigation_level=0,
              session_id="observer-6f1c2d9e", source="websocket", record_shape="A", quality_flag="normal",
              source_quality_flag="ok", extra={"bid_ask": {"depth": [1, 2.5, None]}, "x": True},
              src_file_id=7, src_line=42),
    Scalp1mBar(symbol="0004V0", bar_time=datetime(2026, 1, 28, 0, 0, tzinfo=UTC), origin="archived",
               open=70000, high=70200, low=69800, close=70100, volume=50000, tick_count=61,
               coverage_ratio=Decimal("0.95"), quality_flag="late,partial", session_id="s1",
               source_quality_flag="normal", extra={"note": "é ü"}, src_file_id=1, src_line=2,
               computed_at=T1),
    ScalpGap(gap_id=1, symbol=S, gap_start_ts=T0, gap_end_ts=T0 + timedelta(seconds=90),
             gap_seconds=Decimal("90.000"), scope="symbol", reason="no ticks", session_id="s1",
             origin="archived", track_type="track_b", gap_type="major", expected_interval_seconds=Decimal(2),
             detected_at=T0, recorded_at=T1, extra={}, src_file_id=3, src_line=4, computed_at=T1),
    SwingSnapshot(symbol=S, snapshot_time=T0, day_open=150100, day_high=153000, day_low=149800, price=152300,
                  cum_volume=10234567, bid_price=152200, ask_price=152300, session_id="observer-6f1c",
                  dataset="track_a_swing", market="kr_stocks", source="kis", record_shape="F",
                  quality_flag="normal", source_quality_flag="ok", extra={"a": 1}, src_file_id=5, src_line=6),
    SwingBar10m(symbol=S, bar_time=datetime(2026, 1, 30, 9, 0, tzinfo=KST), origin="snapshots", open=150100,
                high=153000, low=149800, close=152300, volume=900, bar_count=2, coverage_ratio=Decimal("0.2"),
                bid_price=152200, ask_price=152300, quality_flag="sparse", session_id="s1",
                schema_version="1.0", mitigation_level=1, source_quality_flag="x", extra={"k": [None]},
                src_file_id=1, src_line=1, computed_at=T1),
    PortfolioPolicy(policy_id="p1", name="balanced", valid_from=T0, valid_to=T0 + timedelta(days=30),
                    rebalance_interval="1d", max_weight=Decimal("0.2"), min_cash_weight=Decimal("0.05"),
                    max_turnover=Decimal("0.3"), params={"lookback": 20}, created_at=T1),
    TargetWeight(symbol=S, policy_id="p1", as_of=T0, weight=Decimal("0.12345678")),
    PortfolioSnapshot(account_id="acc-1", snapshot_time=T0, cash=Decimal("-1234.50"),
                      total_value=Decimal("100000000.00"), currency="KRW", policy_id="p1"),
    PortfolioPosition(symbol=S, account_id="acc-1", snapshot_time=T0, quantity=10,
                      avg_price=Decimal("150123.4567"), market_price=152300, market_value=Decimal("1523000"),
                      weight=Decimal("0.01523")),
    RebalancePlan(plan_id="plan-1", policy_id="p1", account_id="acc-1", created_at=T0, based_on_snapshot=T0,
                  status="approved", turnover=Decimal("0.1"), notes="monthly"),
    RebalanceOrder(order_id="o-1", plan_id="plan-1", symbol=S, side="BUY", quantity=10, limit_price=152000,
                   target_weight=Decimal("0.02"), status="sent", created_at=T0),
    RebalanceExecution(execution_id="x-1", order_id="o-1", symbol=S, side="BUY", quantity=5, price=151900,
                       fee=Decimal("113.93"), executed_at=T1),
    AnalysisRollingStats(symbol=S, source_table="scalp_1m_bars", window_minutes=30, bar_time=T1, bar_count=30,
                         coverage=29 / 30, price_mean=Decimal("152000.1234"), price_stddev=Decimal("120.5"),
                         price_min=151500, price_max=152600, logret_mean=-1.5e-05, logret_stddev=0.0007,
                         logret_skew=-0.3, logret_kurtosis=2.9, atr=Decimal("310.25"), annualized_vol=0.21,
                         hl_range=1100, volume_mean=Decimal("1234.5"), volume_stddev=Decimal("99.9999"),
                         vwap=Decimal("152010.0001"), computed_at=T1),
    AnalysisThresholdCandidate(symbol=S, metric="logret_stddev", window_minutes=60, as_of=T0,
                               direction="above", threshold=Decimal("0.00123456"), score=0.87,
                               sample_size=1000, params={"method": "quantile", "q": 0.99}),
    AnalysisSignalEvent(symbol=S, event_time=T0, signal_type="vol_breakout", direction="up",
                        value=Decimal("0.0021"), threshold=Decimal("-12.5"), window_minutes=60,
                        details={"bars": [1, 2]}),
    SymbolUniverseList(universe_date=D0, market="kr_stocks", symbol_count=2, metadata={"date": "20260202"},
                       src_file_id=9, loaded_at=T1),
    SymbolUniverse(symbol="000020", universe_date=D0, market="kr_stocks", position=0),
    AnalysisSignalOutcome(symbol=S, event_time=T0, signal_type="vol_breakout", price_at_event=152300,
                          price_time=T0 - timedelta(seconds=2), return_1m=Decimal("0.00131320"),
                          return_5m=Decimal("-0.0006566"), return_10m=Decimal("0"), mfe_10m=Decimal("0.0019698"),
                          mae_10m=Decimal("-0.00131320"), computed_at=T1),
]}  # fmt: skip


# --- the schema, parsed from the migrations --- ------------------------------------------------------
MIGRATIONS = Path(obsdb.__file__).parent / "db" / "migrations"
SQL_TYPES = r"double precision|numeric\(\d+, *\d+\)|timestamptz|bigint|integer|smallint|text|jsonb|date"
COLUMN_TYPE = re.compile(rf"({SQL_TYPES})(?!\w)")
TABLE_CONSTRAINT = re.compile(r"(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|EXCLUDE)\b")
# a column added, dropped or changed (but SET NOT NULL, which _alter applies)
COLUMN_CHANGE = re.compile(
    r"ALTER TABLE (?!obsdb_)[^;]*?\b((ADD|DROP)\s+COLUMN|ALTER\s+COLUMN(?!\s+\w+\s+SET\s+NOT\s+NULL))\b")


def _split_top_level(body: str) -> list[str]:
    """Split a CREATE TABLE body at commas outside parentheses and quotes."""
    items: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for ch in body:
        quoted ^= ch == "'"
        depth += 0 if quoted else (ch == "(") - (ch == ")")
        if ch == "," and depth == 0 and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [" ".join(item.split()) for item in items if item.strip()]


def _pg_name(names: dict[str, Any], base: str) -> str:
    """The name PostgreSQL gives an unnamed constraint: ``base``, else ``base1``, ``base2``..."""
    name, n = base, 0
    while name in names:
        n += 1
        name = f"{base}{n}"
    return name


def _add_constraint(name: str, table: dict[str, Any], item: str, explicit: str | None) -> None:
    """Record one table constraint (from CREATE TABLE or ALTER TABLE .. ADD) under its catalog name."""
    kind = TABLE_CONSTRAINT.match(item)
    assert kind is not None, f"{name}: not a table constraint: {item!r}"
    cols = tuple(re.findall(r"\w+", item[item.index("(") :].split(")")[0]))
    if kind.group(1) == "PRIMARY KEY":
        table["pk"] = cols
        key = ("pk", cols, explicit or f"{name}_pkey")
    elif kind.group(1) == "UNIQUE":
        table["unique"].append(cols)
        key = ("unique", cols, explicit or f"{name}_{'_'.join(cols)}_key")
    elif kind.group(1) in ("CHECK", "EXCLUDE"):
        text = item[len(kind.group(1)) + 2 : -1]
        table["checks"].append(text)
        key = ("checks", text, explicit or _pg_name(table["names"], f"{name}_check"))
    else:
        return  # FOREIGN KEY: not part of a model
    table["names"][key[2]] = key[:2]


def _alter(name: str, table: dict[str, Any], actions: str) -> None:
    """Apply the ALTER TABLE actions a migration may use on a model table; anything else: teach me."""
    for action in _split_top_level(actions):
        if (col := re.fullmatch(r"ALTER COLUMN (\w+) SET NOT NULL", action)) is not None:
            table["columns"][col.group(1)]["not_null"] = True
        elif (dropped := re.fullmatch(r"DROP CONSTRAINT (\w+)", action)) is not None:
            kind, value = table["names"].pop(dropped.group(1))
            if kind == "pk":
                table["pk"] = ()
            elif kind == "column_check":
                table["columns"][value[0]]["checks"].remove(value[1])
            else:
                table[kind].remove(value)
        elif (added := re.fullmatch(r"ADD CONSTRAINT (\w+) (.*)", action)) is not None:
            _add_constraint(name, table, added.group(2), added.group(1))
        else:
            raise AssertionError(f"{name}: teach this parser ALTER TABLE .. {action}")
    for col in table["pk"]:
        table["columns"][col]["not_null"] = True


def _create(name: str, body: str) -> dict[str, Any]:
    table: dict[str, Any] = {"columns": {}, "checks": [], "pk": (), "unique": [], "names": {}}
    for item in _split_top_level(body):
        if TABLE_CONSTRAINT.match(re.sub(r"^CONSTRAINT \w+ ", "", item)):
            explicit = re.match(r"^CONSTRAINT (\w+) ", item)
            _add_constraint(name, table, re.sub(r"^CONSTRAINT \w+ ", "", item), explicit and explicit.group(1))
            continue
        column, rest = item.split(" ", 1)
        sql_type = COLUMN_TYPE.match(rest)
        assert sql_type, f"{name}.{column}: unknown SQL type in {rest!r}"
        if "PRIMARY KEY" in rest:
            table["pk"] = (column,)
        checks = re.findall(r"CHECK \((.*?)\)(?= |$)", rest)
        table["columns"][column] = {
            "type": sql_type.group(1),
            "not_null": "NOT NULL" in rest or "PRIMARY KEY" in rest,
            "default": "DEFAULT" in rest or "GENERATED" in rest,
            "checks": checks,
        }
        for check in checks:
            table["names"][_pg_name(table["names"], f"{name}_{column}_check")] = ("column_check", (column, check))
    for col in table["pk"]:
        table["columns"][col]["not_null"] = True
    return table


def parse_schema() -> dict[str, dict[str, Any]]:
    """Each model table as the migrations leave it: CREATE TABLE, then the ALTER TABLE statements
    that name it (a file's ALTERs apply after its CREATEs). Unnamed constraints get PostgreSQL's
    names, so a later migration can drop one by name."""
    tables: dict[str, dict[str, Any]] = {}
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text())
        # Renames, partition attachment, owners and re-created copies of a table's own constraints
        # leave its model as it is; a column added, dropped or changed would not: teach the parser first
        # (bookkeeping tables, obsdb_*, have no models).
        changed = re.search(COLUMN_CHANGE, sql)
        assert changed is None, f"{path.name}: teach this parser ALTER TABLE .. COLUMN before relying on it"
        for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\)", sql, re.S):
            if not name.startswith("obsdb_"):  # bookkeeping (000) is internal: no models
                tables[name] = _create(name, body)
        for name, actions in re.findall(r"ALTER TABLE (\w+)\s+([^;]*);", sql):
            if not name.startswith("obsdb_"):
                _alter(name, tables[name], " ".join(actions.split()))
    for table in tables.values():
        del table["names"]
    return tables


SCHEMA = parse_schema()
