"""`obsdb report`: its bounded queries give the right numbers, and the page carries them (no browser here).

The browser half is tests/test_report_browser.py. Here the derived tables are written directly, so
every expected number is worked out by hand in the test.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from obsdb import api
from obsdb.report import ReportOptions, data, queries
from obsdb.report.build import ReportError
from tests.helpers import obsdb_env, run_obsdb, settings_for

pytestmark = pytest.mark.db
KST = ZoneInfo("Asia/Seoul")
FRI, THU = date(2026, 2, 13), date(2026, 2, 19)  # Seollal (16-18 Feb) and a weekend in between
SESSION = 6.5 * 3600


def kst(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=KST)


def partitions(conn: psycopg.Connection[Any]) -> None:
    """Monthly partitions of the time-partitioned tables for February 2026 (the loader's own call)."""
    conn.execute("SELECT obsdb_ensure_tick_partitions(%s, %s)", (kst(FRI, 0, 0), kst(THU, 23, 0)))


def bar(conn: psycopg.Connection[Any], symbol: str, t: datetime, origin: str = "derived", price: int = 1000) -> None:
    conn.execute("INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, volume) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, 10)", (symbol, t, origin, price, price + 5, price - 5, price))


def gap(conn: psycopg.Connection[Any], symbol: str, start: datetime, end: datetime, scope: str = "symbol",
        reason: str = "no_trades", origin: str = "derived") -> None:
    conn.execute("INSERT INTO scalp_gaps (symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (symbol, start, end, (end - start).total_seconds(), scope, reason, origin))


def seed(db: str) -> None:
    """AAA: ticks on Friday; BBB: polls only on Thursday; CCC: archived 10-minute bars only on Thursday."""
    with psycopg.connect(db) as conn:
        partitions(conn)
        bar(conn, "AAA", kst(FRI, 9, 0))
        bar(conn, "AAA", kst(FRI, 9, 1))
        bar(conn, "AAA", kst(FRI, 8, 45))  # the opening auction: outside the session, not counted
        gap(conn, "AAA", kst(FRI, 9, 2), kst(FRI, 10, 0))  # 3,480 s, inside the session
        gap(conn, "AAA", kst(FRI, 15, 0), kst(FRI, 15, 30))  # 1,800 s, up to the close
        gap(conn, "AAA", kst(date(2026, 2, 14), 10, 0), kst(date(2026, 2, 14), 11, 0))  # a Saturday: never drawn
        gap(conn, "*", kst(FRI, 11, 0), kst(FRI, 11, 10), scope="feed", reason="outage")  # 600 s
        gap(conn, "*", kst(FRI, 12, 0), kst(FRI, 12, 0, 30), scope="feed", reason="websocket_no_data",
            origin="archived")
        for k in range(3):
            conn.execute("INSERT INTO swing_bars_10m (symbol, bar_time, origin, open, high, low, close) "
                         "VALUES ('BBB', %s, 'snapshots', 500, 500, 500, 500)", (kst(THU, 9 + k, 0),))
        gap(conn, "BBB", kst(THU, 13, 0), kst(THU, 13, 0, 9), scope="swing", reason="missing_poll")
        ten = ("INSERT INTO swing_bars_10m (symbol, bar_time, origin, open, high, low, close, bar_count) "
               "VALUES (%s, %s, %s, 1000, 1000, 1000, 1000, %s)")
        conn.execute(ten, ("AAA", kst(FRI, 9, 0), "ticks", 2))  # derive's roll-up of the two 1-minute bars
        conn.execute(ten, ("AAA", kst(FRI, 8, 40), "ticks", 1))  # the auction's: outside the session
        for k in range(4):
            conn.execute(ten, ("CCC", kst(THU, 9, 10 * k), "archived", None))


def cell(rows: list[dict[str, Any]], symbol: str, day: date) -> dict[str, Any]:
    return next(r for r in rows if r["symbol"] == symbol and r["day"] == day)


def test_heatmap_numbers_from_derived_tables(db: str) -> None:
    seed(db)
    sessions = queries.Sessions.between(FRI, THU)
    assert sessions.days == [FRI, THU]  # weekend and Seollal are no columns
    with psycopg.connect(db) as conn:
        rows = queries.heatmap(conn, sessions, None)
        feed = queries.feed_days(conn, sessions)
    assert {(r["symbol"], r["day"]) for r in rows} == {("AAA", FRI), ("BBB", THU), ("CCC", THU)}
    a = cell(rows, "AAA", FRI)
    assert a["source"] == "ticks"
    assert a["coverage"] == round(Decimal(1 - (3480 + 1800) / SESSION), 4) == Decimal("0.7744")
    assert (a["derived_bars"], a["gap_count"], a["inner_gaps"], a["gap_seconds"]) == (2, 2, 1, Decimal("5280.000"))
    assert a["longest_gap"] == Decimal("3480.000") and a["session_minutes"] == 390
    b = cell(rows, "BBB", THU)
    assert (b["source"], b["coverage"], b["poll_bars"], b["missed_polls"]) == ("polls", Decimal("0.0769"), 3, 1)
    c = cell(rows, "CCC", THU)
    assert (c["source"], c["coverage"], c["archived_bars"]) == ("archived", Decimal("0.1026"), 4)  # 4 of 39
    assert [(f["day"], f["coverage"], f["derived_gaps"], f["archived_gaps"]) for f in feed] == [
        (FRI, Decimal("0.9744"), 1, 1)]


def test_symbols_filter_and_cap(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db)
    sessions = queries.Sessions.between(FRI, THU)
    with psycopg.connect(db) as conn:
        only = queries.heatmap(conn, sessions, ["CCC", "ZZZ"])
        rows = queries.heatmap(conn, sessions, None)
    assert {r["symbol"] for r in only} == {"CCC"}
    assert data.choose_symbols(only, ["ZZZ", "CCC", "ZZZ"]) == (["ZZZ", "CCC"], 0)  # asked for: all shown, in order
    monkeypatch.setattr(queries, "MAX_SYMBOLS", 2)
    assert data.choose_symbols(rows, None) == (["AAA", "CCC"], 1)  # ties: more coverage first


def test_gaps_are_cut_longest_first(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db)
    monkeypatch.setattr(queries, "MAX_GAPS", 2)
    with psycopg.connect(db) as conn:
        rows = queries.gaps(conn, queries.Sessions.between(FRI, THU), ["AAA", "BBB"])
    assert len(rows) == 3  # one more than the cut says "cut"
    assert [r["gap_seconds"] for r in rows[:2]] == [Decimal("3480.000"), Decimal("1800.000")]


def test_report_sql_never_reads_ticks() -> None:
    files = list(resources.files("obsdb.report").joinpath("sql").iterdir())
    assert len(files) >= 10
    for f in files:
        code = "\n".join(line.split("--")[0] for line in f.read_text().splitlines())  # type: ignore[attr-defined]
        assert "scalp_ticks" not in code and "swing_snapshots" not in code, f.name  # raw tables: never scanned


def page_data(path: Path) -> dict[str, Any]:
    html = path.read_text()
    start = html.index('id="obsdb-data">') + len('id="obsdb-data">')
    return orjson.loads(html[start: html.index("</script>", start)])  # type: ignore[no-any-return]


def test_page_carries_the_numbers_and_nothing_from_outside(db: str, tmp_path: Path) -> None:
    seed(db)
    out = tmp_path / "r.html"
    result = api.report(ReportOptions(output=out, start=FRI, end=THU), settings=settings_for(db))
    assert result.counts["cells"] == 3 * 2 and result.counts["cells_with_data"] == 3
    assert result.day == FRI  # the newest day with derived 1-minute bars
    assert result.bytes == out.stat().st_size < 1_000_000
    html = out.read_text()
    for needle in ("http://", "https://", "src=", "@import", "url("):
        hits = [line for line in html.splitlines() if needle in line and "w3.org" not in line
                and "apache.org/licenses" not in line and "tradingview.com" not in line and "url(#" not in line]
        assert not hits, (needle, hits[:1])
    d = page_data(out)
    assert d["days"] == ["2026-02-13", "2026-02-19"] and d["symbols"] == ["AAA", "BBB", "CCC"]
    aaa = next(c for c in d["cells"] if c[0] == 0)
    assert aaa[:4] == [0, 0, 0, 7744] and aaa[7:9] == [2, 5280]
    assert sorted(d["candles"]["symbols"]) == ["AAA"] and len(d["candles"]["symbols"]["AAA"]["m"]) == 3
    assert d["portfolio"] is None  # the section only shows when the tables hold data
    assert len(d["gaps"]) == 5  # two symbol gaps and two feed gaps on Friday, one missed poll on Thursday


def test_rejects_grouped_with_an_example_and_script_safe(db: str, tmp_path: Path) -> None:
    hostile = b'{"x": "</script><script>alert(1)</script>"}'
    with psycopg.connect(db) as conn:
        run = conn.execute("INSERT INTO obsdb_load_runs (obsdb_version, totals, finished_at, status) VALUES "
                           "('t', '{\"rows_loaded\": 10, \"rejected\": 3}', now(), 'ok') RETURNING run_id").fetchone()
        fid = conn.execute("INSERT INTO obsdb_ingest_files (head_sha256, prefix_digest, first_path, last_path) "
                           "VALUES ('h', 'p', 'a.jsonl', 'a.jsonl') RETURNING file_id").fetchone()
        assert run is not None and fid is not None
        for line, reason in ((1, "timestamp has no time-zone offset (ambiguous): '1'"),
                             (2, "timestamp has no time-zone offset (ambiguous): '2'"), (3, "missing required field")):
            conn.execute("INSERT INTO obsdb_rejects (file_id, line_no, path, byte_offset, field, reason, raw_line, "
                         "run_id) VALUES (%s, %s, 'a.jsonl', 0, 'ts', %s, %s, %s)",
                         (fid[0], line, reason, hostile, run[0]))
        groups = queries.reject_reasons(conn)
    assert [(g["kind"], g["count"], g["line_no"]) for g in groups] == [
        ("timestamp has no time-zone offset (ambiguous)", 2, 1), ("missing required field", 1, 3)]
    out = tmp_path / "r.html"
    api.report(ReportOptions(output=out), settings=settings_for(db))
    assert b"</script><script>alert" not in out.read_bytes()
    assert page_data(out)["rejects"][0][6] == hostile.decode()
    assert page_data(out)["runs"][0][6] == 10


def test_portfolio_weights_against_the_targets_in_force(db: str, tmp_path: Path) -> None:
    at = kst(FRI, 15, 0)
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO portfolio_policy (policy_id, name, valid_from) VALUES ('p', 'p', '2026-01-01')")
        conn.execute("INSERT INTO portfolio_snapshot (account_id, snapshot_time, cash, total_value, policy_id)"
                     " VALUES ('acct', %s, 200, 1000, 'p')", (at,))
        conn.execute("INSERT INTO portfolio_positions (symbol, account_id, snapshot_time, quantity, market_value,"
                     " weight) VALUES ('AAA', 'acct', %s, 1, 500, 0.5), ('BBB', 'acct', %s, 1, 300, NULL)", (at, at))
        conn.execute("INSERT INTO target_weights (symbol, policy_id, as_of, weight) VALUES"
                     " ('AAA', 'p', %s, 0.4), ('CCC', 'p', %s, 0.2),"
                     " ('AAA', 'p', %s, 0.9)", (kst(FRI, 8, 0), kst(FRI, 8, 0), kst(FRI, 16, 0)))  # the last: later
        rows = queries.portfolio(conn)
    got = {r["symbol"]: (r["weight"], r["target"]) for r in rows}
    assert got == {"AAA": (Decimal("0.5"), Decimal("0.4")), "BBB": (Decimal("0.3"), None),
                   "CCC": (None, Decimal("0.2"))}
    assert rows[0]["cash_weight"] == Decimal("0.2")
    out = tmp_path / "r.html"
    api.report(ReportOptions(output=out), settings=settings_for(db))
    assert page_data(out)["portfolio"]["accounts"][0]["rows"][0][:3] == ["AAA", 0.5, 0.4]


def test_bad_options_are_clear_errors(db: str, tmp_path: Path) -> None:
    settings = settings_for(db)
    with pytest.raises(ReportError, match="not a KRX trading day"):
        api.report(ReportOptions(output=tmp_path / "r.html", day=date(2026, 2, 14)), settings=settings)
    with pytest.raises(ReportError, match="is after"):
        api.report(ReportOptions(output=tmp_path / "r.html", start=THU, end=FRI), settings=settings)
    with pytest.raises(ReportError, match="at most"):
        api.report(ReportOptions(output=tmp_path / "r.html", start=date(2020, 1, 1), end=THU), settings=settings)
    proc = run_obsdb("report", "-o", str(tmp_path / "r.html"), "--day", "2026-02-14", env=obsdb_env(db))
    assert proc.returncode == 2 and "not a KRX trading day" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_json_says_where_and_how_big(db: str, tmp_path: Path) -> None:
    seed(db)
    out = tmp_path / "sub" / "r.html"
    proc = run_obsdb("report", "-o", str(out), "--from", "2026-02-13", "--to", "2026-02-19", "--symbol", "AAA",
                     "--symbol", "BBB", "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    got = orjson.loads(proc.stdout)
    assert got["output"] == str(out) and got["bytes"] == out.stat().st_size
    assert got["counts"]["symbols"] == 2 and got["counts"]["cells"] == 4 and got["counts"]["trading_days"] == 2
    assert (got["from"], got["to"], got["day"]) == ("2026-02-13", "2026-02-19", "2026-02-13")
    text = run_obsdb("report", "-o", str(out), env=obsdb_env(db))
    assert text.returncode == 0 and "Wrote" in text.stdout and "r.html" in text.stdout


def test_database_without_schema(empty_db: str, tmp_path: Path) -> None:
    proc = run_obsdb("report", "-o", str(tmp_path / "r.html"), env=obsdb_env(empty_db))
    assert proc.returncode != 0 and "obsdb migrate" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.html").exists()
