"""`obsdb derive` as a whole: incremental, idempotent, run by migrate, and a range rebuilt on demand."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from obsdb import api
from tests.helpers import obsdb_env, query, run_obsdb, settings_for, write_lines
from tests.test_load_once import tick

pytestmark = [pytest.mark.db, pytest.mark.engines]


def _ticks(db: str, tmp_path: Path, name: str, *seconds: int, derive: bool = True) -> None:
    write_lines(tmp_path / name, *(tick(s) for s in seconds), *(tick(s, symbol="000660") for s in seconds))
    api.migrate([tmp_path / name], settings=settings_for(db), derive_after=derive)


def test_migrate_derives_what_it_loaded_and_a_rerun_does_nothing(db: str, tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", *(tick(s) for s in (1, 30, 59)))
    report = api.migrate([tmp_path / "a.jsonl"], settings=settings_for(db))
    assert report.derive is not None and report.derive["days"] == ["2026-01-30"]
    assert query(db, "SELECT count(*) FROM scalp_1m_bars WHERE origin = 'derived'") == [(1,)]
    assert query(db, "SELECT count(*) FROM obsdb_derive_dirty") == [(0,)]
    again = api.derive(settings=settings_for(db))
    assert again.nothing_to_do and again.to_dict()["days"] == []


def test_no_derive_leaves_the_marks_for_later(db: str, tmp_path: Path) -> None:
    _ticks(db, tmp_path, "a.jsonl", 1, 2, derive=False)
    assert query(db, "SELECT symbol, kst_date, source_table FROM obsdb_derive_dirty ORDER BY 1") == [
        ("000660", date(2026, 1, 30), "scalp_ticks"), ("005930", date(2026, 1, 30), "scalp_ticks")]
    assert query(db, "SELECT count(*) FROM scalp_1m_bars") == [(0,)]
    report = api.derive(settings=settings_for(db))
    assert report.symbols == {"000660", "005930"} and report.bars_1m.written == 2
    assert query(db, "SELECT count(*) FROM obsdb_derive_dirty") == [(0,)]


def test_late_ticks_recompute_only_their_day_and_bucket(db: str, tmp_path: Path) -> None:
    _ticks(db, tmp_path, "a.jsonl", 1, 5)
    # one symbol, same minute, inside the feed's first..last tick: the feed gaps do not change (when
    # they do, every symbol of the day is recomputed, since coverage comes from them)
    write_lines(tmp_path / "late.jsonl", tick(3))
    report = api.migrate([tmp_path / "late.jsonl"], settings=settings_for(db))
    assert report.derive is not None and report.derive["symbols"] == ["005930"]
    assert report.derive["bars_1m"]["written"] == 1


def test_range_rebuild_on_demand(db: str, tmp_path: Path) -> None:
    _ticks(db, tmp_path, "a.jsonl", 1, 2)
    report = api.derive(start=date(2026, 1, 30), end=date(2026, 1, 30), symbol="005930", settings=settings_for(db))
    assert report.days == [date(2026, 1, 30)] and report.symbols == {"005930"}
    assert report.bars_1m.written == 0 and report.bars_1m.unchanged == 1  # nothing changed: nothing rewritten


def test_derive_cli_json_and_sample_archive_end_to_end(db: str, tmp_path: Path) -> None:
    from obsdb.sample import write_sample_archive

    write_sample_archive(tmp_path / "observer")
    proc = run_obsdb("migrate", str(tmp_path / "observer"), "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    derived = orjson.loads(proc.stdout)["derive"]
    assert derived["bars_1m"]["written"] > 0 and derived["gaps"]["written"] > 0
    for table in ("scalp_1m_bars", "swing_bars_10m", "scalp_gaps", "analysis_rolling_stats"):
        assert query(db, f"SELECT count(*) > 0 FROM {table}") == [(True,)], table  # noqa: S608 - fixed names
    again = run_obsdb("derive", "--json", env=obsdb_env(db))
    assert orjson.loads(again.stdout)["nothing_to_do"] is True
    text = run_obsdb("derive", env=obsdb_env(db))
    assert "nothing to do" in text.stdout
    rec = run_obsdb("derive", "--reconcile", "--json", env=obsdb_env(db))
    assert rec.returncode == 0, rec.stderr
    assert isinstance(orjson.loads(rec.stdout), list)


def _at(hh: int, mm: int, ss: int, symbol: str, price: int, cum: int) -> dict[str, object]:
    t = f"2026-01-30T{hh:02d}:{mm:02d}:{ss:02d}.000000+09:00"
    return {"timestamp": t, "symbol": symbol, "execution_time": f"{hh:02d}{mm:02d}{ss:02d}",
            "price": {"current": price, "open": 69000, "high": 71000, "low": 68000, "change_rate": 0.5},
            "volume": {"accumulated": cum, "trade_value": cum * price},
            "bid_ask": {"ask_price": price + 100, "bid_price": price}, "source": "websocket", "session_id": "s"}


def _morning() -> list[dict[str, object]]:
    """Three symbols from 09:00 to 09:59, every 5 s, the feed silent 09:20-09:25, and one symbol
    quiet 09:40-09:47 (a symbol gap while the feed is alive)."""
    out, cum = [], {"000010": 0, "000020": 0, "000030": 0}
    for k in range(720):
        mm, ss = divmod(k * 5, 60)
        if 20 <= mm < 25:
            continue
        for i, sym in enumerate(cum):
            if sym == "000030" and 40 <= mm < 47:
                continue
            cum[sym] += 10 + i + k % 7
            out.append(_at(9, mm, ss + i, sym, 70000 + (k * 37 + i * 11) % 900, cum[sym]))
    return out


def test_live_increments_rewrite_only_what_changed_and_match_a_rebuild(db: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "20260130_09.jsonl", *_morning())
    api.migrate([path], settings=settings_for(db))
    total = query(db, "SELECT count(*) FROM analysis_rolling_stats")[0][0]
    # one tick appended after the last one: the feed's 'after_last_tick' gap moves for everyone
    with path.open("ab") as f:
        f.write(orjson.dumps(_at(9, 59, 58, "000010", 70100, 99_999)) + b"\n")
    live = api.migrate([path], settings=settings_for(db)).derive
    assert live is not None and live["days"] == ["2026-01-30"]
    assert "000010" in live["symbols"] and live["bars_1m"]["written"] >= 1
    # only the appended symbol's statistics from its changed bar on: a few rows per window, no more
    assert 0 < live["stats"]["written"] + live["stats"]["unchanged"] < int(total) // 10  # type: ignore[call-overload]
    # late ticks of one symbol fill the feed's silence: the feed gap goes, so the other symbols'
    # silences there were no longer the collector's (reason) and their edge bars gain coverage
    with path.open("ab") as f:
        for k in range(60):
            f.write(orjson.dumps(_at(9, 20 + k // 12, k % 12 * 5 + 3, "000010", 70200, 0)) + b"\n")
    filled = api.migrate([path], settings=settings_for(db)).derive
    assert filled is not None and {"000020", "000030"} <= set(filled["symbols"])
    assert query(db, "SELECT reason FROM scalp_gaps WHERE scope = 'symbol' AND symbol = '000020' "
                     "AND gap_start_ts < '2026-01-30 09:30+09'") == [("no_trades",)]
    rebuilt = api.derive(start=date(2026, 1, 30), end=date(2026, 1, 30), settings=settings_for(db))
    for step in ("bars_1m", "bars_10m", "gaps", "stats"):  # the increments left exactly what a rebuild makes
        changes = getattr(rebuilt, step)
        assert (step, changes.written, changes.deleted) == (step, 0, 0)


def test_derive_summarises_the_ticks_brin_ranges_the_load_added(db: str, tmp_path: Path) -> None:
    # An unsummarised BRIN range is read whole by every day's tick query (autovacuum may be off).
    # 15,000 ticks fill several whole 128-page ranges (the last, partial one is never summarised).
    write_lines(tmp_path / "a.jsonl", *(tick(s, symbol=f"{100_000 + k:06d}") for k in range(250) for s in range(60)))
    api.migrate([tmp_path / "a.jsonl"], settings=settings_for(db), derive_after=False)
    api.derive(settings=settings_for(db))
    left = query(db, "SELECT c.relname::text, brin_summarize_new_values(c.oid) FROM pg_index i "
                     "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam AND a.amname = 'brin' "
                     "JOIN pg_class t ON t.oid = i.indrelid AND t.relkind = 'r' WHERE t.relname LIKE 'scalp_ticks%%'")
    assert left and all(n == 0 for _, n in left), left


def test_derive_analyzes_the_tick_partitions_the_load_filled(db: str, tmp_path: Path, engine: str) -> None:
    # With no statistics (autovacuum off or behind) the planner read a month of ticks for one day.
    if engine == "citus":
        pytest.skip("on Citus the ticks are in the workers' shards, which their own autovacuum analyses")
    write_lines(tmp_path / "a.jsonl", *(tick(s, symbol=f"{100_000 + k:06d}") for k in range(50) for s in range(60)))
    api.migrate([tmp_path / "a.jsonl"], settings=settings_for(db), derive_after=False)
    stats = ("SELECT coalesce(sum(s.n_mod_since_analyze), 0), count(s.last_analyze), count(s.last_autoanalyze) "
             "FROM pg_stat_user_tables s WHERE s.relid IN (SELECT relid FROM pg_partition_tree('scalp_ticks') "
             "WHERE isleaf)")
    deadline = time.monotonic() + 30  # the loader's backends report their counts when they end
    while (now := query(db, stats)[0])[0] < 3000 and not now[2] and time.monotonic() < deadline:
        time.sleep(0.2)
    if now[2]:
        pytest.skip("the server's autovacuum analysed the partition before derive could")
    assert now == (3000, 0, 0)  # loaded, counted, never analysed yet
    api.derive(settings=settings_for(db))
    assert query(db, stats)[0][:2] == (0, 1)
    # and what derive wrote (250 statistics rows) it analysed before it returned, for the next derive
    written = stats.replace("'scalp_ticks'", "'analysis_rolling_stats'")
    assert query(db, written)[0][:2] == (0, 1)


def test_a_migrate_reports_its_rows_before_its_derive_decides_what_to_analyze(db: str, tmp_path: Path,
                                                                             engine: str) -> None:
    # A backend reports its row counts at most once a second, and derive's staleness check runs
    # on the loader's own connection, which does not see its own unreported counts: without a
    # flush the new ticks were not analysed, and the next one-tick migrate paid for the ANALYZE.
    if engine == "citus":
        pytest.skip("on Citus the ticks are in the workers' shards, which their own autovacuum analyses")
    write_lines(tmp_path / "a.jsonl", *(tick(s, symbol=f"{100_000 + k:06d}") for k in range(50) for s in range(60)))
    api.migrate([tmp_path / "a.jsonl"], settings=settings_for(db), workers=1)
    analysed = query(db, "SELECT count(*) FILTER (WHERE s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL), "
                         "count(*) FROM pg_stat_user_tables s WHERE s.relid IN "
                         "(SELECT relid FROM pg_partition_tree('scalp_ticks') WHERE isleaf AND relid IN "
                         "(SELECT DISTINCT tableoid FROM scalp_ticks))")
    assert analysed == [(1, 1)]


def test_jobs_spread_over_connections_all_run_and_a_failure_reaches_the_caller(db: str) -> None:
    # derive's days and upkeep run through this: a job lost or a failure swallowed would lose a day
    from obsdb.derive.pool import run_spread

    def backend_of(conn: psycopg.Connection[Any], job: int) -> tuple[int, int]:
        row = conn.execute("SELECT %s::int, pg_backend_pid()", (job,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    done = run_spread(db, list(range(8)), 2, backend_of)
    assert sorted(job for job, _ in done) == list(range(8))
    assert len({pid for _, pid in done}) <= 2  # two connections at most, reused from job to job

    def fails_on_three(conn: psycopg.Connection[Any], job: int) -> int:
        return int(conn.execute("SELECT 1 / (%s::int - 3)", (job,)).fetchone()[0])  # type: ignore[index]

    with pytest.raises(psycopg.errors.DivisionByZero):
        run_spread(db, list(range(8)), 2, fails_on_three)


def test_the_cli_and_derive_do_not_import_the_loader() -> None:
    # `obsdb derive` (and every command's start) paid 0.2 s importing the loader's parsers and
    # models; the loader is imported where `migrate` and `follow` need it.
    code = ("import sys, obsdb.cli, obsdb.derive.run; "
            "print(sorted(m for m in sys.modules if m.startswith(('obsdb.load.pipeline', 'obsdb.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
