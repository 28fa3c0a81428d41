"""The sample archive: which day, layout, shape and fault goes where (docs/formats.md).

Days: 2026-01-26 (older test data), 01-27 (early collector, mis-mapped ticks), 01-28/29
(documented and mock formats), Fri 01-30 and Mon 02-02 (production), and the weekend between them
(swing polls repeating Friday). Monday also has obsdb's own portfolio and analysis records
(``portfolio/``, ``analysis/``). The manifest says what was written, so tests of the loader can
compare what it loaded with what is there.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from obsdb.sample import misc, records
from obsdb.sample.files import PlannedFile, Record, dumps, gzip_bytes, zstd_bytes
from obsdb.sample.market import SYMBOLS, Day, DayPlan, Span, Trade, Window, kst, simulate
from obsdb.sample.swing import shape_f, shape_f_flat, shape_f_mock, sweeps
from obsdb.sample.ticks import bars_e, shape_a, shape_b, shape_b_mismapped, shape_b_old, shape_c, shape_d

CODES = tuple(s.code for s in SYMBOLS)
OVERFLOW_CODES = ("000270", "005380", "035720", "105560", "055550")  # wanted a slot, got none
TEST, EARLY, DOC, MOCK = date(2026, 1, 26), date(2026, 1, 27), date(2026, 1, 28), date(2026, 1, 29)
FRI, SAT, SUN, MON = date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2)
FRI_OUTAGE = Span(kst(FRI, 10, 10, 20), kst(FRI, 10, 11, 0))  # 40 s, right after the 10:10 boundary
MON_OUTAGE = Span(kst(MON, 13, 5, 5), kst(MON, 13, 5, 30))  # 25 s
QUIET = ("207940", Span(kst(MON, 9, 0, 30), kst(MON, 9, 1, 30)))  # 60 s without a trade


@dataclass(frozen=True)
class SampleManifest:
    """What :func:`write_sample_archive` wrote. ``lines_by_shape`` counts each distinct file once:
    the copies listed in ``duplicate_files`` are not counted again; symbol lists are not lines."""

    root: Path
    files: tuple[Path, ...]
    lines_by_shape: Mapping[str, int]
    symbol_lists: int
    duplicate_files: tuple[tuple[Path, Path], ...]
    trading_days: tuple[date, ...]
    outages: tuple[tuple[datetime, datetime], ...]


def _plans(scale: int) -> list[DayPlan]:
    s = float(scale)
    return [
        DayPlan(TEST, (Window(kst(TEST, 10, 0), kst(TEST, 10, 0, 6)),)),
        DayPlan(EARLY, (Window(kst(EARLY, 9, 0), kst(EARLY, 9, 0, 40), s),)),
        DayPlan(DOC, (Window(kst(DOC, 9, 0), kst(DOC, 9, 10)),)),
        DayPlan(
            MOCK,
            (Window(kst(MOCK, 9, 30), kst(MOCK, 9, 30, 15)), Window(kst(MOCK, 10, 0), kst(MOCK, 10, 0, 15))),
        ),
        DayPlan(
            FRI,
            (Window(kst(FRI, 9, 0), kst(FRI, 9, 1), s), Window(kst(FRI, 10, 9, 20), kst(FRI, 10, 11, 30), s)),
            outages=(FRI_OUTAGE,),
        ),
        DayPlan(
            MON,
            (
                Window(kst(MON, 9, 0), kst(MON, 9, 1, 40), s),
                Window(kst(MON, 13, 4, 40), kst(MON, 13, 5, 50), s),
            ),
            outages=(MON_OUTAGE,),
            quiet=(QUIET,),
        ),
    ]


Entries = list[tuple[str, Record]]
_FAULTS: dict[str, tuple[str, Callable[[Record], str]]] = {
    "truncated": ("bad_json", misc.truncated),
    "zero_filled": ("bad_json", misc.zero_filled),
    "naive_time": ("bad_naive_time", misc.naive_time),
    "no_symbol": ("bad_missing_field", misc.missing_symbol),
    "text_price": ("bad_type", misc.price_as_text),
}

_NOT_MARKET = {"H_slot", "H_overflow", "H_pattern", "G", "G_doc"}


class _Builder:
    """Collects planned files, copies and symbol lists before anything touches the disk."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.files: dict[str, PlannedFile] = {}
        self.copies: list[tuple[str, str]] = []  # (copy, original); the codec follows the suffix
        self.lists: dict[str, str] = {}

    def rng(self, name: str) -> random.Random:
        """An independent stream per part, so changing one part leaves the others' bytes alone."""
        return random.Random(f"{self.seed}:{name}")

    def file(self, rel: str) -> PlannedFile:
        return self.files.setdefault(rel, PlannedFile(rel))

    def emit(
        self, rel: str, entries: Entries, faults: Sequence[str] = (), *, rng: random.Random
    ) -> PlannedFile:
        """Write ``entries``, replacing records at random inner positions by the named faults."""
        # Market records away from the file's edges; step 2: a glued line also consumes the next one.
        inner = [
            i for i in range(5, len(entries) - 6, 2) if not {entries[i][0], entries[i + 1][0]} & _NOT_MARKET
        ]
        at = dict(zip(sorted(rng.sample(inner, len(faults))), faults, strict=True))
        pf, skip = self.file(rel), False
        for i, (shape, rec) in enumerate(entries):
            kind = at.get(i)
            if skip:
                skip = False
            elif kind is None:
                pf.add(shape, rec)
            elif kind in ("blank", "spaces"):
                pf.add_raw("blank", "" if kind == "blank" else "   ")
                pf.add(shape, rec)
            elif kind == "glued":
                pf.add_raw("bad_json", misc.glued(rec, entries[i + 1][1]))
                skip = True
            else:
                shape, fn = _FAULTS[kind]
                pf.add_raw(shape, fn(rec))
        return pf

    def swing(
        self,
        day: Day | None,
        start: datetime,
        end: datetime,
        session: str,
        *,
        values: Callable[[str, datetime], Trade] | None = None,
        utc_z: bool = False,
    ) -> Entries:
        """Shape F polls; ``values`` overrides the market state (weekend polls repeat Friday)."""
        rng = self.rng(f"swing:{start.date()}")
        out: Entries = []
        for ts, code in sweeps(start + timedelta(seconds=rng.uniform(0, 60)), end, CODES, rng):
            state = values(code, ts) if values else _state(day, code, ts)
            out.append(("F_utc" if utc_z else "F", shape_f(ts, state, session, utc_z=utc_z)))
        return out


