"""`obsdb report` rendered in a real headless Chromium (Debian's `chromium`, driven by playwright).

Every request that is not the page's own file is aborted and counted; the page must make none, raise
no script error, draw every section, and show for one heatmap cell the numbers the database holds.
A screenshot is kept under .artifacts/ (and the test's tmp dir). Without Chromium or playwright the
tests skip and say why; `make test` installs Debian's chromium first when it runs as root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from obsdb import api, krx
from obsdb.report import ReportOptions
from tests.helpers import ROOT, settings_for

pytestmark = [pytest.mark.db, pytest.mark.slow]

CHROMIUM = os.environ.get("OBSDB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions"]
ARTIFACTS = ROOT / ".artifacts"


def _browser_or_skip() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]'): browser tests skipped")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set OBSDB_CHROMIUM): "
                    "browser tests skipped")
    return sync_playwright


class Page:
    """One page opened from disk with the network cut off; what it tried and what failed."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1360, "height": 900}, offline=False)
        try:
            yield context
        finally:
            context.close()


def open_report(context: Any, path: Path) -> Page:
    page = Page(context.new_page())

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            page.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.page.goto(path.as_uri())
    page.page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
    return page


def tip(page: Page, selector: str) -> dict[str, str]:
    """Hover ``selector`` and read the tooltip's rows as {key: value text}."""
    page.page.hover(selector)
    page.page.wait_for_selector("#tip:not([hidden])")
    rows = page.page.eval_on_selector_all(
        "#tip .r", "rs => rs.map(r => [r.dataset.k, r.querySelector('.v').textContent])")
    return dict(rows)


def canvas_has_ink(page: Page, selector: str) -> bool:
    """Whether any canvas under ``selector`` holds pixels that are neither blank nor white."""
    return bool(page.page.evaluate("""sel => [...document.querySelectorAll(sel + ' canvas')].some(c => {
        if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4)
            if (d[i + 3] && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) return true;
        return false; })""", selector))


def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def test_sample_archive_report_in_chromium(browser: Any, db: str, tmp_path: Path) -> None:
    from obsdb.sample import write_sample_archive

    settings = settings_for(db)
    write_sample_archive(tmp_path / "observer")
    api.migrate([tmp_path / "observer"], settings=settings)
    out = tmp_path / "report.html"
    result = api.report(ReportOptions(output=out), settings=settings)
    assert result.start is not None and result.end is not None and result.day is not None

    page = open_report(browser, out)
    shot = save_screenshot(page, tmp_path, "report-sample.png")
    assert page.blocked == [] and page.errors == []
    assert shot.stat().st_size > 10_000

    # 1. one cell per symbol and trading day (XKRX: no weekend or holiday columns), plus the feed row
    days = krx.trading_days(result.start, result.end)
    symbols = result.counts["symbols"]
    assert symbols > 0 and len(days) == result.counts["trading_days"]
    assert page.page.locator("#heatmap rect.cell:not(.feed)").count() == symbols * len(days)
    assert page.page.locator("#heatmap rect.cell.feed").count() == len(days)
    # 2. the gap timeline drew the chosen day's gaps, as many as the database holds for it
    drawn = page.page.locator("#timeline rect.gap").count()
    assert drawn > 0 and drawn == _gaps_on(db, result.day)
    # 3. candles: the default symbol's derived 1-minute bars, all of them, on a canvas with ink
    state = page.page.evaluate("window.obsdbReport")
    assert state["candles"] == _bars(db, state["candleSymbol"], result.day) > 0
    assert canvas_has_ink(page, "#chart-1m") and canvas_has_ink(page, "#chart-10m")
    # 4. loads and rejects; 5. the sample holds a portfolio
    assert page.page.locator("#runs-chart rect.run").count() >= 2 * _count(db, "SELECT count(*) FROM obsdb_load_runs")
    assert page.page.locator("#rejects-table tr.reject").count() > 0
    assert page.page.locator("#portfolio").is_visible()
    assert page.page.locator("#portfolio-chart rect.weight").count() > 0

    # the numbers shown for one cell are the database's
    symbol, day, si, di = _busiest_cell(db, result.start, result.end, page)
    shown = tip(page, f'#heatmap rect.cell[data-s="{si}"][data-d="{di}"]')
    s = krx.session(day)
    assert s is not None
    with psycopg.connect(db) as conn:
        n_bars, = conn.execute("SELECT count(*) FROM scalp_1m_bars WHERE symbol = %s AND origin = 'derived' "
                               "AND bar_time >= %s AND bar_time < %s", (symbol, s.open, s.close)).fetchone() or (0,)
        n_gaps, quiet = conn.execute(
            "SELECT count(*),"
            " coalesce(sum(extract(epoch FROM least(gap_end_ts, %(c)s) - greatest(gap_start_ts, %(o)s))), 0)"
            " FROM scalp_gaps WHERE symbol = %(s)s AND scope = 'symbol' AND origin = 'derived'"
            " AND gap_start_ts >= %(o)s AND gap_start_ts <= %(c)s",
            {"s": symbol, "o": s.open, "c": s.close}).fetchone() or (0, 0)
    session = (s.close - s.open).total_seconds()
    assert shown["source"] == "ticks"
    assert shown["bars"] == f"{n_bars:,} of {round(session / 60)} session minutes"
    assert shown["gaps"] == f"{n_gaps:,}"
    assert shown["gap_seconds"] == fmt(float(quiet), 1) + " s"
    assert shown["coverage"] == fmt(100 * round(max(0.0, 1 - float(quiet) / session), 4), 2) + " %"

    # a click on a cell opens its day in the gap timeline
    page.page.click(f'#heatmap rect.cell[data-s="{si}"][data-d="{di}"]')
    assert page.page.evaluate("window.obsdbReport.gapDay") == di
    assert page.page.locator("#timeline rect.gap").count() == _gaps_on(db, day)
    assert page.blocked == [] and page.errors == []


