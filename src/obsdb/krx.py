"""KRX market conventions: Korea Standard Time and the trading calendar (exchange-calendars XKRX).

Building the XKRX calendar takes about two seconds (pandas, lunar holidays), so its sessions are
kept in a small cache file keyed by the library's version and the month it was built, and every
lookup is cached by date: the loader's per-row checks are dictionary lookups and integer compares.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from importlib.metadata import version
from pathlib import Path

import orjson

#: KST has no daylight saving: a fixed offset is exact and much faster than a ZoneInfo.
KST = timezone(timedelta(hours=9), "KST")

#: The opening call auction starts 30 minutes before the open; the closing print can come a few
#: seconds after the close; after-hours trading runs from 15:40 to 18:00.
PRE_OPEN = timedelta(minutes=30)
CLOSE_SLACK = timedelta(seconds=30)
AFTER_HOURS_END = time(18, 0)
CALENDAR_START = "2000-01-04"


@dataclass(frozen=True)
class Session:
    """One trading day's regular session, as aware datetimes."""

    day: date
    open: datetime
    close: datetime

    @property
    def late_open(self) -> bool:
        return self.open.astimezone(KST).time() != time(9, 0)


def _cache_file() -> Path:
    base = os.environ.get("OBSDB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "obsdb")
    today = date.today()
    return Path(base) / f"xkrx-{version('exchange-calendars')}-{today:%Y%m}.json"


def _build() -> dict[str, list[int]]:
    """{ISO date: [open, close] as Unix seconds} for every XKRX session the library knows."""
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():  # the library's own pandas deprecations are not ours to show
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XKRX", start=CALENDAR_START)
        schedule = cal.schedule
        return {
            day.date().isoformat(): [int(o.timestamp()), int(c.timestamp())]
            for day, o, c in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
        }


@cache
def _sessions() -> tuple[dict[str, list[int]], str, str]:
    path = _cache_file()
    try:
        table = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        table = _build()
        try:  # best effort: a read-only home only costs the two seconds again next time
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                tmp.write(orjson.dumps(table))
            os.replace(tmp.name, path)
        except OSError:
            pass
    days = sorted(table)
    return table, days[0], days[-1]


@cache
def session(day: date) -> Session | None:
    """The regular session of ``day`` (a KST date), or None when KRX does not trade that day."""
    table, first, last = _sessions()
    label = day.isoformat()
    if label < first or label > last:
        # Outside the library's range: weekdays only, no holiday knowledge (said in the docs).
        if day.weekday() >= 5:
            return None
        return Session(day, datetime.combine(day, time(9, 0), KST), datetime.combine(day, time(15, 30), KST))
    bounds = table.get(label)
    if bounds is None:
        return None
    return Session(day, datetime.fromtimestamp(bounds[0], KST), datetime.fromtimestamp(bounds[1], KST))


def trading_days(start: date, end: date) -> list[date]:
    """KRX sessions from ``start`` to ``end`` inclusive."""
    days = []
    d = start
    while d <= end:
        if session(d) is not None:
            days.append(d)
        d += timedelta(days=1)
    return days


def kst_date(ts: datetime) -> date:
    return ts.astimezone(KST).date()


@cache
def session_seconds(day: date) -> tuple[int, int, int] | None:
    """Seconds of the KST day: (auction start, close + slack, after-hours end), or None."""
    s = session(day)
    if s is None:
        return None
    midnight = datetime.combine(day, time(0), KST)
    return (int((s.open - PRE_OPEN - midnight).total_seconds()),
            int((s.close + CLOSE_SLACK - midnight).total_seconds()),
            AFTER_HOURS_END.hour * 3600)


def time_flag(ts: datetime, day: date) -> str | None:
    """None inside the session (auctions included); else ``after_hours``, ``outside_session`` or
    ``non_trading_day``. ``day`` is the KST date of ``ts`` (callers usually have it already)."""
    bounds = session_seconds(day)
    if bounds is None:
        return "non_trading_day"
    k = ts if ts.utcoffset() == _NINE_HOURS else ts.astimezone(KST)
    second = k.hour * 3600 + k.minute * 60 + k.second + (1 if k.microsecond else 0)
    start, close, after_end = bounds
    if start <= second <= close:
        return None
    if close < second <= after_end:
        return "after_hours"
    return "outside_session"


_NINE_HOURS = timedelta(hours=9)
