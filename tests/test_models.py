"""The table models: exact round trips, the rejections that matter, and no drift from the SQL.

The schema tests check every model against the CREATE TABLE statements of the migrations and the
ALTER TABLEs that change them, such as 011's (parsed in tests/model_examples.py, next to one example
row per table): column names and order,
nullability, types, numeric(p, s), keys, every column CHECK (each is exercised against the model)
and every table CHECK (each listed in TABLE_CHECKS with its test). Pure Python: no database needed.
"""

from __future__ import annotations

import json
import math
import re
import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import pytest
from psycopg.types.json import Jsonb
from pydantic import AwareDatetime, ValidationError
from pydantic.fields import FieldInfo

from obsdb.models import (
    ALL_MODELS,
    FEED_SYMBOL,
    AnalysisRollingStats,
    AnalysisSignalEvent,
    PortfolioPolicy,
    PortfolioPosition,
    PortfolioSnapshot,
    RebalanceExecution,
    RebalanceOrder,
    Scalp1mBar,
    ScalpGap,
    ScalpTick,
    SwingBar10m,
    SwingSnapshot,
    SymbolUniverse,
    TableModel,
    TargetWeight,
    model_for,
)
from obsdb.models._types import QUALITY_FLAG_PATTERN, PgNumeric
from tests.model_examples import D0, EXAMPLES, SCHEMA, T0, S


def replaced(model: TableModel, **changes: Any) -> TableModel:
    """Validate a copy of a valid row with some columns changed (model_copy would not validate)."""
    return type(model).model_validate({**model.model_dump(), **changes})


def reject(model: TableModel, field: str, value: Any, loc: tuple[str, ...] | None = None) -> str:
    """Assert that setting ``field`` to ``value`` fails at ``loc`` (default: the field); the message."""
    with pytest.raises(ValidationError) as caught:
        replaced(model, **{field: value})
    errors = caught.value.errors()
    expected = (field,) if loc is None else loc
    assert [e["loc"] for e in errors] == [expected], errors
    return str(errors[0]["msg"])


OHLC = ("open", "high", "low", "close")
# (table, column, value) -> the other columns a table-level CHECK makes move with that value.
TIED: dict[tuple[str, str, Any], dict[str, Any]] = {
    **{(t, c, 0): dict.fromkeys(OHLC, 0) for t in ("scalp_1m_bars", "swing_bars_10m") for c in OHLC},
    ("analysis_rolling_stats", "price_max", 0): {"price_min": 0},
    ("scalp_gaps", "symbol", FEED_SYMBOL): {"scope": "feed"},
    ("scalp_gaps", "scope", "feed"): {"symbol": FEED_SYMBOL},
}


def accept(model: TableModel, field: str, value: Any) -> TableModel:
    """Assert that ``field`` may be ``value`` (moving any columns TIED to it); the new row."""
    return replaced(model, **{field: value, **TIED.get((model.__table__, field, value), {})})


# --- the schema (parsed from the migrations in tests/model_examples.py) ----------------------------
# Table-level CHECKs, each exercised by a named test below; a new one fails until it has a test.
TABLE_CHECKS = {
    "scalp_1m_bars": ["low <= high AND low <= open AND open <= high AND low <= close AND close <= high"],
    "swing_bars_10m": ["low <= high AND low <= open AND open <= high AND low <= close AND close <= high"],
    "scalp_gaps": ["gap_end_ts >= gap_start_ts", "(scope = 'feed') = (symbol = '*')"],
    "portfolio_policy": ["valid_to IS NULL OR valid_to > valid_from"],
    "analysis_rolling_stats": ["price_min IS NULL OR price_max IS NULL OR price_min <= price_max"],
}
PY_TYPE = {"bigint": int, "integer": int, "smallint": int, "text": str, "timestamptz": AwareDatetime,
           "date": date, "jsonb": dict, "double precision": float}  # fmt: skip
