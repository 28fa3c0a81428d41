"""Promise: `obsdb migrate` SIGKILLed at random moments, again and again, on an archive that keeps
growing, then allowed to finish, leaves exactly the database that ONE clean run of the final archive
gives: the same rows in every loaded and derived table, the same rejects, the same ledger.

The kill schedule comes from a seed (printed on failure; set OBSDB_PROMISE_SEED to replay it). Most
runs are killed at a point that does not depend on speed: the test holds the stream lock of a file
the run must read (a growing file, so never "unchanged") and kills once a loader waits on it. The
other runs are killed on a clock or after some progress, which may hit any phase, or miss (then the
run just finishes); only the first kind is counted on.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
import pytest
from bench.loader import generate
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from obsdb.db.queries import STREAM_LOCK, STREAM_UNLOCK
from obsdb.load.ledger import stream_lock_key
from obsdb.sample import write_sample_archive
from tests.helpers import obsdb_env, run_obsdb

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.engines]

ATTEMPTS = 36
BLOCKED_KILLS = 22  #: runs killed while a loader waits on a lock we hold: killed mid-load on any machine

#: Every table the loader or derive writes, compared row by row (through a checksum).
COMPARED_TABLES = (
    "scalp_ticks", "swing_snapshots", "scalp_1m_bars", "swing_bars_10m", "scalp_gaps", "analysis_rolling_stats",
    "symbol_universe_lists", "symbol_universe", "portfolio_policy", "target_weights", "portfolio_snapshot",
    "portfolio_positions", "rebalance_plan", "rebalance_orders", "rebalance_execution",
    "analysis_threshold_candidates", "analysis_signal_events",
)
#: Columns that differ between two databases by design: now() defaults, identities, ledger ids.
COMPARED_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %s AND is_identity = 'NO'
  AND coalesce(column_default, '') NOT ILIKE '%%now()%%' AND column_name <> 'src_file_id'
ORDER BY ordinal_position
"""
REJECTS = ("SELECT path, line_no, field, reason, raw_line FROM obsdb_rejects "
           "ORDER BY path COLLATE \"C\", line_no")
LEDGER = ("SELECT head_sha256, prefix_digest, loaded_bytes, loaded_lines, rejected FROM obsdb_ingest_files "
          "ORDER BY head_sha256, loaded_bytes")
#: Changes with every committed batch, derived day and run: "progress" for the kill schedule.
PROGRESS = ("SELECT (SELECT coalesce(sum(loaded_lines), 0) FROM obsdb_ingest_files), "
            "(SELECT count(*) FROM obsdb_ingest_files), (SELECT count(*) FROM obsdb_derive_dirty), "
            "(SELECT count(*) FROM obsdb_load_runs), (SELECT count(*) FROM obsdb_ingest_paths)")
#: After any kill: each ledger entry's reject count is exactly its stored rejects (one transaction).
#: Backends of this database waiting on a two-key advisory lock (objsubid 2), other than our own.
LOCK_WAITERS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 "
                "AND classid = %s AND objid::bigint = %s AND pid <> pg_backend_pid() "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
TORN = ("SELECT f.file_id, f.rejected, count(r.line_no), f.loaded_lines, max(r.line_no) "
        "FROM obsdb_ingest_files f LEFT JOIN obsdb_rejects r USING (file_id) GROUP BY f.file_id "
        "HAVING f.rejected <> count(r.line_no) OR max(r.line_no) > f.loaded_lines")


def table_state(conninfo: str) -> dict[str, object]:
    """Row count and md5 of the ordered rows of every compared table, plus rejects, ledger and marks."""
    state: dict[str, object] = {}
    with psycopg.connect(conninfo) as conn:
        for table in COMPARED_TABLES:
            cols = [r[0] for r in conn.execute(COMPARED_COLUMNS, (table,)).fetchall()]
            assert cols, f"{table}: no columns found"
            row = conn.execute(sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\")), '') "
                "FROM (SELECT {} FROM {}) AS r").format(
                    sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table))).fetchone()
            state[table] = row
        state["obsdb_rejects"] = conn.execute(REJECTS).fetchall()
        state["obsdb_ingest_files"] = conn.execute(LEDGER).fetchall()
        state["obsdb_derive_dirty"] = conn.execute("SELECT count(*) FROM obsdb_derive_dirty").fetchone()
    return state


def state_diff(got: dict[str, object], want: dict[str, object]) -> list[str]:
    return [f"{k}: {got.get(k)!r:.300} != {want.get(k)!r:.300}" for k in want if got.get(k) != want[k]]


