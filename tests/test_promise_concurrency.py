"""Promise: obsdb processes running at the same time on the same database are safe. Overlapping
`migrate`s end exactly like one run (symbol lists included: each loaded once); `init`s at once apply
each migration once (and create a missing database once); a `derive` beside a `migrate`, then one more
`derive`, leaves the derived tables of one clean run."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from obsdb.db import schema
from obsdb.load.files import open_archive
from obsdb.load.ledger import stream_lock_key
from obsdb.load.reader import StreamReader
from obsdb.sample import write_sample_archive
from tests.helpers import obsdb_env, query, run_obsdb, with_db
from tests.test_promise_crash import (
    COMPARED_TABLES,
    drop_database,
    state_diff,
    table_state,
    tick_lines,
)

pytestmark = [pytest.mark.db, pytest.mark.engines]

TIMEOUT = 120  # seconds for any one process: a deadlock fails the test instead of hanging it
DERIVED = ("scalp_1m_bars", "swing_bars_10m", "scalp_gaps", "analysis_rolling_stats")
#: Rejects by path relative to its archive root: a copy's lines may be read from either root.
REJECTS_RELATIVE = ("SELECT * FROM (SELECT regexp_replace(path, '^.*/arch_[A-Z]/', '') AS rel, line_no, field, "
                    "reason, raw_line FROM obsdb_rejects) r ORDER BY rel COLLATE \"C\", line_no")


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "obsdb", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Wait for every process (killing all of them on a timeout); (exit code, stdout, stderr) each."""
    deadline = time.monotonic() + TIMEOUT
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((p.returncode, out, err))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"still running after {TIMEOUT} s (deadlock?): {[p.args for p in procs]}")
    return results


def copy_to(src_root: Path, rel: str, dst_root: Path) -> None:
    (dst_root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src_root / rel, dst_root / rel)


def overlapping_archives(root: Path) -> tuple[Path, Path, Path]:
    """Three archive roots that share files (the same relative path, the same content)."""
    a, b, c = root / "arch_A", root / "arch_B", root / "arch_C"
    write_sample_archive(a)  # every shape, rejects, copies inside, symbol lists, portfolio
    tick_lines(b / "ticks", 30_000, 3, 7, ("20260202", "20260203"))
    tick_lines(c / "ticks", 20_000, 2, 11, ("20260204",))
    for rel in ("config/scalp/20260130_09.jsonl", "universe/20260130_kr_stocks.json",
                "portfolio/20260202_portfolio.jsonl"):
        copy_to(a, rel, b)
    # Shared files keep their relative path: rejects are stored under the path of whichever process read
    # the content first, so a copy under another relative path (A's own .gz of config/scalp/20260130_10)
    # would make the expected reject paths depend on who won.
    for rel in ("data/assets/swing/20260202.jsonl", "universe/20260202_kr_stocks.json",
                "config/scalp/20260130_10.jsonl"):
        copy_to(a, rel, c)
    for rel in ("ticks/20260202_10.jsonl", "ticks/20260203_14.jsonl"):
        copy_to(b, rel, c)
    return a, b, c


def loaded_state(conninfo: str) -> dict[str, object]:
    state = table_state(conninfo)
    state["obsdb_rejects"] = query(conninfo, REJECTS_RELATIVE)
    return state


def test_three_overlapping_migrates_at_once_end_like_one_run(db: str, tmp_path: Path,
                                                            new_database: Callable[[str], str]) -> None:
    a, b, c = overlapping_archives(tmp_path)
    env = obsdb_env(db)
    results = finish([start("migrate", str(x), str(y), "--json", env=env) for x, y in ((a, b), (b, c), (a, c))])
    assert [r[0] for r in results] == [0, 0, 0], [r[2][-2000:] for r in results]
    reports = [orjson.loads(r[1]) for r in results]
    assert [r["files_with_errors"] for r in reports] == [0, 0, 0]
    assert not any("Traceback" in r[2] or "error:" in r[2] for r in results), [r[2] for r in results]

    clean = new_database(f"{conninfo_to_dict(db)['dbname']}_one")
    once = run_obsdb("migrate", str(a), str(b), str(c), "--json", env=obsdb_env(clean), timeout=TIMEOUT)
    assert once.returncode == 0, once.stderr[-2000:]
    single = orjson.loads(once.stdout)
    # every line was loaded (or rejected) by exactly one of the three
    assert sum(r["rows_loaded"] for r in reports) == single["rows_loaded"]
    assert sum(r["rejected"] for r in reports) == single["rejected"] > 0
    want = loaded_state(clean)
    assert state_diff(loaded_state(db), want) == []
    assert query(db, "SELECT count(*) FROM obsdb_load_runs WHERE status <> 'ok'") == [(0,)]