INT_MAX = {"bigint": 2**63 - 1, "integer": 2**31 - 1, "smallint": 2**15 - 1}


def _leaves(annotation: Any, meta: list[Any]) -> set[Any]:
    """The Python types a field annotation admits; its constraint metadata is collected in ``meta``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        for item in extra:
            meta.extend([item, *item.metadata] if isinstance(item, FieldInfo) else [item])
        return _leaves(base, meta)
    if origin is Union or origin is types.UnionType:
        return set().union(*(_leaves(arg, meta) for arg in get_args(annotation)))
    if origin is Literal:
        return {type(value) for value in get_args(annotation)}
    return {origin or annotation}


def _literals(annotation: Any) -> set[Any]:
    """The values of the Literal inside a field annotation (empty when there is none)."""
    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    return set().union(*(_literals(arg) for arg in get_args(annotation)))


def test_every_table_has_a_model_and_every_model_a_table() -> None:
    assert sorted(SCHEMA) == sorted(m.__table__ for m in ALL_MODELS)
    assert set(EXAMPLES) == set(ALL_MODELS)
    assert all(model_for(m.__table__) is m for m in ALL_MODELS)
    with pytest.raises(KeyError, match="obsdb_load_runs"):
        model_for("obsdb_load_runs")


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__table__)
def test_model_mirrors_create_table(model: type[TableModel]) -> None:
    table = SCHEMA[model.__table__]
    assert model.columns() == tuple(table["columns"])
    assert model.__key__ == (table["pk"] or table["unique"][0])
    assert table["checks"] == TABLE_CHECKS.get(model.__table__, [])
    example = EXAMPLES[model]
    for name, column in table["columns"].items():
        field = model.model_fields[name]
        meta = list(field.metadata)
        leaves = _leaves(field.annotation, meta) - {type(None)}
        kind = column["type"]
        expected = Decimal if kind.startswith("numeric") else PY_TYPE[kind]
        assert leaves == {expected}, f"{name}: {kind} is modelled as {leaves}"
        if kind.startswith("numeric"):
            precision, scale = map(int, re.findall(r"\d+", kind))
            assert PgNumeric(precision, scale) in meta, (
                f"{name}: {kind} needs PgNumeric({precision}, {scale})"
            )
        # Nullability and defaults: NULL-able columns default to None; NOT NULL ones without a SQL
        # default are required; a NOT NULL column with a default either has one in the model or is
        # one the database fills (None).
        if not column["not_null"]:
            assert field.default is None and not field.is_required(), name
            accept(example, name, None)
        elif not column["default"]:
            assert field.is_required(), f"{name} is NOT NULL without a default: it must be required"
        else:
            assert not field.is_required(), name
            assert (field.get_default(call_default_factory=True) is None) == (name in model.__db_filled__)
        if column["not_null"] and name not in model.__db_filled__:
            reject(example, name, None)


def _check_column(example: TableModel, name: str, kind: str, check: str) -> None:
    """Exercise one column CHECK of the SQL against the model: it must reject what the SQL rejects."""
    bad = {int: -1, float: -0.5}.get(PY_TYPE.get(kind, Decimal), Decimal("-0.5"))
    if check == f"{name} >= 0":
        reject(example, name, bad)
        accept(example, name, 0)
    elif check == f"{name} > 0":
        reject(example, name, 0)
        reject(example, name, bad)
    elif check == f"{name} BETWEEN 0 AND 1":
        reject(example, name, bad)
        reject(example, name, 1.5 if kind == "double precision" else Decimal("1.5"))
        accept(example, name, 0)
        accept(example, name, 1)
    elif check == f"{name} <> ''":
        reject(example, name, "")
    elif (allowed := re.fullmatch(rf"{name} IN \((.*)\)", check)) is not None:
        values = [json.loads(v.replace("'", '"')) for v in allowed.group(1).split(", ")]
        assert _literals(type(example).model_fields[name].annotation) == set(values), f"{name}: Literal drift"
        for value in values:
            accept(example, name, value)
        reject(example, name, 7 if isinstance(values[0], int) else "bogus")
    elif (pattern := re.fullmatch(rf"{name} ~ '(.*)'", check)) is not None:
        assert pattern.group(1) == QUALITY_FLAG_PATTERN
        reject(example, name, "Bad Flag")
    else:
        pytest.fail(f"{name}: CHECK ({check}) is not understood by this test: teach it")


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__table__)
def test_every_column_check_and_type_is_enforced(model: type[TableModel]) -> None:
    example = EXAMPLES[model]
    for name, column in SCHEMA[model.__table__]["columns"].items():
        kind = column["type"]
        for check in column["checks"]:
            _check_column(example, name, kind, check)
        enum = get_origin(model.model_fields[name].annotation) is Literal or "IN (" in str(column["checks"])
        if kind in INT_MAX and not enum:
            reject(example, name, True)
            reject(example, name, 1.5)
            reject(example, name, "1")
            reject(example, name, INT_MAX[kind] + 1)
        elif kind == "text" and not enum:
            reject(example, name, "a\x00b")
        elif kind == "timestamptz":
            assert "timezone" in reject(example, name, datetime(2026, 1, 30, 9, 0))
            assert "timezone" in reject(example, name, "2026-01-30T09:00:00")
        elif kind == "jsonb":
            reject(example, name, {"x": math.nan})
            reject(example, name, {"x": Decimal(1)})
        elif kind == "double precision":
            reject(example, name, math.inf)
            reject(example, name, True)
        elif kind.startswith("numeric"):
            reject(example, name, "NaN")
            reject(example, name, True)
            reject(example, name, Decimal(10) ** 30)  # overflows every numeric(p, s) here


# --- round trips -------------------------------------------------------------------------------
def _assert_identical(a: TableModel, b: TableModel) -> None:
    """Equal, and equal in representation: same types, Decimal exponents and UTC offsets."""
    assert a == b
    for name in a.columns():
        x, y = getattr(a, name), getattr(b, name)
        assert type(x) is type(y), name
        if isinstance(x, Decimal):
            assert x.as_tuple() == y.as_tuple(), name
        if isinstance(x, datetime):
            assert x.utcoffset() == y.utcoffset(), name


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__table__)
def test_round_trips_through_json_and_rows(model: type[TableModel]) -> None:
    example = EXAMPLES[model]
    assert None not in example.to_row(), "the example must set every column"
    _assert_identical(model.model_validate_json(example.model_dump_json()), example)
    row = example.to_row()
    assert len(row) == len(model.columns())
    values = dict(zip(model.columns(), row, strict=True))
    assert all(isinstance(values[c], Jsonb) for c in model.__jsonb__)
    _assert_identical(model.from_row(row), example)
    _assert_identical(model.from_row(values), example)
    # What psycopg hands back for jsonb (plain dicts) is accepted too.
    plain = tuple(v.obj if isinstance(v, Jsonb) else v for v in row)
    _assert_identical(model.from_row(plain), example)
    cols = model.insert_columns()
    assert set(model.columns()) - set(cols) == model.__db_filled__
    _assert_identical(model.from_row(example.to_row(cols), cols), example.model_copy(
        update=dict.fromkeys(model.__db_filled__)))  # fmt: skip
    assert example.key() == tuple(getattr(example, c) for c in model.__key__)


def test_json_keeps_prices_as_integers_and_decimals_exact() -> None:
    bar = EXAMPLES[Scalp1mBar]
    data = json.loads(bar.model_dump_json())
    assert data["open"] == 70000 and isinstance(data["open"], int)
    assert data["coverage_ratio"] == "0.9500"
    assert data["bar_time"] == "2026-01-28T00:00:00Z"


def test_row_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match="row has 2 values for 4 columns"):
        SymbolUniverse.from_row(("000020", D0))
    with pytest.raises(TypeError):
        SymbolUniverse.from_row("000020")
    with pytest.raises(ValueError, match="no column 'nope'"):
        EXAMPLES[SymbolUniverse].to_row(["nope"])


# --- the rejections the brief names, with their error locations --------------------------------
BAR, TICK = cast(Scalp1mBar, EXAMPLES[Scalp1mBar]), cast(ScalpTick, EXAMPLES[ScalpTick])


@pytest.mark.parametrize(
    ("model", "field", "value", "loc"),
    [
        (ScalpTick, "event_time", datetime(2026, 1, 30, 13, 5), ("event_time",)),
        (ScalpTick, "last_price", -1, ("last_price",)),
        (ScalpTick, "last_price", 152300.5, ("last_price",)),
        (ScalpTick, "last_price", True, ("last_price",)),
        (SwingBar10m, "open", -5, ("open",)),
        (Scalp1mBar, "close", 70100.5, ("close",)),
        (Scalp1mBar, "coverage_ratio", 1.5, ("coverage_ratio",)),
        (TargetWeight, "weight", -0.1, ("weight",)),
        (PortfolioPosition, "weight", Decimal("-0.1"), ("weight",)),
        (RebalanceOrder, "side", "HOLD", ("side",)),
        (RebalanceExecution, "side", "HOLD", ("side",)),
        (RebalanceOrder, "quantity", 0, ("quantity",)),
        (RebalanceOrder, "quantity", -3, ("quantity",)),
        (RebalanceExecution, "quantity", 0, ("quantity",)),
        (PortfolioPosition, "quantity", -1, ("quantity",)),
        (Scalp1mBar, "quality_flag", "Bad Flag", ("quality_flag",)),
        (ScalpTick, "quality_flag", "normal\n", ("quality_flag",)),
        (ScalpTick, "quality_flag", "normal,", ("quality_flag",)),
        (AnalysisRollingStats, "window_minutes", 15, ("window_minutes",)),
        (ScalpTick, "surprise", 1, ("surprise",)),
        (ScalpGap, "gap_end_ts", T0 - timedelta(seconds=1), ()),
        (PortfolioPolicy, "valid_to", T0, ()),
        (AnalysisRollingStats, "price_min", 152601, ()),
        (ScalpGap, "scope", "bogus", ("scope",)),
        (ScalpGap, "scope", "feed", ()),  # a feed gap names the symbol '*'
        (ScalpGap, "symbol", FEED_SYMBOL, ()),  # a 'symbol' gap must name a real one
        (ScalpGap, "symbol", None, ("symbol",)),  # NOT NULL since 011
        (ScalpGap, "expected_interval_seconds", Decimal("-0.001"), ("expected_interval_seconds",)),
        (SwingSnapshot, "record_shape", "A", ("record_shape",)),
        (SwingSnapshot, "record_shape", "f_mock", ("record_shape",)),
        (RebalanceOrder, "limit_price", 0, ("limit_price",)),
        (RebalanceOrder, "limit_price", -1, ("limit_price",)),
        (RebalanceExecution, "price", 0, ("price",)),
        (RebalanceExecution, "price", -151900, ("price",)),
    ],
)
def test_rejections(model: type[TableModel], field: str, value: Any, loc: tuple[str, ...]) -> None:
    reject(EXAMPLES[model], field, value, loc)


def test_bar_messages_name_the_fields() -> None:
    assert "open (70000) > high (69990)" in reject(BAR, "high", 69990, ())
    assert "low (70150) > close (70100)" in reject(BAR, "low", 70150, ())
    assert "low (70300) > high (70200)" in reject(BAR, "low", 70300, ())
    assert "gap_end_ts" in reject(EXAMPLES[ScalpGap], "gap_end_ts", T0 - timedelta(seconds=1), ())
    replaced(BAR, open=69800, high=69800, low=69800, close=69800)  # a flat bar is fine


@pytest.mark.parametrize("scope", ["feed", "symbol", "swing"])
@pytest.mark.parametrize("symbol", [FEED_SYMBOL, S])
def test_gap_symbol_is_the_sentinel_exactly_for_feed_scope(scope: str, symbol: str) -> None:
    """CHECK ((scope = 'feed') = (symbol = '*')), case by case; the message names both fields."""
    if (scope == "feed") == (symbol == FEED_SYMBOL):
        gap = replaced(EXAMPLES[ScalpGap], scope=scope, symbol=symbol)
        assert isinstance(gap, ScalpGap) and (gap.scope, gap.symbol) == (scope, symbol)
    else:
        with pytest.raises(ValidationError) as caught:
            replaced(EXAMPLES[ScalpGap], scope=scope, symbol=symbol)
        [error] = caught.value.errors()
        assert error["loc"] == () and "scope" in error["msg"] and "symbol" in error["msg"], error


def test_rolling_stats_are_never_negative() -> None:
    stats = EXAMPLES[AnalysisRollingStats]
    columns = SCHEMA["analysis_rolling_stats"]["columns"]
    assert [n for n, c in columns.items() if c["checks"] == [f"{n} >= 0"]] == [
        "bar_count", "price_mean", "price_stddev", "price_min", "price_max", "logret_stddev", "atr",
        "annualized_vol", "hl_range", "volume_mean", "volume_stddev", "vwap"]  # fmt: skip
    for name in columns:
        value = getattr(stats, name)
        if columns[name]["checks"] == [f"{name} >= 0"]:
            bad = {int: -1, float: -1e-9}.get(type(value), Decimal("-0.0001"))
            assert "greater than or equal to 0" in reject(stats, name, bad), name
            accept(stats, name, 0)
    assert replaced(EXAMPLES[RebalanceOrder], limit_price=None)  # NULL: a market order


def test_frozen_and_extra_forbidden() -> None:
    with pytest.raises(ValidationError):
        BAR.open = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Scalp1mBar.model_validate_json(BAR.model_dump_json()[:-1] + ', "foo": 1}')


def test_defaults_and_hostile_symbols() -> None:
    tick = ScalpTick(symbol="0", event_time=T0, record_shape="D")
    assert tick.quality_flag == "normal" and tick.extra is None
    assert ScalpTick.from_row(tick.to_row()) == tick
    assert ScalpTick(symbol="'; DROP TABLE x; --", event_time=T0, record_shape="C").symbol.startswith("'")
    feed_gap = ScalpGap(symbol=FEED_SYMBOL, gap_start_ts=T0, gap_end_ts=T0, gap_seconds=0, scope="feed",
                        origin="derived")
    assert feed_gap.symbol == "*" and feed_gap.gap_id is None
    assert RebalanceExecution.model_fields["fee"].default == Decimal("0.00")
    assert PortfolioPolicy(policy_id="p", name="n", valid_from=T0).params == {}


def test_numeric_rounds_like_postgresql() -> None:
    bar = replaced(BAR, coverage_ratio=Decimal("0.12345"))
    assert isinstance(bar, Scalp1mBar) and bar.coverage_ratio == Decimal("0.1235")  # half away from zero
    assert replaced(BAR, coverage_ratio=0.99996).coverage_ratio == Decimal("1.0000")  # type: ignore[attr-defined]
    cash = replaced(EXAMPLES[PortfolioSnapshot], cash=-1.005).cash  # type: ignore[attr-defined]
    assert cash == Decimal("-1.01") and str(cash) == "-1.01"  # from the float's shortest repr, not its binary
    assert "overflow" in reject(EXAMPLES[AnalysisSignalEvent], "value", Decimal("9999999999999999.999999995"))
    reject(BAR, "coverage_ratio", "0.9o")