def drop_database(admin_conninfo: str, name: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def tick_lines(out: Path, lines: int, symbols: int, seed: int, days: tuple[str, ...]) -> list[bytes]:
    """Shape A ticks from the benchmark's generator, only the given KST days (keeps derive small)."""
    generate(lines, out, symbols=symbols, seed=seed)
    kept: list[bytes] = []
    for path in sorted(out.iterdir()):
        if path.name.startswith(days):
            kept += path.read_bytes().splitlines()
        else:
            path.unlink()
    return kept


def growing_files(scratch: Path) -> dict[str, bytes]:
    """The final content of the files that grow between runs: ticks, and ticks mixed with bad lines
    and in-file duplicates. Each line's key is unique across files (no race on which file wins)."""
    lines = tick_lines(scratch, 20_000, 2, 11, ("20260204",))
    mixed: list[bytes] = []
    for i, line in enumerate(lines[1::2]):
        mixed.append(line)
        if i % 97 == 13:
            mixed.append(b'{"not": "a tick", "n": %d}' % i)
        if i % 151 == 40:
            mixed.append(b'{"timestamp": "2026-02-04T10:%02d:00", "symbol": "005930", "price": 1}' % (i % 60))
        if i % 173 == 90:
            rec = orjson.loads(line)
            rec["price"]["current"] = str(rec["price"]["current"])
            mixed.append(orjson.dumps(rec))
        if i % 61 == 30:
            mixed.append(mixed[len(mixed) // 2])  # an earlier line of this file again: a duplicate
    # One sorts before every other file, one after: a run blocked on it is killed early or late.
    return {"a_growing/ticks.jsonl": b"\n".join(lines[0::2]) + b"\n",
            "z_growing/mixed.jsonl": b"\n".join(mixed) + b"\n"}


def build_archive(root: Path, scratch: Path) -> dict[str, bytes]:
    write_sample_archive(root / "sample")  # every shape, rejects, copies (plain, gz, zst), a pending tail
    tick_lines(root / "ticks", 30_000, 3, 7, ("20260202", "20260203"))  # 6,000 ticks in 14 files
    return growing_files(scratch)


@dataclass(frozen=True)
class Plan:
    workers: int
    block: str | None  # a growing file: kill once a loader waits on its stream lock (which we hold)
    after_commits: int  # 0: kill `delay` seconds after the start; else that many progress steps, then `delay`
    delay: float

    @staticmethod
    def draw(rng: random.Random, blocked: bool, growing: list[str]) -> Plan:
        workers = rng.choice((1, 2))
        if blocked:
            return Plan(workers, rng.choice(growing), 0, 0.0)
        if rng.random() < 0.3:
            return Plan(workers, None, 0, round(rng.uniform(0.1, 1.0), 3))
        return Plan(workers, None, rng.randint(1, 5), round(rng.uniform(0.0, 0.08), 3))


def head_lock(data: bytes) -> tuple[int, int]:
    """The advisory lock a loader takes for a content stream (keyed by its first line)."""
    return stream_lock_key(hashlib.sha256(data[: data.index(b"\n") + 1]).hexdigest())


def run_blocked(argv: list[str], env: dict[str, str], watch: psycopg.Connection[object], lock: tuple[int, int],
                stderr: Path) -> tuple[bool, float, int, object]:
    """Start a migrate while holding ``lock``; SIGKILL it once a loader waits on that lock."""
    progress = watch.execute(PROGRESS).fetchone()
    watch.execute(STREAM_LOCK, lock)
    try:
        with stderr.open("wb") as err:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        started = time.monotonic()
        try:
            while watch.execute(LOCK_WAITERS, (lock[0], lock[1] & 0xFFFF_FFFF)).fetchone() == (0,):
                assert proc.poll() is None, "the run ended without reading a file that grew"
                assert time.monotonic() - started < 60, "a migrate ran for a minute: hung?"
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait(timeout=30)
    finally:
        watch.execute(STREAM_UNLOCK, lock)  # the killed loader's backend then gets it and goes away
    return code == -signal.SIGKILL, time.monotonic() - started, code, progress


def run_and_kill(argv: list[str], env: dict[str, str], watch: psycopg.Connection[object], plan: Plan,
                 stderr: Path) -> tuple[bool, float, int, object]:
    """Start a migrate and SIGKILL it per ``plan``. Returns (killed, seconds, exit code, last progress)."""
    progress = watch.execute(PROGRESS).fetchone()
    steps, fire_at = 0, None
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
    started = time.monotonic()
    try:
        while proc.poll() is None:
            now = time.monotonic()
            assert now - started < 60, "a migrate ran for a minute: hung?"
            if fire_at is None and plan.after_commits == 0:
                fire_at = started + plan.delay
            elif fire_at is None:
                seen = watch.execute(PROGRESS).fetchone()
                if seen != progress:
                    steps, progress = steps + 1, seen
                    if steps >= plan.after_commits:
                        fire_at = now + plan.delay
            if fire_at is not None and now >= fire_at:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and not fire_at:
            proc.kill()
        code = proc.wait(timeout=30)
    return code == -signal.SIGKILL, time.monotonic() - started, code, progress


def grow(root: Path, final: dict[str, bytes], cuts: dict[str, list[int]], step: int) -> None:
    """Bring each growing file to its length at ``step`` (often mid-line: a pending tail)."""
    for rel, data in final.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        have = path.stat().st_size if path.exists() else 0
        upto = cuts[rel][step] if step < len(cuts[rel]) else len(data)
        with path.open("ab") as f:
            f.write(data[have:upto])


def test_sigkilled_again_and_again_then_finished_equals_one_clean_run(
        db: str, tmp_path: Path, new_database: Callable[[str], str]) -> None:
    seed = int(os.environ.get("OBSDB_PROMISE_SEED") or random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    archive = tmp_path / "archive"
    final = build_archive(archive, tmp_path / "scratch")
    # Every cut keeps the first line whole: a growing file always has a stream lock to block on.
    cuts = {rel: sorted(rng.sample(range(data.index(b"\n") + 1, len(data)), ATTEMPTS))
            for rel, data in final.items()}
    blocked = set(rng.sample(range(ATTEMPTS), BLOCKED_KILLS))
    grow(archive, final, cuts, 0)
    log = [f"seed={seed} (OBSDB_PROMISE_SEED={seed} replays the schedule)"]

    def why() -> str:
        return "\n".join(log)

    env = obsdb_env(db)
    kills = blocked_kills = 0
    with psycopg.connect(db, autocommit=True) as watch:
        for attempt in range(ATTEMPTS):
            plan = Plan.draw(rng, attempt in blocked, sorted(final))
            argv = [sys.executable, "-m", "obsdb", "migrate", str(archive), "--workers", str(plan.workers)]
            err = tmp_path / f"stderr-{attempt}.txt"
            try:
                if plan.block is not None:
                    killed, seconds, code, seen = run_blocked(argv, env, watch, head_lock(final[plan.block]), err)
                else:
                    killed, seconds, code, seen = run_and_kill(argv, env, watch, plan, err)
            except AssertionError as exc:
                raise AssertionError(f"#{attempt} {plan}: {exc}\n{err.read_text()[-2000:]}\n{why()}") from None
            log.append(f"#{attempt} {plan}: {'killed' if killed else f'exited {code}'} after {seconds:.2f}s"
                       f" (lines, ledger entries, derive marks, runs, paths before: {seen})")
            assert killed or code == 0, f"{err.read_text()[-2000:]}\n{why()}"
            assert killed or plan.block is None, why()
            torn = watch.execute(TORN).fetchall()
            assert torn == [], f"ledger and rejects disagree after a kill: {torn}\n{why()}"
            kills += killed
            blocked_kills += killed and plan.block is not None
            grow(archive, final, cuts, attempt + 1)
    assert blocked_kills == BLOCKED_KILLS, why()
    log.append(f"{kills} of {ATTEMPTS} runs killed, {blocked_kills} of them while blocked")

    grow(archive, final, cuts, ATTEMPTS)  # the final archive: every growing file complete
    done = run_obsdb("migrate", str(archive), "--json", env=env, timeout=120)
    assert done.returncode == 0, f"{done.stderr[-2000:]}\n{why()}"
    again = run_obsdb("migrate", str(archive), "--json", env=env, timeout=120)
    report = orjson.loads(again.stdout)
    assert (again.returncode, report["loaded"], report["derive"]["nothing_to_do"]) == (0, 0, True), why()

    clean = new_database(f"{conninfo_to_dict(db)['dbname']}_clean")
    once = run_obsdb("migrate", str(archive), "--json", env=obsdb_env(clean), timeout=120)
    assert once.returncode == 0, once.stderr[-2000:]
    want = table_state(clean)
    got = table_state(db)
    assert state_diff(got, want) == [], why()
    assert want["scalp_ticks"][0] > 8_000 and want["analysis_rolling_stats"][0] > 0  # type: ignore[index]
    assert len(want["obsdb_rejects"]) > 10, want["obsdb_rejects"]  # type: ignore[arg-type]
