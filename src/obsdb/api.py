"""The library behind each command, usable from Python without the CLI.

>>> from obsdb import api
>>> api.init()                 # create or upgrade the schema
>>> report = api.status()      # what the database holds
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from obsdb.config import Settings, load_settings
from obsdb.db import citus, queries, schema
from obsdb.db import connect as dbc
from obsdb.db.runs import ensure_schema
from obsdb.derive.bars import BarDiff
from obsdb.derive.bars import reconcile as bar_reconcile
from obsdb.derive.common import DeriveSettings
from obsdb.derive.run import DeriveReport
from obsdb.derive.run import derive as run_derive
from obsdb.errors import MissingDatabase
from obsdb.load.report import RunReport

if TYPE_CHECKING:  # imported where used: `derive` or `status` need not load them (start-up time)
    from obsdb.load.follow import OnPoll
    from obsdb.load.pipeline import Progress
    from obsdb.load.run import Start
    from obsdb.portfolio import plan as pf_plan
    from obsdb.portfolio import valuation as pf_valuation
    from obsdb.report.build import ReportOptions, ReportResult
    from obsdb.retention import run as retention_run
    from obsdb.status import StatusReport


@contextmanager
def connection(
    settings: Settings | None = None, *, autocommit: bool = False, create_missing: bool = True
) -> Iterator[tuple[dbc.Target, psycopg.Connection[Any]]]:
    """Resolve the target database and hold a connection; driver errors become advice."""
    target = dbc.resolve(settings or load_settings())
    conn = dbc.connect(target, autocommit=autocommit, create_missing=create_missing)
    try:
        with conn:
            yield target, conn
    except psycopg.OperationalError as exc:
        # connection lost (08) or server shut down (57P..): unavailable; anything else the server
        # answered (a deadlock, a cancelled statement) is reported as it is
        if exc.sqlstate and not exc.sqlstate.startswith(("08", "57P")):
            raise
        raise dbc.unavailable(target, exc) from None


@dataclass(frozen=True)
class InitResult:
    """What ``init`` found and did."""

    database: str
    plan: schema.Plan
    applied: tuple[schema.AppliedMigration, ...]
    #: the Citus layout step (None on plain PostgreSQL)
    layout: citus.Layout | None = None


def init(*, plan_only: bool = False, distributed: bool = False, settings: Settings | None = None) -> InitResult:
    """Apply pending migrations (or, with ``plan_only``, only report them and change nothing), then
    lay the tables out for Citus when the database has the citus extension (``distributed``: create
    it, and convert tables that already hold rows)."""
    settings = settings or load_settings()
    if plan_only:
        target = dbc.resolve(settings)
        try:
            conn = dbc.connect(target, create_missing=False)
        except MissingDatabase:  # nothing there yet: everything is pending, and we create nothing
            return InitResult(target.display, schema.Plan((), schema.available()), ())
        with conn:
            layout = citus.init_layout(conn, distributed=distributed, plan_only=True)
            return InitResult(target.display, schema.plan(conn), (), layout)
    with connection(settings, autocommit=True) as (target, conn):
        if distributed:
            citus.ensure_extension(conn)
        applied = schema.upgrade(conn)
        layout = citus.init_layout(conn, distributed=distributed, plan_only=False)
        return InitResult(target.display, schema.plan(conn), applied, layout)


def status(*, exact: bool = False, settings: Settings | None = None) -> StatusReport:
    """What the database holds, table by table, and where it came from."""
    from obsdb.status import collect

    with connection(settings) as (target, conn):
        return collect(conn, display=target.display, exact=exact)


def migrate(
    paths: Sequence[Path] = (Path("data/observer"),),
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int = 1,
    derive_after: bool = True,
) -> RunReport:
    """Load archives exactly once. With ``dry_run`` parse and validate only, and write nothing.
    ``workers`` > 1 loads files in that many processes. Then derive what the load touched, unless
    ``derive_after`` is False."""
    from obsdb.load.run import load_paths

    arguments = {"paths": [str(p) for p in paths], "dry_run": dry_run, "workers": workers}
    with connection(settings, autocommit=True) as (target, conn):
        if dry_run:
            usable = conn if schema.plan(conn).current_version is not None else None
            return load_paths(usable, paths, dry_run=True, progress=progress, on_start=on_start,
                              arguments=arguments, workers=workers, conninfo=target.conninfo)
        ensure_schema(conn)
        report = load_paths(conn, paths, progress=progress, on_start=on_start, arguments=arguments,
                            workers=workers, conninfo=target.conninfo)
        if derive_after:
            report.derive = run_derive(conn, conninfo=target.conninfo).to_dict()
        return report


def follow(
    paths: Sequence[Path] = (Path("data/observer"),),
    *,
    interval: float = 2.0,
    on_poll: OnPoll,
    stop: threading.Event | None = None,
    settings: Settings | None = None,
    derive_after: bool = True,
    max_polls: int | None = None,
) -> RunReport:
    """Keep loading (and deriving) what is appended under ``paths``, every ``interval`` seconds, until
    ``stop`` is set (the CLI sets it on SIGTERM or Ctrl-C) or after ``max_polls`` polls."""
    from obsdb.load.follow import follow as run_follow

    with connection(settings, autocommit=True) as (_, conn):
        ensure_schema(conn)
        return run_follow(conn, paths, interval=interval, stop=stop or threading.Event(), on_poll=on_poll,
                          derive_after=derive_after, max_polls=max_polls)


def derive(*, start: date | None = None, end: date | None = None, symbol: str | None = None,
           derive_settings: DeriveSettings | None = None, settings: Settings | None = None) -> DeriveReport:
    """Recompute bars, gaps and statistics for what changed since the last derive (or rebuild a range)."""
    with connection(settings, autocommit=True) as (target, conn):
        ensure_schema(conn)
        return run_derive(conn, start=start, end=end, symbol=symbol, settings=derive_settings,
                          conninfo=target.conninfo)


def reconcile(*, start: date | None = None, end: date | None = None, symbol: str | None = None,
              settings: Settings | None = None) -> list[BarDiff]:
    """Where archived 1-minute bars and derived ones differ, field by field."""
    with connection(settings) as (_, conn):
        return bar_reconcile(conn, start=start, end=end, symbol=symbol)


@dataclass(frozen=True)
class RejectRecord:
    """A stored reject: where the line was, why it was refused, and the line itself."""

    path: str
    line_no: int
    field: str | None
    reason: str
    raw_line: bytes
    rejected_at: Any
    file_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line_no": self.line_no, "field": self.field, "reason": self.reason,
                "raw_line": self.raw_line.decode("utf-8", "backslashreplace"), "rejected_at": self.rejected_at,
                "file_id": self.file_id}


def rejects(*, path_contains: str | None = None, limit: int = 50,
            settings: Settings | None = None) -> list[RejectRecord]:
    """Stored rejects, newest first."""
    pattern = None if path_contains is None else "%" + path_contains.replace("%", r"\%").replace("_", r"\_") + "%"
    with connection(settings) as (_, conn):
        if schema.plan(conn).current_version is None:
            return []
        rows = conn.execute(queries.REJECTS_LIST, {"path": pattern, "limit": limit}).fetchall()
    return [RejectRecord(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]


def report(options: ReportOptions | None = None, *, settings: Settings | None = None) -> ReportResult:
    """Write the self-contained HTML report (coverage, gaps, candles, loads, portfolio); read-only."""
    from obsdb.report.build import ReportError, ReportOptions, build_report

    with connection(settings, create_missing=False) as (target, conn):
        conn.read_only = True  # the report only reads; a bug here can never write
        if schema.plan(conn).current_version is None:
            raise ReportError(f"{target.display} has no obsdb schema yet: run `obsdb migrate` (or `obsdb init`) first.")
        return build_report(conn, options or ReportOptions(), database=target.display)


def retention(options: retention_run.Options, *, reload_retired: bool = False,
              on_rows: Callable[[int], None] | None = None,
              settings: Settings | None = None) -> retention_run.RetentionReport:
    """Retire time partitions older than the window (docs/retention.md); or, with ``reload_retired``,
    mark the tables' retired ranges loadable again. ``dry_run`` changes nothing."""
    from obsdb.retention import run as retention_run

    with connection(settings, autocommit=True, create_missing=False) as (target, conn):
        pending = schema.plan(conn).pending
        if pending and (options.dry_run or schema.plan(conn).current_version is None):
            raise retention_run.RetentionError(
                f"{target.display} is not at the current obsdb schema: run `obsdb init` first.")
        if pending:
            ensure_schema(conn)
        if reload_retired:
            report = retention_run.RetentionReport(options.keep_days, None, options.dry_run)
            report.released = retention_run.release(conn, options.tables, dry_run=options.dry_run)
            return report
        return retention_run.retire(conn, options, on_rows)


