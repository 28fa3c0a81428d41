"""obsdb's table layout on a Citus cluster: which tables are distributed, reference or local.

Market tables are distributed by ``symbol`` and co-located with ``scalp_ticks`` (every key of them
holds symbol, so dedup and derive stay on the workers). The small tables are reference tables: the
portfolio family must be, since ``rebalance_orders``' key has no symbol and FKs chain the family.
obsdb's bookkeeping (``obsdb_*``) stays local on the coordinator, so the ledger commits with the
rows it describes in one (two-phase) transaction. A database without the citus extension is never
touched by this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from obsdb.db import queries as q
from obsdb.errors import ObsdbError

ANCHOR = "scalp_ticks"
#: Distributed by symbol, co-located with the anchor (the anchor first).
DISTRIBUTED: tuple[str, ...] = (
    ANCHOR, "scalp_1m_bars", "scalp_gaps", "swing_snapshots", "swing_bars_10m", "analysis_rolling_stats",
    "analysis_signal_events", "analysis_signal_outcomes", "analysis_threshold_candidates",
)
#: The loader's staging tables for the bulk market tables: UNLOGGED, distributed and co-located like
#: their target, so a batch's COPY goes straight to the workers and its dedup ``INSERT .. SELECT ..
#: ON CONFLICT`` runs there, shard by shard (a TEMP table would funnel every row through the
#: coordinator once more). The small analysis inputs keep a TEMP stage.
STAGED: tuple[str, ...] = ("scalp_ticks", "swing_snapshots", "scalp_gaps", "scalp_1m_bars", "swing_bars_10m")


def stage_of(table: str) -> str:
    """The name of ``table``'s distributed staging table."""
    return f"obsdb_stage_{table}"


#: stage -> its target
STAGE_TARGETS: dict[str, str] = {stage_of(t): t for t in STAGED}
STAGES: tuple[str, ...] = tuple(STAGE_TARGETS)
#: Full copies on every node: symbol lists and the portfolio family (one transaction: FKs chain them).
REFERENCE: tuple[str, ...] = (
    "symbol_universe_lists", "symbol_universe", "portfolio_policy", "target_weights", "portfolio_snapshot",
    "portfolio_positions", "rebalance_plan", "rebalance_orders", "rebalance_execution",
)
#: obsdb's bookkeeping: local on the coordinator.
LOCAL: tuple[str, ...] = (
    "obsdb_schema_history", "obsdb_ingest_files", "obsdb_ingest_paths", "obsdb_load_runs", "obsdb_rejects",
    "obsdb_derive_dirty", "obsdb_retired",
)


class CitusUnavailable(ObsdbError):
    """``--distributed`` was asked for on a server that cannot run Citus."""

    exit_code = 2


class LayoutError(ObsdbError):
    """The layout step failed (rolled back): e.g. no worker registered."""

    exit_code = 4


@cache
def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/db/sql/<name>.sql`` (our own package file, not input)."""
    text = resources.files("obsdb.db").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text


@dataclass(frozen=True)
class Placement:
    """One table: how Citus holds it now and how obsdb's layout wants it."""

    table: str
    wanted: str  # distributed | reference | local
    current: str | None  # distributed | reference | local (citus local) | None: plain or not created yet
    shards: int | None = None
    colocation_id: int | None = None

    @property
    def pending(self) -> bool:
        return self.wanted != "local" and self.current != self.wanted


@dataclass(frozen=True)
class Node:
    host: str
    port: int
    role: str  # coordinator | worker
    active: bool