def test_empty_database_still_renders(browser: Any, db: str, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    options = ReportOptions(output=out, start=date(2026, 2, 2), end=date(2026, 2, 6))
    result = api.report(options, settings=settings_for(db))
    page = open_report(browser, out)
    assert page.blocked == [] and page.errors == []
    assert result.counts["symbols"] == 0 and page.page.locator("#heatmap rect.cell.feed").count() == 5
    assert page.page.locator("#chart-1m .empty-state").count() == 1
    assert not page.page.locator("#portfolio").is_visible()
    save_screenshot(page, tmp_path, "report-empty.png")


def _count(db: str, sql: str, params: Any = None) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _gaps_on(db: str, day: date) -> int:
    s = krx.session(day)
    assert s is not None
    return _count(db, "SELECT count(*) FROM scalp_gaps WHERE gap_start_ts >= %s AND gap_start_ts <= %s",
                  (s.open, s.close))


def _bars(db: str, symbol: str, day: date) -> int:
    lo = datetime.combine(day, time(0), krx.KST)
    return _count(db, "SELECT count(*) FROM scalp_1m_bars WHERE symbol = %s AND origin = 'derived' "
                      "AND bar_time >= %s AND bar_time < %s", (symbol, lo, lo + timedelta(days=1)))


def _busiest_cell(db: str, start: date, end: date, page: Page) -> tuple[str, date, int, int]:
    """The (symbol, day) with the most derived bars, and its indexes on the page."""
    lo = datetime.combine(start, time(0), krx.KST)
    hi = datetime.combine(end, time(0), krx.KST) + timedelta(days=1)
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT symbol, (bar_time AT TIME ZONE 'Asia/Seoul')::date FROM scalp_1m_bars WHERE origin = 'derived'"
            " AND bar_time >= %s AND bar_time < %s GROUP BY 1, 2 ORDER BY count(*) DESC, 2 DESC, 1 LIMIT 1",
            (lo, hi)).fetchone()
    assert row is not None
    symbol, day = row
    symbols = page.page.evaluate("JSON.parse(document.getElementById('obsdb-data').textContent).symbols")
    return symbol, day, symbols.index(symbol), krx.trading_days(start, end).index(day)