def _portfolio_ready(conn: psycopg.Connection[Any], display: str) -> None:
    """The portfolio questions need migration 010; say how to get it instead of an SQL error."""
    from obsdb.portfolio.common import PortfolioError

    if any(m.version <= 10 for m in schema.plan(conn).pending):
        raise PortfolioError(f"{display} is not at the current obsdb schema: run `obsdb init` first.")


def portfolio_status(*, account: str | None = None, at: datetime | None = None,
                     settings: Settings | None = None) -> pf_valuation.Valuation:
    """The account's snapshot in force at ``at`` (default now) valued, weighed and checked (docs/portfolio.md)."""
    from obsdb.portfolio import valuation as pf_valuation

    with connection(settings, create_missing=False) as (target, conn):
        _portfolio_ready(conn, target.display)
        return pf_valuation.value(conn, account, at or datetime.now(UTC))


def portfolio_plan(*, account: str | None = None, at: datetime | None = None, write: bool = False,
                   settings: Settings | None = None) -> pf_plan.Plan:
    """The rebalance orders for the account at ``at``; ``write`` stores them (idempotent)."""
    from obsdb.portfolio import plan as pf_plan
    from obsdb.portfolio import valuation as pf_valuation

    when = at or datetime.now(UTC)
    with connection(settings, create_missing=False) as (target, conn):
        _portfolio_ready(conn, target.display)
        plan = pf_plan.propose(pf_valuation.value(conn, account, when))
        return pf_plan.write(conn, plan, when) if write else plan


def portfolio_executions(*, plan: str | None = None, account: str | None = None,
                         settings: Settings | None = None) -> dict[str, Any]:
    """Fills, implied status and slippage per order of ``plan`` (default: the latest plan)."""
    from obsdb.portfolio import executions as pf_executions

    with connection(settings, create_missing=False) as (target, conn):
        _portfolio_ready(conn, target.display)
        return pf_executions.execution_quality(conn, plan, account)