@dataclass
class Layout:
    """The layout step of ``obsdb init`` on Citus: what is, what will be, and what was done."""

    citus_version: str
    placements: list[Placement]
    nodes: list[Node] = field(default_factory=list)
    #: tables that would be converted but hold rows: only ``--distributed`` converts them
    holding_rows: list[str] = field(default_factory=list)
    applied: bool = False

    def names(self, wanted: str, *, pending: bool) -> list[str]:
        return [p.table for p in self.placements if p.wanted == wanted and p.pending == pending]

    def to_dict(self) -> dict[str, Any]:
        return {
            "citus_version": self.citus_version,
            "applied": self.applied,
            "will_distribute": self.names("distributed", pending=True),
            "will_reference": self.names("reference", pending=True),
            "distributed": self.names("distributed", pending=False),
            "reference": self.names("reference", pending=False),
            "local": [p.table for p in self.placements if p.wanted == "local"],
            "colocated_with": ANCHOR,
            "holding_rows": self.holding_rows,
            "nodes": [{"host": n.host, "port": n.port, "role": n.role, "active": n.active} for n in self.nodes],
        }

    def describe(self) -> list[str]:
        """Plain sentences for ``init`` and ``init --plan`` (past tense once applied)."""
        will, make, keeps = ("distributed", "made", "kept") if self.applied else ("will distribute", "will make",
                                                                                  "keeps")
        lines = []
        todo = self.names("distributed", pending=True)
        if market := [t for t in todo if t not in STAGES]:
            lines.append(f"{will} {', '.join(market)} by symbol (co-located with {ANCHOR})")
        if staging := [t for t in todo if t in STAGES]:
            lines.append(f"{will} the loader's staging tables {', '.join(staging)} the same way (UNLOGGED)")
        if todo := self.names("reference", pending=True):
            lines.append(f"{make} {', '.join(todo)} reference tables")
        local = ", ".join(p.table for p in self.placements if p.wanted == "local")
        lines.append(f"{keeps} {local} local on the coordinator")
        return lines


def extension(conn: psycopg.Connection[Any]) -> tuple[str | None, str | None]:
    """(installed version, available version) of the citus extension."""
    row = conn.execute(load_sql("citus_extension")).fetchone()
    return (row[0], row[1]) if row else (None, None)


def installed(conn: psycopg.Connection[Any]) -> str | None:
    """The citus extension's version in this database, or None on plain PostgreSQL."""
    row = conn.execute(load_sql("citus_installed")).fetchone()
    return str(row[0]) if row else None


_NOT_PRELOADED = ("this server does not load it: add 'citus' to shared_preload_libraries in postgresql.conf "
                  "and restart the server")


def _unavailable(reason: str) -> CitusUnavailable:
    return CitusUnavailable(f"--distributed needs Citus, but {reason} (see the README section 'Citus').")


def ensure_extension(conn: psycopg.Connection[Any]) -> str:
    """``init --distributed``: CREATE EXTENSION citus if the server can run it, else say why not.
    ``conn`` is in autocommit mode."""
    version, available = extension(conn)
    if version:
        return version
    if not available:
        raise _unavailable("this server has no citus extension installed")
    try:
        conn.execute("CREATE EXTENSION citus")
    except psycopg.Error as exc:
        text = (exc.diag.message_primary or str(exc)).strip()
        if "shared_preload_libraries" in text:
            raise _unavailable(_NOT_PRELOADED) from None
        raise _unavailable(f"CREATE EXTENSION citus failed: {text}") from None
    return installed(conn) or "?"


def nodes(conn: psycopg.Connection[Any]) -> list[Node]:
    return [Node(str(h), int(p), str(r), bool(a)) for h, p, r, a in conn.execute(load_sql("citus_nodes"))]


def placements(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, int | None, int | None]]:
    """table -> (Citus kind, shard count, co-location id) for the tables Citus knows."""
    names = list(DISTRIBUTED + STAGES + REFERENCE + LOCAL)
    rows = conn.execute(load_sql("citus_placement"), {"tables": names}).fetchall()
    return {str(r[0]): (str(r[1]), r[4], r[3]) for r in rows}


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(q.TABLE_EXISTS, (table,)).fetchone()
    return bool(row and row[0])


def _has_rows(conn: psycopg.Connection[Any], table: str) -> bool:
    query = sql.SQL(load_sql("citus_has_rows")).format(table=sql.Identifier(table))
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def _wanted() -> list[tuple[str, str]]:
    """Every table of the layout and its kind: the market tables first, then their stages."""
    kinds = [(t, "distributed") for t in DISTRIBUTED + STAGES] + [(t, "reference") for t in REFERENCE]
    return kinds + [(t, "local") for t in LOCAL]


def stages(conn: psycopg.Connection[Any]) -> set[str]:
    """The tables whose distributed staging table exists (empty on plain PostgreSQL, and on a
    Citus database laid out before there were stages: ``obsdb init`` adds them)."""
    if installed(conn) is None:
        return set()
    known = placements(conn)
    return {t for t in STAGED if known.get(stage_of(t), ("",))[0] == "distributed"}


def layout(conn: psycopg.Connection[Any], version: str) -> Layout:
    """Where every obsdb table is and should be. Reads only."""
    known = placements(conn)
    result = Layout(version, [], nodes(conn))
    for table, kind in _wanted():
        current, shards, colocation = known.get(table, (None, None, None))
        placement = Placement(table, kind, current, shards, colocation)
        result.placements.append(placement)
        if placement.pending and _exists(conn, table) and _has_rows(conn, table):
            result.holding_rows.append(table)
    return result


