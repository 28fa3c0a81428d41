"""Turn query rows into the page's compact JSON: arrays instead of objects, epoch seconds for times.

The page carries every number it shows and nothing else; 40 symbols x 250 days of cells cost a few
hundred kilobytes this way (an object per cell would cost several times that).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from obsdb.report import queries

SOURCES = ("ticks", "polls", "archived")
SCOPES = ("feed", "symbol", "swing")
ORIGINS = ("derived", "archived")


def choose_symbols(cells: list[dict[str, Any]], wanted: list[str] | None) -> tuple[list[str], int]:
    """The rows of the heatmap and how many symbols were left out.

    Asked-for symbols are all shown, in the order given, data or not. Otherwise the busiest
    :data:`queries.MAX_SYMBOLS` (most days with data, then most coverage), in symbol order.
    """
    if wanted:
        return list(dict.fromkeys(wanted)), 0
    days: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    for c in cells:
        days[c["symbol"]] += 1
        covered[c["symbol"]] += int((c["coverage"] or 0) * 10_000)
    ranked = sorted(days, key=lambda s: (-days[s], -covered[s], s))
    kept = ranked[: queries.MAX_SYMBOLS]
    return sorted(kept), len(ranked) - len(kept)


def _num(value: Any) -> Any:
    """Decimals become floats (the page only shows them), integers stay exact."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    return value


def _ts(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp(), 3)


def _ratio(value: Any) -> int | None:
    """A 0..1 share as an integer in ten-thousandths (exact for numeric(.., 4))."""
    return None if value is None else round(Decimal(value) * 10_000)


def cell_rows(cells: list[dict[str, Any]], symbols: list[str], days: list[date]) -> list[list[Any]]:
    si = {s: i for i, s in enumerate(symbols)}
    di = {d: i for i, d in enumerate(days)}
    return [[si[c["symbol"]], di[c["day"]], SOURCES.index(c["source"]), _ratio(c["coverage"]),
             c["derived_bars"], c["archived_bars"], c["poll_bars"], c["gap_count"], _num(c["gap_seconds"]),
             _num(c["longest_gap"]), c["inner_gaps"], c["missed_polls"], c["archived_gaps"], c["session_minutes"]]
            for c in cells if c["symbol"] in si and c["day"] in di]


def gap_rows(gaps: list[dict[str, Any]], symbols: list[str], days: list[date]) -> tuple[list[list[Any]], list[str]]:
    si = {s: i for i, s in enumerate(symbols)}
    di = {d: i for i, d in enumerate(days)}
    reasons: dict[str, int] = {}
    out = []
    for g in gaps[: queries.MAX_GAPS]:
        feed = g["scope"] == "feed"  # symbol '*': drawn on the feed's row (-1)
        if not feed and g["symbol"] not in si:
            continue
        code = reasons.setdefault(g["reason"], len(reasons))
        out.append([di[g["day"]], -1 if feed else si[g["symbol"]], SCOPES.index(g["scope"]),
                    ORIGINS.index(g["origin"]), code, _ts(g["gap_start_ts"]), _ts(g["gap_end_ts"]),
                    _num(g["gap_seconds"])])
    return out, list(reasons)


def candles(conn: psycopg.Connection[Any], day: date, symbols: list[str]) -> dict[str, Any]:
    """Bars of ``day`` per symbol: m (derived 1m), a (archived 1m), t (derived 10m), ta (archived 10m)."""
    by: dict[str, dict[str, list[list[Any]]]] = {}
    for b in queries.bars(conn, "bars_1m", day, symbols):
        key = "m" if b["origin"] == "derived" else "a"
        by.setdefault(b["symbol"], {}).setdefault(key, []).append(
            [_ts(b["bar_time"]), b["open"], b["high"], b["low"], b["close"], b["volume"], b["tick_count"],
             _ratio(b["coverage_ratio"]), b["quality_flag"]])
    for b in queries.bars(conn, "bars_10m", day, symbols):
        key = "ta" if b["origin"] == "archived" else "t"
        by.setdefault(b["symbol"], {}).setdefault(key, []).append(
            [_ts(b["bar_time"]), b["open"], b["high"], b["low"], b["close"], b["volume"], b["bar_count"],
             _ratio(b["coverage_ratio"]), b["quality_flag"], b["origin"]])
    ranked = sorted(by, key=lambda s: (-len(by[s].get("m", [])), -len(by[s].get("t", [])), s))
    return {"day": day, "symbols": {s: by[s] for s in sorted(by)}, "default": ranked[0] if ranked else None}


def run_rows(runs: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["run_id"], r["kind"], r["status"], _ts(r["started_at"]), _ts(r["finished_at"]), _num(r["seconds"]),
             _num(r["rows"]), _num(r["rejected"]), _num(r["files"]), _num(r["duplicates"])] for r in runs]


def reject_rows(rejects: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["field"], r["kind"], r["count"], r["path"], r["line_no"], r["reason"],
             bytes(r["raw_line"]).decode("utf-8", "backslashreplace"), r["raw_bytes"]] for r in rejects]


def portfolio_block(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    accounts: dict[str, dict[str, Any]] = {}
    for r in rows:
        acct = accounts.setdefault(r["account_id"], {
            "account": r["account_id"], "time": _ts(r["snapshot_time"]), "policy": r["policy_id"],
            "cash": _num(r["cash"]), "total": _num(r["total_value"]), "currency": r["currency"],
            "cash_weight": _num(r["cash_weight"]), "rows": []})
        if r["symbol"] is not None:
            acct["rows"].append([r["symbol"], _num(r["weight"]), _num(r["target"]), _num(r["quantity"]),
                                 _num(r["market_value"])])
    return {"accounts": list(accounts.values())}


Rows = list[dict[str, Any]]


def payload(*, meta: dict[str, Any], sessions: queries.Sessions, symbols: list[str], cells: Rows, feed: Rows,
            gaps: Rows, candles: dict[str, Any] | None, runs: Rows, rejects: Rows, portfolio: Rows) -> dict[str, Any]:
    days = sessions.days
    di = {d: i for i, d in enumerate(days)}
    gap_list, reasons = gap_rows(gaps, symbols, days)
    return {
        "meta": {**meta, "gaps_cut": len(gaps) > queries.MAX_GAPS},
        "days": days,
        "sessions": [[_ts(o), _ts(c)] for o, c in zip(sessions.opens, sessions.closes, strict=True)],
        "symbols": symbols,
        "cells": cell_rows(cells, symbols, days),
        "feed": [[di[f["day"]], _ratio(f["coverage"]), f["derived_gaps"], f["archived_gaps"], _num(f["gap_seconds"])]
                 for f in feed if f["day"] in di],
        "gaps": gap_list, "reasons": reasons,
        "candles": candles,
        "runs": run_rows(runs),
        "rejects": reject_rows(rejects),
        "portfolio": portfolio_block(portfolio),
    }
