"""The ``obsdb`` command. Thin: parse arguments, call :mod:`obsdb.api`, show the result."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import psycopg
import typer
from rich.markup import escape

from obsdb import __version__, api, ui
from obsdb.config import load_settings
from obsdb.db import citus
from obsdb.db import connect as dbc
from obsdb.derive.common import DeriveSettings
from obsdb.errors import ObsdbError, engine_refused, statement_failed
from obsdb.load.report import RunReport
from obsdb.portfolio.cli import app as portfolio_app

EXIT_STRICT_REJECTS = 1
EXIT_FILE_ERRORS = 5

app = typer.Typer(
    help="Load the Observer's KRX market-data archives into PostgreSQL, exactly once, and explain it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database obsdb talks to (embedded by default).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(portfolio_app, name="portfolio")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


@app.command()
def init(
    plan: Annotated[bool, typer.Option("--plan", help="Print the pending SQL and change nothing.")] = False,
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="Citus: create the citus extension if needed and distribute the tables, "
                              "converting tables that already hold rows.")] = False,
    json: JsonOpt = False,
) -> None:
    """Create or upgrade the schema. Safe to re-run: applied migrations are skipped."""
    result = api.init(plan_only=plan, distributed=distributed)
    pending = result.plan.pending if plan else ()
    layout = result.layout
    if json:
        ui.print_json({
            "database": result.database,
            "schema_version": result.plan.current_version,
            "applied": [{"version": a.version, "name": a.name, "duration_ms": a.duration_ms} for a in result.applied],
            "pending": [{"version": p.version, "name": p.name, "file": p.filename, "sql": p.sql} for p in pending],
            "planned_only": plan,
            **({"layout": layout.to_dict()} if layout is not None else {}),
        })
        return
    if plan:
        if not pending:
            ui.err.print(f"Schema is up to date (version {result.plan.current_version}); nothing to apply.")
        for m in pending:
            sys.stdout.write(f"-- ===== {m.filename} (checksum {m.checksum[:12]}) =====\n{m.sql}\n")
        if pending:
            ui.err.print(f"{len(pending)} migration(s) pending; nothing was changed (--plan).")
        _print_layout(layout, planned=True)
        return
    for done in result.applied:
        ui.out.print(f"applied {done.version:03d}_{done.name} in {done.duration_ms} ms")
    if result.applied:
        ui.out.print(f"Schema is at version {result.plan.current_version} on {escape(result.database)}.")
    else:
        ui.out.print(f"Schema already at version {result.plan.current_version}; nothing to do.")
    _print_layout(layout, planned=False)


def _print_layout(layout: citus.Layout | None, *, planned: bool) -> None:
    """The Citus layout step, in sentences (nothing on plain PostgreSQL)."""
    if layout is None:
        return
    pending = any(p.pending for p in layout.placements)
    head = f"Citus {layout.citus_version}: "
    if not pending:
        kinds = [p.wanted for p in layout.placements]
        ui.err.print(head + f"tables already laid out ({kinds.count('distributed')} distributed by symbol, "
                     f"{kinds.count('reference')} reference, {kinds.count('local')} local).")
        return
    if layout.applied:
        ui.out.print(head + "; ".join(layout.describe()) + ".")
        return
    ui.err.print(head + "; ".join(layout.describe()) + ".")
    if layout.holding_rows and not planned:
        ui.err.print("[yellow]Not converted: " + ", ".join(layout.holding_rows) + " already hold rows. "
                     "Run `obsdb init --distributed` to convert them (create_distributed_table copies "
                     "the rows to the shards).[/yellow]")
    elif planned:
        ui.err.print("Nothing was changed (--plan).")


@app.command()
def status(
    json: JsonOpt = False,
    exact: Annotated[bool, typer.Option("--exact", help="Count every row even in huge tables.")] = False,
) -> None:
    """What the database holds, table by table, and where it came from."""
    report = api.status(exact=exact)
    if json:
        ui.print_json(report.to_dict())
        return
    ui.out.print(ui.status_table(report))
    version = report.schema_version if report.schema_version is not None else "none (run `obsdb init`)"
    ui.out.print(f"PostgreSQL {report.server_version}, schema version {version}")
    if report.citus is not None:
        nodes = ", ".join(f"{n['role']} {n['host']}:{n['port']}" + ("" if n["active"] else " (inactive)")
                          for n in report.citus.nodes)
        ui.out.print(f"Citus {report.citus.version}: {nodes or 'no nodes registered (citus_add_node)'}")
    if report.pending_migrations:
        ui.out.print(f"[yellow]pending migrations: {', '.join(report.pending_migrations)}[/yellow]")
    if report.sources is not None:
        s = report.sources
        ui.out.print(
            f"Sources: {s.files:,} file(s) under {s.paths:,} path(s); {s.lines:,} lines read, "
            f"{s.rows_loaded:,} rows loaded, {s.rejected:,} rejected; last load {ui.when(s.last_update)} KST"
        )


@app.command()
def migrate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or directories (default data/observer).")] = None,
    json: JsonOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse and validate, report, write nothing.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any line was rejected.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Load files in N processes (default: one per core, up to 4).")] = None,
    no_derive: Annotated[bool, typer.Option("--no-derive", help="Load only; derive later.")] = False,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep running: load and derive what is appended, until Ctrl-C or SIGTERM.")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", min=0.1, help="With --follow: seconds between polls.")] = 2.0,
) -> None:
    """Load archives exactly once: every line is loaded, a duplicate, rejected (with a reason) or skipped."""
    from obsdb.load.workers import default_workers
    from obsdb.progress import load_progress

    targets = paths or [Path("data/observer")]
    if follow:
        if dry_run:
            raise typer.BadParameter("--follow loads what is appended; it cannot be a --dry-run")
        _follow(targets, interval, json, derive_after=not no_derive)
        return
    with load_progress(json) as progress:
        report = api.migrate(targets, dry_run=dry_run, progress=progress, on_start=progress.start,
                             workers=workers or default_workers(), derive_after=not no_derive)
    if json:
        ui.print_json(report.to_dict())
    else:
        ui.print_load_report(report)
    raise typer.Exit(migrate_exit_code(report, strict))


def _follow(targets: list[Path], interval: float, json: bool, *, derive_after: bool) -> None:
    from obsdb.load.follow import stop_on_signals
    from obsdb.progress import follow_display

    with stop_on_signals() as stop, follow_display(json, targets) as on_poll:
        report = api.follow(targets, interval=interval, on_poll=on_poll, stop=stop, derive_after=derive_after)
    if json:
        ui.print_json({"stopped": True, **{k: v for k, v in report.to_dict().items() if k != "per_file"}})
    else:
        d = report.to_dict()
        ui.out.print(f"stopped: {d['lines_read']:,} lines read, {d['rows_loaded']:,} rows loaded, "
                     f"{d['rejected']:,} rejected while following")


def migrate_exit_code(report: RunReport, strict: bool) -> int:
    """0 ok; 1 with --strict when a line was rejected; 5 when a file could not be read at all."""
    if report.errors:
        return EXIT_FILE_ERRORS
    if strict and report.total("rejected"):
        return EXIT_STRICT_REJECTS
    return 0


@app.command()
def derive(
    json: JsonOpt = False,
    start: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], help="Rebuild from this KST date.")] = None,
    end: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="... to this KST date.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    reconcile: Annotated[bool, typer.Option("--reconcile", help="Report archived vs derived 1-minute bars.")] = False,
    feed_gap_seconds: Annotated[float, typer.Option(help="Silence of the whole feed that is a gap.")] = 10.0,
    symbol_gap_seconds: Annotated[float, typer.Option(help="Silence of one symbol that is a gap.")] = 60.0,
    sweep_gap_seconds: Annotated[float, typer.Option(help="Pause that separates two polling sweeps.")] = 120.0,
) -> None:
    """Bars, gaps and statistics for what changed since the last derive; or rebuild a range."""
    first, last = (start.date() if start else None), (end.date() if end else None)
    if reconcile:
        diffs = api.reconcile(start=first, end=last, symbol=symbol)
        if json:
            ui.print_json([d.__dict__ for d in diffs])
        else:
            ui.print_reconcile(diffs)
        return
    report = api.derive(start=first, end=last, symbol=symbol, derive_settings=DeriveSettings(
        feed_gap_seconds=feed_gap_seconds, symbol_gap_seconds=symbol_gap_seconds,
        sweep_gap_seconds=sweep_gap_seconds))
    if json:
        ui.print_json(report.to_dict())
    else:
        ui.print_derive_report(report.to_dict())


@app.command()
def rejects(
    json: JsonOpt = False,
    path: Annotated[str | None, typer.Option(help="Only files whose path contains this text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """List stored rejects: file, line, field, reason and the raw line."""
    items = api.rejects(path_contains=path, limit=limit)
    if json:
        ui.print_json([r.to_dict() for r in items])
    else:
        ui.print_rejects(items)


@app.command()
def report(
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path("report.html"),
    start: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First KST day.")] = None,
    end: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last KST day.")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", help="Only these symbols (repeat).")] = None,
    day: Annotated[datetime | None, typer.Option("--day", formats=["%Y-%m-%d"], help="Day of the candles.")] = None,
    json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML page: coverage, gaps, candles, loads and portfolio (opens offline)."""
    from obsdb.report import ReportOptions

    result = api.report(ReportOptions(output=output, start=start.date() if start else None,
                                      end=end.date() if end else None, symbols=tuple(symbol or ()),
                                      day=day.date() if day else None))
    if json:
        ui.print_json(result.to_dict())
        return
    for note in result.notes:
        ui.err.print(f"[yellow]{escape(note)}[/yellow]")
    ui.out.print(f"Wrote {escape(str(result.output.resolve()))} ({result.bytes / 1e6:.2f} MB, "
                 f"{result.counts['symbols']} symbols x {result.counts['trading_days']} trading days)")