def _state(day: Day | None, code: str, at: datetime) -> Trade:
    state = day.state_at(code, at) if day else None
    assert state is not None, f"no trade of {code} before {at}"
    return state


def _older_and_early(b: _Builder, test: Day, early: Day) -> None:
    rng = b.rng("early")
    sess = misc.session_id(rng)
    b.emit(
        "data/observer/scalp/20260126_test.jsonl",
        [("B_old", shape_b_old(t, "test-session")) for t in test.received(["005930"])],
        rng=rng,
    )
    ticks = early.received()
    entries: Entries = [("B", shape_b(t, sess, trade_count=True)) for t in ticks]
    for n, i in enumerate(sorted(rng.sample(range(10, len(ticks) - 10), 9))):
        entries[i] = ("B_mismapped", shape_b_mismapped(ticks[i], sess, (-1, 1, 2)[n % 3]))
    b.emit("config/observer/scalp/20260127.jsonl", entries, rng=rng)
    swing = b.swing(early, kst(EARLY, 9, 0, 30), kst(EARLY, 11, 0), misc.session_id(rng), utc_z=True)
    b.emit("config/observer/swing/20260127.jsonl", swing, rng=rng)
    b.lists["universe/20260127_kr_stocks.json"] = misc.symbol_list(EARLY, CODES)


