"""Raw rows back into the input shapes they were loaded from, so ``obsdb migrate`` reloads them.

A retired partition is archived as JSONL in the row's own shape (``record_shape``: ticks A-D,
snapshots F and F_mock, see docs/formats.md): the same parser that loaded the original line then
rebuilds the very same row, quality flags included (they are computed from the values). Fields the
loader kept in ``extra`` go back where they came from (dotted paths into their sub-object).

Every line is checked on the way out by parsing it with the loader's own code and comparing the
result with the stored row (:func:`check`): a row this module cannot write faithfully stops the
archive before anything is dropped. Lineage (``src_file_id``, ``src_line``) is the one thing that
cannot survive: the reloaded rows point to the archive file, which is a new ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from obsdb.formats.recognize import recognize
from obsdb.krx import KST

Record = dict[str, Any]
#: Columns that name where a row was loaded from: they change when the archive is reloaded.
LINEAGE = frozenset({"src_file_id", "src_line"})


class Unarchivable(ValueError):
    """A row that no input shape carries back unchanged (the archive is refused, nothing dropped)."""


def _iso(t: datetime) -> str:
    return t.astimezone(KST).isoformat()


def _put(out: Record, **values: Any) -> None:
    for key, value in values.items():
        if value is not None:
            out[key] = value


def _spread(extra: Any, subs: tuple[str, ...]) -> tuple[Record, dict[str, Record]]:
    """``extra`` split into top-level fields and the fields of each sub-object (``price.x``)."""
    top: Record = {}
    nested: dict[str, Record] = {s: {} for s in subs}
    for key, value in (extra or {}).items():
        head, dot, rest = key.partition(".")
        if dot and head in nested:
            nested[head][rest] = value
        else:
            top[key] = value
    return top, nested


def _execution_time(row: Record, top: Record) -> None:
    """HHMMSS when the trade time is a whole second of the receive time's KST day, else full ISO."""
    trade = row["exchange_time"]
    if trade is None:
        return  # absent, or a raw value the loader kept in extra (already in ``top``)
    k = trade.astimezone(KST)
    if k.microsecond == 0 and k.date() == row["event_time"].astimezone(KST).date():
        top["execution_time"] = k.strftime("%H%M%S")
    else:
        top["execution_time"] = _iso(trade)


def _nested_tick(row: Record) -> Record:
    out, sub = _spread(row["extra"], ("price", "volume", "bid_ask"))
    price = sub["price"]
    price["close" if row["record_shape"] == "B" else "current"] = row["last_price"]
    _put(price, open=row["day_open"], high=row["day_high"], low=row["day_low"], change_rate=row["change_rate"])
    volume = sub["volume"]
    _put(volume, accumulated=row["cum_volume"], trade_value=row["cum_trade_value"], current=row["volume"])
    bid_ask = sub["bid_ask"]
    bid_ask.update(bid_price=row["bid_price"], ask_price=row["ask_price"])  # explicit nulls keep it non-empty
    _put(bid_ask, bid_size=row["bid_size"], ask_size=row["ask_size"])
    out.update(timestamp=_iso(row["event_time"]), symbol=row["symbol"], price=price, volume=volume, bid_ask=bid_ask)
    _execution_time(row, out)
    _put(out, trade_count=row["trade_count"], session_id=row["session_id"], source=row["source"])
    return out


def _flat_tick(row: Record) -> Record:
    out = dict(row["extra"] or {})
    out.update(symbol=row["symbol"], event_time=_iso(row["event_time"]))
    _put(out, last_price=row["last_price"], bid_price=row["bid_price"], ask_price=row["ask_price"],
         bid_size=row["bid_size"], ask_size=row["ask_size"], volume=row["volume"],
         mitigation_level=row["mitigation_level"], session_id=row["session_id"], source=row["source"],
         quality_flag=row["source_quality_flag"])
    return out


def _minimal_tick(row: Record) -> Record:
    out = dict(row["extra"] or {})
    out.update(timestamp=_iso(row["event_time"]), symbol=row["symbol"], price=row["last_price"])
    _put(out, volume=row["volume"], source=row["source"])
    return out


def _snapshot(row: Record) -> Record:
    out, sub = _spread(row["extra"], ("price",))
    price = sub["price"]
    _put(price, open=row["day_open"], high=row["day_high"], low=row["day_low"], close=row["price"])
    out.update(ts=_iso(row["snapshot_time"]), symbol=row["symbol"], price=price)
    _put(out, volume=row["cum_volume"], bid_price=row["bid_price"], ask_price=row["ask_price"],
         session=row["session_id"], dataset=row["dataset"], market=row["market"], source=row["source"])
    return out


def _snapshot_mock(row: Record) -> Record:
    out = dict(row["extra"] or {})
    out.update(timestamp=_iso(row["snapshot_time"]), symbol=row["symbol"], price=row["price"])
    _put(out, volume=row["cum_volume"], open=row["day_open"], high=row["day_high"], low=row["day_low"],
         source=row["source"])
    return out


_WRITERS: dict[tuple[str, str], Callable[[Record], Record]] = {
    ("scalp_ticks", "A"): _nested_tick, ("scalp_ticks", "B"): _nested_tick,
    ("scalp_ticks", "C"): _flat_tick, ("scalp_ticks", "D"): _minimal_tick,
    ("swing_snapshots", "F"): _snapshot, ("swing_snapshots", "F_mock"): _snapshot_mock,
}
#: The tables whose partitions can be archived (raw data: its input shapes round-trip).
ARCHIVABLE = frozenset(t for t, _ in _WRITERS)


def parsed(line: bytes) -> Record:
    """What the loader makes of one line: the row's columns (lineage left out)."""
    d = orjson.loads(line)
    shape = recognize(d)
    if shape is None or shape.extract is None:
        raise Unarchivable("the line is no shape obsdb migrate recognises")
    got = shape.extract(d, None, 0)
    values = dict(zip(got[0], got[1], strict=True)) if isinstance(got, tuple) else dict(got)
    return {k: v for k, v in values.items() if k not in LINEAGE}


def _differs(row: Record, back: Record) -> list[str]:
    return [c for c in row if c not in LINEAGE and back.get(c) != row[c]]


def encode(table: str, row: Record) -> bytes:
    """One JSONL line (no newline) that migrate loads back to ``row``; raises Unarchivable if none does."""
    writer = _WRITERS.get((table, row.get("record_shape") or ""))
    if writer is None:
        raise Unarchivable(f"no input shape carries {table} rows of record_shape {row.get('record_shape')!r}")
    line = orjson.dumps(writer(row))
    try:
        back = parsed(line)
    except ValueError as exc:  # FieldError, orjson errors and Unarchivable are all ValueErrors
        raise Unarchivable(f"the archived line would not load again ({exc})") from None
    wrong = _differs(row, back)
    if wrong:
        raise Unarchivable(f"the archived line would load with different {', '.join(wrong)}")
    return line