@app.command()
def sample(
    path: Annotated[Path, typer.Argument(help="Where to write the archive.")] = Path("data/observer"),
    scale: Annotated[int, typer.Option(help="Multiply the number of ticks.")] = 1,
) -> None:
    """Write a small, realistic, deterministic sample archive covering every record shape."""
    from obsdb.sample import write_sample_archive

    manifest = write_sample_archive(path, scale=scale)
    total = sum(manifest.lines_by_shape.values())
    ui.out.print(f"Wrote {len(manifest.files)} files ({total:,} lines) under {path}")


@db_app.command("url")
def db_url() -> None:
    """Print the connection string (passwords are masked; never printed)."""
    target = dbc.resolve(load_settings())
    sys.stdout.write(target.display + "\n")
    if target.embedded is not None:
        ui.err.print("The embedded server runs while an obsdb process uses it: keep `obsdb db serve` running.")


@db_app.command("serve")
def db_serve() -> None:
    """Keep the database up in the foreground until Ctrl-C, for psql or a notebook."""
    target = dbc.resolve(load_settings())
    dbc.connect(target).close()  # creates the database if needed
    ui.out.print(f"Serving {target.display}\nPress Ctrl-C to stop.")
    try:
        signal.pause() if hasattr(signal, "pause") else input()
    except KeyboardInterrupt:
        ui.out.print("stopped")