def apply(conn: psycopg.Connection[Any], plan: Layout) -> None:
    """Convert the pending tables, in one transaction (a whole FK family at once). Idempotent:
    tables already laid out are skipped. ``conn`` is in autocommit mode."""
    todo = [p for p in plan.placements if p.pending]
    if not todo:
        return
    try:
        with conn.transaction():
            _convert(conn, todo, plan.holding_rows)
    except psycopg.Error as exc:
        text = (exc.diag.message_primary or str(exc)).strip()
        raise LayoutError(f"the Citus layout step failed and was rolled back (no table was converted): {text}. "
                          "Check that the workers are registered on the coordinator (citus_get_active_worker_nodes()) "
                          "and see the README section 'Citus'.") from None
    plan.applied = True


def _convert(conn: psycopg.Connection[Any], todo: list[Placement], holding_rows: list[str]) -> None:
    # One connection per node for the copies: a parallel multi-shard write followed by the
    # coordinator-local writes of the same transaction is refused otherwise (citus #6729).
    conn.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    for p in todo:
        if p.table in STAGES:  # made here, not by a migration: plain PostgreSQL has no use for them
            _create_stage(conn, p.table, STAGE_TARGETS[p.table])
        if p.wanted == "distributed":
            anchor = None if p.table == ANCHOR else ANCHOR
            conn.execute(load_sql("citus_distribute"), {"table": p.table, "colocate_with": anchor})
    for p in todo:
        if p.wanted == "reference":
            conn.execute(load_sql("citus_reference"), {"table": p.table})
    for table in holding_rows:
        conn.execute(load_sql("citus_truncate_local"), {"table": table})


def _create_stage(conn: psycopg.Connection[Any], stage: str, target: str) -> None:
    conn.execute(sql.SQL(load_sql("citus_stage_create")).format(
        stage=sql.Identifier(stage), target=sql.Identifier(target)))
    for (column,) in conn.execute(load_sql("citus_stage_not_null"), {"stage": stage}).fetchall():
        conn.execute(sql.SQL(load_sql("citus_stage_nullable")).format(
            stage=sql.Identifier(stage), column=sql.Identifier(column)))


def planned_extension(conn: psycopg.Connection[Any]) -> Layout:
    """``init --plan --distributed`` on a database without citus yet: everything is pending."""
    available = extension(conn)[1]
    if not available:
        raise _unavailable("this server has no citus extension installed")
    row = conn.execute(load_sql("citus_preload")).fetchone()
    if row and row[0] is not None and "citus" not in str(row[0]).replace(" ", "").split(","):
        raise _unavailable(_NOT_PRELOADED)
    return Layout(f"{available} (CREATE EXTENSION citus pending)", [Placement(t, k, None) for t, k in _wanted()])


def init_layout(conn: psycopg.Connection[Any], *, distributed: bool, plan_only: bool) -> Layout | None:
    """The layout step after the migrations. None on plain PostgreSQL without ``--distributed``
    (nothing is read or changed there). Without ``distributed``, tables that already hold rows are
    not converted (the caller says that ``--distributed`` would)."""
    version = installed(conn)
    if version is None:
        return planned_extension(conn) if distributed and plan_only else None
    if plan_only:
        return layout(conn, version)
    # Under the migrations' lock, read after it is granted: of inits at once, the first converts
    # and the others find nothing pending (instead of "already distributed").
    conn.execute(q.MIGRATION_LOCK, (q.MIGRATION_LOCK_KEY,))
    try:
        plan = layout(conn, version)
        if distributed or not plan.holding_rows:
            apply(conn, plan)
    finally:
        if not conn.closed:
            conn.execute(q.MIGRATION_UNLOCK, (q.MIGRATION_LOCK_KEY,))
    return plan


def extent_by_symbol(conn: psycopg.Connection[Any], table: str, time_column: str) -> tuple[Any, Any]:
    """First and last time of a distributed (symbol, time)-keyed table: the loose index scan on
    every shard, combined on the coordinator (a recursive CTE over the whole table is refused)."""
    command = sql.SQL(load_sql("citus_extent_shard")).format(col=sql.Identifier(time_column)).as_string(conn)
    row = conn.execute(load_sql("citus_extent_by_symbol"), {"table": table, "command": command}).fetchone()
    return (row[0], row[1]) if row else (None, None)