def _documented(b: _Builder, doc: Day, mock: Day) -> None:
    """Seed layout (``data/observer/``): documented flat C/E/F and the mock D/F shapes."""
    rng = b.rng("documented")
    c_ticks = doc.received(("005930", "000660", "035420", "0004V0"), Span(kst(DOC, 9, 0), kst(DOC, 9, 0, 20)))
    b.emit(
        "data/observer/scalp/20260128.jsonl",
        [("C", shape_c(t, "s1")) for t in c_ticks],
        ["no_symbol"],
        rng=rng,
    )
    b.emit(
        "data/observer/scalp/20260128_bars.jsonl",
        [("E", r) for r in bars_e(doc, CODES, kst(DOC, 9, 0), 10, "s1")],
        rng=rng,
    )
    flat = [
        ("F_flat", shape_f_flat(bt, _state(doc, code, bt), "s1"))
        for bt in (kst(DOC, 9, 10) + timedelta(minutes=10 * k) for k in range(6))
        for code in CODES
    ]
    b.emit("data/observer/snapshot/20260128.jsonl", flat, rng=rng)
    z_ticks = mock.received(
        ("068270", "051910", "005930", "028260"), Span(kst(MOCK, 10, 0), kst(MOCK, 10, 0, 15))
    )
    b.emit(
        "data/observer/scalp/20260129.jsonl",
        [("C_z_kst", shape_c(t, "s2", kst_clock_as_z=True)) for t in z_ticks],
        rng=rng,
    )
    d_ticks = mock.received(("028260", "035420", "207940"), Span(kst(MOCK, 9, 30), kst(MOCK, 9, 30, 15)))
    b.emit(
        "data/observer/scalp/20260129_mock.jsonl",
        [("D", shape_d(t)) for t in d_ticks],
        ["text_price"],
        rng=rng,
    )
    polls = sweeps(kst(MOCK, 9, 5, 7), kst(MOCK, 9, 45), CODES, rng)
    b.emit(
        "data/observer/snapshot/20260129_mock.jsonl",
        [("F_mock", shape_f_mock(ts, _state(mock, code, ts))) for ts, code in polls],
        rng=rng,
    )


def _window(day: Day, w: Window) -> list[Trade]:
    return day.received(span=Span(w.start, w.end + timedelta(seconds=2)))


def _friday(b: _Builder, fri: Day) -> None:
    """Middle layout (``config/scalp``, ``config/swing``), its copies, and the 40 s outage."""
    rng = b.rng("friday")
    sess = misc.session_id(rng)
    w09, w10 = fri.plan.windows
    entries: Entries = [("A", shape_a(t, sess)) for t in _window(fri, w09)]
    for i in rng.sample(range(len(entries)), 3):
        entries[i][1]["volume"]["trade_value"] = None
    b.emit("config/scalp/20260130_09.jsonl", entries, ["truncated", "naive_time", "blank", "blank"], rng=rng)
    entries = [
        ("B", shape_b(t, sess, trade_count=False)) if t.symbol == "0004V0" else ("A", shape_a(t, sess))
        for t in _window(fri, w10)
    ]
    b.emit("config/scalp/20260130_10.jsonl", entries, ["zero_filled"], rng=rng)
    swing = b.swing(fri, kst(FRI, 9, 0, 30), kst(FRI, 15, 30), misc.session_id(rng))
    pf = b.emit("config/swing/20260130.jsonl", swing, ["blank"], rng=rng)
    pf.crlf = pf.bom = True
    gap = b.file("logs/system/gap_20260130.jsonl")
    for r in misc.gap_records(fri, FRI_OUTAGE, CODES):
        gap.add("G", r)
    gap.add("G_doc", misc.gap_doc_record(fri, FRI_OUTAGE, sess))
    b.lists["universe/20260130_kr_stocks.json"] = misc.symbol_list(FRI, CODES + OVERFLOW_CODES)
    b.copies += [
        ("data/assets/scalp/20260130_09.jsonl", "config/scalp/20260130_09.jsonl"),
        ("data/assets/scalp/20260130_10.jsonl.gz", "config/scalp/20260130_10.jsonl"),
        ("data/assets/swing/20260130.jsonl.zst", "config/swing/20260130.jsonl"),
    ]


def _weekend(b: _Builder, fri: Day) -> None:
    """Swing polls kept running on Saturday and Sunday, repeating Friday's last values."""
    sess = misc.session_id(b.rng("weekend"))
    for day in (SAT, SUN):
        swing = b.swing(None, kst(day, 10, 0), kst(day, 11, 0), sess, values=lambda code, _ts: fri.last(code))
        b.emit(f"data/assets/swing/{day:%Y%m%d}.jsonl", swing, rng=b.rng(f"weekend:{day}"))
    b.lists["symbols/20260131_kr_stocks.json"] = misc.symbol_list(
        SAT, CODES + OVERFLOW_CODES, compact_date=True
    )


