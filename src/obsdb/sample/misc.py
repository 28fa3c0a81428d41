"""Non-market lines (gap ledgers G, slot/overflow/pattern records H, symbol lists I) and the
damaged lines a loader must reject: each kept consistent with the simulated ticks they describe."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from obsdb.sample.files import Record, dumps
from obsdb.sample.market import Day, Span, Trade


def session_id(rng: random.Random) -> str:
    """A collector run id like ``observer-6f1c2d9e-...`` (deterministic: drawn from ``rng``)."""
    return f"observer-{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _whole_second_after(at: datetime) -> datetime:
    return at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at


def _around(ticks: Sequence[Trade], span: Span) -> tuple[Trade | None, Trade | None]:
    """Last received tick before ``span`` and first one after it."""
    before = [t for t in ticks if t.received_at is not None and t.received_at < span.start]
    after = [t for t in ticks if t.received_at is not None and t.received_at >= span.end]
    return (before[-1] if before else None), (after[0] if after else None)


def gap_records(day: Day, span: Span, codes: Sequence[str]) -> list[Record]:
    """Shape G: one line per symbol, written when its ticks resume (the gap is then known)."""
    out: list[tuple[datetime, Record]] = []
    for code in codes:
        last, first = _around(day.received([code]), span)
        if last is None or first is None or last.received_at is None or first.received_at is None:
            continue
        detected = _whole_second_after(first.received_at)
        seconds = (detected - last.received_at).total_seconds()
        out.append(
            (
                detected,
                {
                    "track_type": "track_b",
                    "symbol": code,
                    "gap_type": "major" if seconds >= 60 else "minor",
                    "gap_duration_seconds": round(seconds, 3),
                    "last_update": last.received_at.isoformat(),
                    "detected_at": detected.isoformat(),
                    "expected_interval_seconds": 2,
                },
            )
        )
    out.sort(key=lambda x: (x[0], x[1]["symbol"]))
    return [r for _, r in out]


def gap_doc_record(day: Day, span: Span, session: str) -> Record:
    """Shape G, documented alternative: one line for a whole-feed gap, observed edges."""
    last, first = _around(day.received(), span)
    assert last is not None and first is not None and last.received_at and first.received_at
    return {
        "timestamp": _whole_second_after(first.received_at).isoformat(),
        "gap_start_ts": last.received_at.isoformat(),
        "gap_end_ts": first.received_at.isoformat(),
        "gap_seconds": round((first.received_at - last.received_at).total_seconds(), 3),
        "scope": "all_symbols",
        "reason": "websocket_no_data",
        "session_id": session,
    }


def slot_records(at: datetime, codes: Sequence[str], session: str, rng: random.Random) -> list[Record]:
    """Shape H: WebSocket slot assignments written when the collector subscribes."""
    out: list[Record] = []
    for slot, code in enumerate(codes):
        at += timedelta(seconds=rng.uniform(0.01, 0.2))
        out.append(
            {
                "timestamp": at.isoformat(),
                "symbol": code,
                "slot_id": slot,
                "trigger_type": "universe",
                "priority_score": round(rng.uniform(0.5, 1.0), 4),
                "session_id": session,
            }
        )
    return out


def overflow_records(at: datetime, codes: Sequence[str], max_slots: int, rng: random.Random) -> list[Record]:
    """Shape H: symbols that wanted a slot when all were taken."""
    out: list[Record] = []
    for code in codes:
        at += timedelta(seconds=rng.uniform(0.01, 0.2))
        out.append(
            {
                "timestamp": at.isoformat(),
                "symbol": code,
                "reason": "slots_full",
                "trigger_type": "volume_surge",
                "priority_score": round(rng.uniform(0.1, 0.5), 4),
                "max_slots": max_slots,
            }
        )
    return out


def pattern_record(at: datetime, t: Trade, n: int) -> Record:
    """Shape H: an analysis pattern snapshot that lives in a data folder but is not market data."""
    return {
        "snapshot": {
            "meta": {"symbol": t.symbol, "captured_at": at.isoformat(), "version": 1},
            "context": {"market_phase": "regular", "day_open": t.open, "day_high": t.high, "day_low": t.low},
            "observation": {"price": t.price, "change_rate": t.change_rate, "pattern": "range_break"},
        },
        "pattern_id": f"p-{at:%Y%m%d}-{n:04d}",
        "label": None,
    }


def symbol_list(day: date, codes: Sequence[str], *, compact_date: bool = False) -> str:
    """Shape I: a dated universe file (plain JSON), sometimes with ``date`` as ``YYYYMMDD``."""
    doc: dict[str, Any] = {
        "metadata": {
            "date": f"{day:%Y%m%d}" if compact_date else day.isoformat(),
            "market": "kr_stocks",
            "count": len(codes),
            "source": "kis_master",
            "generated_at": f"{day.isoformat()}T08:30:00+09:00",
        },
        "symbols": sorted(codes),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# Damaged lines: each replaces a real record, as a crash or a bug would have.


def naive_time(record: Record) -> str:
    """The record with its time stripped of the offset (ambiguous: must be rejected)."""
    key = "timestamp" if "timestamp" in record else "ts"
    naive = datetime.fromisoformat(record[key]).replace(tzinfo=None).isoformat()
    return dumps({**record, key: naive})


def missing_symbol(record: Record) -> str:
    return dumps({k: v for k, v in record.items() if k != "symbol"})


def price_as_text(record: Record) -> str:
    """``price`` (or ``price.current``) as a string such as ``"abc"``."""
    if isinstance(record["price"], dict):
        return dumps({**record, "price": {**record["price"], "current": "abc"}})
    return dumps({**record, "price": "abc"})


def truncated(record: Record) -> str:
    """A line cut mid-JSON (a crash); also the shape of an incomplete last line."""
    text = dumps(record)
    return text[: len(text) * 11 // 20]


def glued(first: Record, second: Record) -> str:
    """A partial line and the next full one on one line: a restart that lost the newline."""
    return truncated(first) + dumps(second)


def zero_filled(record: Record) -> str:
    """NUL bytes where a line was (a file system that lost the data after a crash)."""
    return "\x00" * len(dumps(record))