def _history(conninfo: str) -> list[tuple[object, ...]]:
    return query(conninfo, "SELECT version, checksum FROM obsdb_schema_history ORDER BY version")


def test_three_inits_at_once_on_an_empty_database(empty_db: str) -> None:
    results = finish([start("init", env=obsdb_env(empty_db)) for _ in range(3)])
    assert [r[0] for r in results] == [0, 0, 0], [r[2][-2000:] for r in results]
    assert _history(empty_db) == [(m.version, m.checksum) for m in schema.available()]
    again = run_obsdb("init", env=obsdb_env(empty_db))
    assert again.returncode == 0, again.stderr
    assert len(_history(empty_db)) == len(schema.available())


@pytest.mark.not_on_citus("obsdb creates a missing database as a plain one on the coordinator; a Citus "
                          "database needs citus on every node first (the fixture makes it so)")
def test_three_inits_at_once_create_a_missing_database_once(admin_conninfo: str, db: str) -> None:
    name = f"{conninfo_to_dict(db)['dbname']}_new"
    target = with_db(admin_conninfo, name)
    try:
        results = finish([start("init", env=obsdb_env(target)) for _ in range(3)])
        assert [r[0] for r in results] == [0, 0, 0], [r[2][-2000:] for r in results]
        assert _history(target) == [(m.version, m.checksum) for m in schema.available()]
    finally:
        drop_database(admin_conninfo, name)


def per_symbol_ticks(root: Path) -> list[Path]:
    """Ticks of three symbols on two days, one file per (day, symbol), as a collector that writes
    symbols separately: a derive between two of them sees only some of a day's symbols."""
    files: dict[str, list[bytes]] = {}
    for line in tick_lines(root / "src", 30_000, 3, 7, ("20260202", "20260203")):
        rec = orjson.loads(line)
        files.setdefault(f"{rec['timestamp'][:10].replace('-', '')}_{rec['symbol']}.jsonl", []).append(line)
    shutil.rmtree(root / "src")
    for name, lines in files.items():
        (root / name).write_bytes(b"\n".join(lines) + b"\n")
    return sorted(root / name for name in files)


def stream_lock(path: Path) -> tuple[int, int]:
    """The advisory lock a loader takes before it reads this file (holding it pauses the loader)."""
    opened = open_archive(path)
    try:
        head = StreamReader(opened.stream).head()
    finally:
        opened.close()
    assert head is not None
    return stream_lock_key(hashlib.sha256(head).hexdigest())


def test_derive_beside_migrate_then_derive_equals_a_clean_run(db: str, tmp_path: Path,
                                                              new_database: Callable[[str], str]) -> None:
    archive = tmp_path / "archive"
    write_sample_archive(archive / "sample")
    ticks = per_symbol_ticks(archive / "ticks")
    env = obsdb_env(db)
    derives: list[subprocess.Popen[str]] = []
    with psycopg.connect(db, autocommit=True) as hold:
        # Pause the migrate at the second symbol of the first day (the real lock, held from here),
        # and derive then: the day is half loaded.
        key = stream_lock(ticks[1])
        hold.execute("SELECT pg_advisory_lock(%s, %s)", key)
        migrate = start("migrate", str(archive), "--workers", "1", env=env)
        deadline = time.monotonic() + TIMEOUT
        while not hold.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted AND pid <> pg_backend_pid())").fetchone()[0]:  # type: ignore[index]
            assert migrate.poll() is None and time.monotonic() < deadline, "the migrate never reached the lock"
            time.sleep(0.02)
        beside = run_obsdb("derive", "--json", env=env, timeout=TIMEOUT)
        assert beside.returncode == 0, beside.stderr[-2000:]
        assert "2026-02-02" in orjson.loads(beside.stdout)["days"]
        hold.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        # then derives one after another for as long as the migrate runs (loading, then deriving)
        while migrate.poll() is None and time.monotonic() < deadline:
            if not derives or derives[-1].poll() is not None:
                derives.append(start("derive", "--json", env=env))
            time.sleep(0.02)
    results = finish([migrate, *derives])
    assert [r[0] for r in results] == [0] * len(results), [r[2][-2000:] for r in results if r[0]]
    last = run_obsdb("derive", "--json", env=env, timeout=TIMEOUT)
    assert last.returncode == 0, last.stderr[-2000:]

    clean = new_database(f"{conninfo_to_dict(db)['dbname']}_one")
    once = run_obsdb("migrate", str(archive), env=obsdb_env(clean), timeout=TIMEOUT)
    assert once.returncode == 0, once.stderr[-2000:]
    got, want = table_state(db), table_state(clean)
    assert set(DERIVED) < set(COMPARED_TABLES)
    assert state_diff(got, want) == [], f"{len(derives)} more derives ran beside the migrate"
    assert query(db, "SELECT count(*) FROM obsdb_derive_dirty") == [(0,)]