def _monday(b: _Builder, mon: Day) -> None:
    """Current layout (``data/assets``), ledgers, the 25 s outage, the quiet symbol, a file still
    being written."""
    rng = b.rng("monday")
    sess = misc.session_id(rng)
    w09, w13 = mon.plan.windows
    start = kst(MON, 8, 59, 58)
    entries: Entries = [("H_slot", r) for r in misc.slot_records(start, CODES, sess, rng)]
    entries += [("A", shape_a(t, sess)) for t in _window(mon, w09)]
    b.emit("data/assets/scalp/20260202_09.jsonl", entries, ["glued", "text_price"], rng=rng)
    b.file("logs/system/overflow_20260202.jsonl").lines += [
        ("H_overflow", dumps(r)) for r in misc.overflow_records(start, OVERFLOW_CODES, len(CODES), rng)
    ]
    entries = [("A", shape_a(t, sess)) for t in _window(mon, w13)]
    for i in rng.sample(range(len(entries)), 3):
        entries[i][1]["execution_time"] = None
    pf = b.emit("data/assets/scalp/20260202_13.jsonl", entries[:-1], ["no_symbol"], rng=rng)
    pf.tail = misc.truncated(entries[-1][1])

    swing = b.swing(mon, kst(MON, 9, 0, 30), kst(MON, 15, 30), misc.session_id(rng))
    for n, code in enumerate(rng.sample(CODES, 4)):
        at = kst(MON, 10, 0) + timedelta(seconds=rng.uniform(0, 5 * 3600))
        swing.append(("H_pattern", misc.pattern_record(at, _state(mon, code, at), n + 1)))
    swing.sort(key=lambda e: str(e[1].get("ts") or e[1]["snapshot"]["meta"]["captured_at"]))
    b.emit("data/assets/swing/20260202.jsonl", swing, ["naive_time", "spaces"], rng=rng)

    gap = b.file("logs/system/gap_20260202.jsonl")
    for r in misc.gap_records(mon, QUIET[1], [QUIET[0]]) + misc.gap_records(mon, MON_OUTAGE, CODES):
        gap.add("G", r)
    gap.add("G_doc", misc.gap_doc_record(mon, MON_OUTAGE, sess))
    b.lists["universe/20260202_kr_stocks.json"] = misc.symbol_list(MON, CODES + OVERFLOW_CODES)


def _records(b: _Builder, mon: Day) -> None:
    """obsdb's own JSONL formats: a portfolio rebalance cycle and analysis signals (parents first)."""
    pf = b.file("portfolio/20260202_portfolio.jsonl")
    for shape, rec in records.portfolio(mon, b.rng("portfolio")):
        pf.add(shape, rec)
    pf = b.file("analysis/20260202_signals.jsonl")
    for shape, rec in records.analysis(mon, CODES):
        pf.add(shape, rec)


def write_sample_archive(root: Path, *, seed: int = 20260202, scale: int = 1) -> SampleManifest:
    """Write a deterministic sample archive under ``root`` (same seed and scale: same bytes).

    Only the files listed in the manifest are created or overwritten; nothing is deleted.
    ``scale`` multiplies the tick rate of the sampled windows (more ticks, same times and faults).
    """
    if scale < 1:
        raise ValueError("scale must be >= 1")
    root = Path(root)
    plans = _plans(scale)
    test, early, doc, mock, fri, mon = simulate(plans, SYMBOLS, seed)
    b = _Builder(seed)
    _older_and_early(b, test, early)
    _documented(b, doc, mock)
    _friday(b, fri)
    _weekend(b, fri)
    _monday(b, mon)
    _records(b, mon)

    rendered = {rel: pf.render() for rel, pf in b.files.items()}
    blobs = dict(rendered)
    for copy, original in b.copies:
        data = rendered[original]
        blobs[copy] = (
            gzip_bytes(data) if copy.endswith(".gz") else zstd_bytes(data) if copy.endswith(".zst") else data
        )
    blobs.update({rel: text.encode("utf-8") for rel, text in b.lists.items()})
    for rel, data in blobs.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    counts: Counter[str] = Counter()
    for pf in b.files.values():
        counts.update(pf.counts())
    return SampleManifest(
        root=root,
        files=tuple(sorted(root / rel for rel in blobs)),
        lines_by_shape=MappingProxyType(dict(sorted(counts.items()))),
        symbol_lists=len(b.lists),
        duplicate_files=tuple((root / c, root / o) for c, o in b.copies),
        trading_days=tuple(p.day for p in plans),
        outages=tuple((o.start, o.end) for p in plans for o in p.outages),
    )
