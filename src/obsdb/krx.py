"""KRX market conventions: Korea Standard Time and the trading calendar (exchange-calendars XKRX).

The calendar is loaded lazily (it imports pandas, ~2 s) and every lookup is cached by date, so the
loader's per-row checks are dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from typing import Any

#: KST has no daylight saving: a fixed offset is exact and much faster than a ZoneInfo.
KST = timezone(timedelta(hours=9), "KST")

#: The opening call auction starts 30 minutes before the open; the closing print can come a few
#: seconds after the close; after-hours trading runs from 15:40 to 18:00.
PRE_OPEN = timedelta(minutes=30)
CLOSE_SLACK = timedelta(seconds=30)
AFTER_HOURS_END = time(18, 0)


@dataclass(frozen=True)
class Session:
    """One trading day's regular session, as aware datetimes."""

    day: date
    open: datetime
    close: datetime

    @property
    def late_open(self) -> bool:
        return self.open.astimezone(KST).time() != time(9, 0)


@cache
def _calendar() -> Any:
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():  # the library's own pandas deprecations are not ours to show
        warnings.simplefilter("ignore")
        return xcals.get_calendar("XKRX", start="2000-01-04")


@cache
def session(day: date) -> Session | None:
    """The regular session of ``day`` (a KST date), or None when KRX does not trade that day."""
    cal = _calendar()
    label = day.isoformat()
    if label < str(cal.first_session.date()) or label > str(cal.last_session.date()):
        # Outside the library's range: weekdays only, no holiday knowledge (said in the docs).
        if day.weekday() >= 5:
            return None
        return Session(day, datetime.combine(day, time(9, 0), KST), datetime.combine(day, time(15, 30), KST))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not cal.is_session(label):
            return None
        opened = cal.session_open(label).to_pydatetime().astimezone(KST)
        closed = cal.session_close(label).to_pydatetime().astimezone(KST)
    return Session(day, opened, closed)


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
def time_class_bounds(day: date) -> tuple[datetime, datetime, datetime] | None:
    """(auction start, close + slack, after-hours end) for a trading day, else None."""
    s = session(day)
    if s is None:
        return None
    return s.open - PRE_OPEN, s.close + CLOSE_SLACK, datetime.combine(day, AFTER_HOURS_END, KST)


def time_flag(ts: datetime, day: date) -> str | None:
    """None inside the session (auctions included); else ``after_hours``, ``outside_session`` or
    ``non_trading_day``. ``day`` is the KST date of ``ts`` (callers usually have it already)."""
    bounds = time_class_bounds(day)
    if bounds is None:
        return "non_trading_day"
    start, close, after_end = bounds
    if start <= ts <= close:
        return None
    if close < ts <= after_end:
        return "after_hours"
    return "outside_session"