def test_concurrent_derives_of_the_same_days_agree(db: str, tmp_path: Path) -> None:
    """Two range rebuilds of the same days at once: both succeed and change nothing further."""
    archive = tmp_path / "archive"
    write_sample_archive(archive)
    env = obsdb_env(db)
    assert run_obsdb("migrate", str(archive), env=env, timeout=TIMEOUT).returncode == 0
    before = table_state(db)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DELETE FROM scalp_1m_bars WHERE origin = 'derived'")
    results = finish([start("derive", "--from", "2026-01-26", "--to", "2026-02-02", env=env) for _ in range(2)])
    assert [r[0] for r in results] == [0, 0], [r[2][-2000:] for r in results]
    assert state_diff(table_state(db), before) == []


#: The real CLI, imported first, started on a line from stdin: processes that start within a millisecond.
GATED = ("import sys\nfrom obsdb.cli import main\nprint('ready', flush=True)\nsys.stdin.readline()\n"
         "sys.argv = ['obsdb', *sys.argv[1:]]\nmain()\n")


def test_simultaneous_migrates_of_the_same_symbol_lists_load_each_once(db: str, tmp_path: Path) -> None:
    env = obsdb_env(db)
    for round_ in range(3):
        root = tmp_path / f"lists{round_}"
        root.mkdir()
        for k in range(4):
            day = date(2026, 3, 1) + timedelta(days=round_ * 10 + k)
            doc = {"metadata": {"date": day.isoformat(), "market": "kr_stocks", "count": 2},
                   "symbols": ["005930", f"{round_}{k}0660"]}
            (root / f"{day:%Y%m%d}_kr_stocks.json").write_bytes(orjson.dumps(doc))
        (root / "bad.json").write_bytes(orjson.dumps({"metadata": {"date": round_}, "symbols": []}))
        procs = [subprocess.Popen([sys.executable, "-c", GATED, "migrate", str(root), "--no-derive"], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = finish(procs)
        assert [r[0] for r in results] == [0] * 4, [r[2][-2000:] for r in results]
    assert query(db, "SELECT head_sha256, count(*) FROM obsdb_ingest_files GROUP BY 1 HAVING count(*) > 1") == []
    assert query(db, "SELECT count(*), count(DISTINCT path) FROM obsdb_rejects") == [(3, 3)]
    assert query(db, "SELECT count(*) FROM obsdb_ingest_files") == [(15,)]
    assert query(db, "SELECT count(*) FROM symbol_universe") == [(24,)]


def test_a_batch_of_archived_gaps_waits_for_a_derive(db: str, tmp_path: Path) -> None:
    """Archived gaps go into a table derive writes (scalp_gaps): the batch takes derive's key -1,
    shared, which a derive on Citus holds for every day, so the two never write the table's shards
    at once (they can lock them in opposite orders: a distributed deadlock, 40P01)."""
    gap = {"track_type": "track_b", "symbol": "005930", "gap_type": "major", "gap_duration_seconds": 90.0,
           "last_update": "2026-02-02T10:01:00+09:00", "detected_at": "2026-02-02T10:02:30+09:00",
           "expected_interval_seconds": 2}
    (tmp_path / "gaps").mkdir()
    (tmp_path / "gaps" / "gaps.jsonl").write_bytes(orjson.dumps(gap) + b"\n")
    with psycopg.connect(db, autocommit=True) as hold:
        hold.execute("SELECT pg_advisory_lock(hashtext('obsdb.derive.day'), -1)")  # as derive on Citus
        migrate = start("migrate", str(tmp_path / "gaps"), "--json", env=obsdb_env(db))
        deadline = time.monotonic() + TIMEOUT
        while not hold.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted AND pid <> pg_backend_pid())").fetchone()[0]:  # type: ignore[index]
            assert migrate.poll() is None and time.monotonic() < deadline, "the batch did not wait for the derive"
            time.sleep(0.02)
        hold.execute("SELECT pg_advisory_unlock(hashtext('obsdb.derive.day'), -1)")
    [(code, _, err)] = finish([migrate])
    assert code == 0, err[-2000:]
    assert query(db, "SELECT symbol, origin FROM scalp_gaps") == [("005930", "archived")]