@db_app.command("shell")
def db_shell() -> None:
    """Open psql (the one bundled with the embedded server) on the database."""
    from obsdb.db.embedded import bin_dir

    target = dbc.resolve(load_settings())
    dbc.connect(target).close()
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = target.password  # in the environment, never on a command line
    # A child, not exec: this process keeps the embedded server alive while psql runs.
    code = subprocess.call([str(bin_dir() / "psql"), target.conninfo_without_password], env=env)
    raise typer.Exit(code)


@app.command()
def retention(
    keep: Annotated[str, typer.Option(help="Keep this window: 180d (days) or 26w (weeks).")] = "180d",
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="Only these tables (repeat); default the raw ones: scalp_ticks, swing_snapshots.")] = None,
    archive: Annotated[Path | None, typer.Option(help="First write each partition here (JSONL .zst).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen; change nothing.")] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Drop without an archive.")] = False,
    reload_retired: Annotated[bool, typer.Option(
        "--reload-retired", help="Let migrate load the tables' retired ranges again.")] = False,
    json: JsonOpt = False,
) -> None:
    """Retire whole time partitions older than the window (archived first with --archive)."""
    from obsdb.retention import Options, parse_keep
    from obsdb.retention.run import check_tables
    from obsdb.retention.view import print_report, row_progress

    options = Options(keep_days=parse_keep(keep), tables=check_tables(table or ()), archive=archive,
                      drop=drop, dry_run=dry_run)
    with row_progress(not json and not dry_run and archive is not None) as on_rows:
        result = api.retention(options, reload_retired=reload_retired, on_rows=on_rows)
    if json:
        ui.print_json(result.to_dict())
    else:
        print_report(result.to_dict())


@app.command()
def version() -> None:
    """Print obsdb's version."""
    ui.out.print(__version__)


def _fail(exc: ObsdbError) -> NoReturn:
    ui.err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
    sys.exit(exc.exit_code)


def _not_a_cleanup_error(record: logging.LogRecord) -> bool:
    """A connection lost mid-statement makes psycopg log the errors of its own cleanup ("error
    ignored terminating <Copy>", "error ignored in rollback of <Transaction>") on its way out. The
    error itself is reported once by main(), so those lines would only be more, cryptic messages."""
    return not record.getMessage().startswith("error ignored ")


def _quiet_psycopg_cleanup() -> None:
    """Filter every psycopg logger, not only "psycopg": a logger's filter does not see what its
    children log (the rollback warning comes from "psycopg.transaction"). All are imported by now."""
    for name in list(logging.root.manager.loggerDict):
        if name == "psycopg" or name.startswith("psycopg."):
            logging.getLogger(name).addFilter(_not_a_cleanup_error)


def main() -> None:
    """Entry point: expected failures print one clear message and no traceback."""
    _quiet_psycopg_cleanup()
    try:
        app()  # standalone: Typer prints usage errors and turns typer.Exit into the exit code
    except ObsdbError as exc:
        _fail(exc)
    except psycopg.Error as exc:  # a statement the engine refuses (Citus): explained, no traceback
        refused = engine_refused(exc) or statement_failed(exc)
        if refused is None:
            raise
        _fail(refused)
    except KeyboardInterrupt:
        ui.err.print("interrupted")
        sys.exit(130)
