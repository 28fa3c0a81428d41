"""``obsdb portfolio status|plan|executions``: a thin layer over ``obsdb.api``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from obsdb import api, ui

app = typer.Typer(help="Portfolio: valuation and drift, rebalance plans, execution quality.",
                  no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
AccountOpt = Annotated[str | None, typer.Option("--account", help="Account id (default: the only one).")]
AtOpt = Annotated[datetime | None, typer.Option(
    "--at", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z"],
    help="The time to look at, with its offset, e.g. 2026-02-02T14:00+09:00 (default: now).")]


def _cell(value: Any) -> str:
    return "-" if value is None else escape(str(value))


@app.command()
def status(account: AccountOpt = None, at: AtOpt = None, json: JsonOpt = False) -> None:
    """Positions at trustworthy prices, weights against targets, and policy breaches."""
    doc = api.portfolio_status(account=account, at=at).to_dict()
    if json:
        ui.print_json(doc)
        return
    table = Table(title=f"{escape(doc['account_id'])} at {ui.when(datetime.fromisoformat(doc['at']))} KST")
    for col in ("symbol", "quantity", "price", "source", "market value", "weight", "target", "drift"):
        table.add_column(col, justify="left" if col in ("symbol", "source") else "right")
    for p in doc["positions"]:
        source = f"{p['price_source']} (stale)" if p["stale"] else p["price_source"]
        table.add_row(*(_cell(v) for v in (p["symbol"], p["quantity"], p["price"], source, p["market_value"],
                                          p["weight"], p["target_weight"], p["drift"])))
    ui.out.print(table)
    ui.out.print(f"cash {doc['cash']} ({doc['cash_weight']}), total value {doc['total_value']} KRW; "
                 f"snapshot {ui.when(datetime.fromisoformat(doc['snapshot_time']))} KST")
    for b in doc["breaches"]:
        ui.out.print(f"[yellow]breach {b['kind']} {_cell(b['symbol'])}: {b['value']} vs limit {b['limit']}[/yellow]")
    if not doc["breaches"]:
        ui.out.print("no breaches")


@app.command()
def plan(account: AccountOpt = None, at: AtOpt = None,
         write: Annotated[bool, typer.Option("--write", help="Store the plan and its orders.")] = False,
         json: JsonOpt = False) -> None:
    """Propose the orders that bring the portfolio back within its policy (nothing is sent)."""
    doc = api.portfolio_plan(account=account, at=at, write=write).to_dict()
    if json:
        ui.print_json(doc)
        return
    table = Table(title=f"plan {escape(doc['plan_id'])}")
    for col in ("side", "symbol", "quantity", "limit price", "value", "target"):
        table.add_column(col, justify="right" if col not in ("side", "symbol") else "left")
    for o in doc["orders"]:
        table.add_row(*(_cell(v) for v in (o["side"], o["symbol"], o["quantity"], o["limit_price"], o["value"],
                                          o["target_weight"])))
    ui.out.print(table)
    for n in doc["not_done"]:
        ui.out.print(f"[yellow]not done ({n['reason']}): {_cell(n['side'])} {_cell(n['symbol'])} "
                     f"{n['planned_quantity']} of {n['wanted_quantity']}[/yellow]")
    ui.out.print(f"turnover {doc['turnover']}, cash after {doc['cash_after']} KRW")
    if write:
        ui.out.print("written" if doc["created"] else "already written (same inputs): nothing new")


@app.command()
def executions(plan: Annotated[str | None, typer.Option("--plan", help="Plan id (default: the latest).")] = None,
               json: JsonOpt = False) -> None:
    """Per order: filled quantity, fill ratio, average price, fees, implied status, slippage (bp)."""
    doc = api.portfolio_executions(plan=plan)
    if json:
        ui.print_json(doc)
        return
    table = Table(title=f"plan {escape(doc['plan_id'])}")
    cols = ("order_id", "side", "symbol", "quantity", "filled_quantity", "fill_ratio", "avg_fill_price", "fees",
            "implied_status", "arrival_price", "slippage_arrival_bp", "slippage_vwap_bp")
    for col in cols:
        table.add_column(col.replace("_", " "))
    for o in doc["orders"]:
        table.add_row(*(_cell(o[c]) for c in cols))
    ui.out.print(table)
