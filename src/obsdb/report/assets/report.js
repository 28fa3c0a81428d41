// obsdb report: draws every section from the JSON block #obsdb-data. No network, no eval;
// text goes in with textContent only (values such as reject lines are the user's data).
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("obsdb-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const KST_SHIFT = 9 * 3600;
  const state = { candles: 0, candleSymbol: null, gapDay: null, drawn: {} };
  window.obsdbReport = state;

  // ---------- small helpers ----------
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  const nf = new Intl.NumberFormat("en-US");
  const n0 = (v) => (v === null || v === undefined ? "–" : nf.format(Math.round(v)));
  const n1 = (v) => (v === null || v === undefined ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
  const pct = (r, digits) => (r === null || r === undefined ? "–" : (r / 100).toFixed(digits === undefined ? 1 : digits) + " %");
  const pctf = (w) => (w === null || w === undefined ? "–" : (w * 100).toFixed(2) + " %");
  function kst(t, withDate) {
    if (t === null || t === undefined) return "–";
    const s = new Date((t + KST_SHIFT) * 1000).toISOString();
    return withDate ? s.slice(0, 10) + " " + s.slice(11, 19) : s.slice(11, 19);
  }
  function secs(s) {
    if (s === null || s === undefined) return "–";
    if (s < 120) return n1(s) + " s";
    if (s < 7200) return n1(s / 60) + " min";
    return n1(s / 3600) + " h";
  }
  const WEEKDAY = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const weekday = (iso) => WEEKDAY[new Date(iso + "T00:00:00Z").getUTCDay()];
  function width(node, fallback) { return Math.max(320, (node.clientWidth || fallback || 1200)); }

  // ---------- tooltip ----------
  const tip = document.getElementById("tip");
  function showTip(evt, title, rows) {
    tip.replaceChildren();
    tip.appendChild(el("div", { class: "t" }, title));
    for (const r of rows) {
      const line = el("div", { class: "r", "data-k": r[0] });
      line.appendChild(el("span", {}, r[1]));
      line.appendChild(el("span", { class: "v" }, r[2]));
      tip.appendChild(line);
    }
    tip.hidden = false;
    moveTip(evt);
  }
  function moveTip(evt) {
    const pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
    let x = evt.clientX + pad, y = evt.clientY + pad;
    if (x + w > window.innerWidth - 4) x = evt.clientX - w - pad;
    if (y + h > window.innerHeight - 4) y = evt.clientY - h - pad;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hideTip() { tip.hidden = true; }
  function hover(node, describe) {
    node.addEventListener("mousemove", (evt) => {
      const d = describe(evt.target);
      if (d) showTip(evt, d[0], d[1]); else hideTip();
    });
    node.addEventListener("mouseleave", hideTip);
  }

  // ---------- header ----------
  function header() {
    const m = D.meta;
    document.getElementById("range").textContent = m.from + " – " + m.to;
    document.getElementById("version").textContent = m.obsdb_version;
    document.getElementById("subtitle").textContent = m.database + " · generated " +
      m.generated_at.slice(0, 16).replace("T", " ") + " KST";
    const withData = D.cells.length, total = D.symbols.length * D.days.length;
    const mean = withData ? D.cells.reduce((a, c) => a + c[3], 0) / withData : null;
    const feedGaps = D.feed.reduce((a, f) => a + f[2], 0);
    const rejects = D.rejects.reduce((a, r) => a + r[2], 0);
    const tiles = [
      [n0(D.symbols.length), "symbols"], [n0(D.days.length), "trading days"],
      [n0(withData) + " / " + n0(total), "symbol-days with data"],
      [mean === null ? "–" : pct(mean), "mean coverage (days with data)"],
      [n0(feedGaps), "feed gaps (derived)"], [n0(rejects), "rejected lines"],
    ];
    const box = document.getElementById("tiles");
    for (const t of tiles) {
      const d = el("div", { class: "tile" });
      d.appendChild(el("b", {}, t[0]));
      d.appendChild(el("span", {}, t[1]));
      box.appendChild(d);
    }
  }

  // ---------- 1. coverage heatmap ----------
  const BINS = [5000, 8000, 9500, 9900, 9990];
  const BIN_COLORS = ["#cf7a63", "#e7b48b", "#f1dcc1", "#c3d6e8", "#7fa7cc", "#3e6e9e"];
  const BIN_LABELS = ["0", "50", "80", "95", "99", "99.9", "100 %"];
  function binColor(r) { let i = 0; while (i < BINS.length && r >= BINS[i]) i++; return BIN_COLORS[i]; }
  const SOURCES = ["ticks", "polls", "archived 10-minute bars"];

  function coverageLegend() {
    const lg = document.getElementById("coverage-legend");
    const scale = el("span", { class: "scale" });
    const steps = el("span", { class: "steps" });
    BIN_COLORS.forEach((c) => { const s = el("span", { class: "sw" }); s.style.background = c; steps.appendChild(s); });
    const ticks = el("span", { class: "ticks" });
    BIN_LABELS.slice(0, 6).forEach((t) => ticks.appendChild(el("span", {}, t)));
    scale.appendChild(steps); scale.appendChild(ticks);
    lg.appendChild(el("span", {}, "covered:"));
    lg.appendChild(scale);
    const none = el("span"); const sw = el("span", { class: "sw" });
    sw.style.background = "repeating-linear-gradient(135deg,#eef0f3 0 3px,#d9dee4 3px 4px)";
    none.appendChild(sw); none.appendChild(document.createTextNode("no data")); lg.appendChild(none);
    const dot = el("span"); const dsw = el("span", { class: "sw" });
    dsw.style.background = "radial-gradient(circle,#1f2933 0 2.5px,transparent 3px)";
    dot.appendChild(dsw); dot.appendChild(document.createTextNode("quiet spell inside the session, or an archived gap"));
    lg.appendChild(dot);
  }

  function heatmap() {
    coverageLegend();
    const box = document.getElementById("heatmap");
    const nd = D.days.length, ns = D.symbols.length;
    const byKey = new Map();
    for (const c of D.cells) byKey.set(c[0] * nd + c[1], c);
    const feed = new Map(D.feed.map((f) => [f[0], f]));
    // a day whose ticks were derived but that has no feed gap had a live feed all session
    for (const c of D.cells) if (c[2] === 0 && !feed.has(c[1])) feed.set(c[1], [c[1], 10000, 0, 0, 0]);
    const labelW = 74, top = 34;
    const cw = Math.max(3, Math.min(44, Math.floor((width(box) - labelW - 8) / Math.max(nd, 1))));
    const ch = ns > 30 ? 13 : 17;
    const feedY = top, rowsY = top + ch + 8;
    const W = labelW + cw * nd + 48, H = rowsY + ch * ns + 6;
    const svg = sv("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                            "aria-label": "coverage heatmap" });
    const defs = sv("defs");
    const pat = sv("pattern", { id: "nodata", width: 4, height: 4, patternUnits: "userSpaceOnUse",
                                patternTransform: "rotate(45)" });
    pat.appendChild(sv("rect", { width: 4, height: 4, fill: "#eef0f3" }));
    pat.appendChild(sv("rect", { width: 1, height: 4, fill: "#d9dee4" }));
    defs.appendChild(pat); svg.appendChild(defs);
    // axis: month labels, and day numbers when there is room
    const axis = sv("g", { class: "axis" });
    let lastMonth = "", lastLabel = -1e9;
    D.days.forEach((d, i) => {
      const x = labelW + i * cw;
      const month = d.slice(0, 7);
      if (month !== lastMonth) {
        if (x - lastLabel >= 46) { axis.appendChild(sv("text", { x: x, y: 11 }, month)); lastLabel = x; }
        axis.appendChild(sv("line", { x1: x - 0.5, x2: x - 0.5, y1: 14, y2: H - 4, stroke: "#d5dbe1",
                                      "stroke-width": i === 0 ? 0 : 1 }));
        lastMonth = month;
      }
      if (cw >= 16) axis.appendChild(sv("text", { x: x + cw / 2, y: 27, "text-anchor": "middle" }, d.slice(8)));
    });
    svg.appendChild(axis);
    svg.appendChild(sv("text", { x: labelW - 6, y: feedY + ch / 2 + 4, "text-anchor": "end", "font-weight": 600 }, "feed"));
    D.symbols.forEach((s, i) => svg.appendChild(sv("text", { x: labelW - 6, y: rowsY + i * ch + ch / 2 + 4,
                                                            "text-anchor": "end" }, s)));
    const g = sv("g");
    const gap = cw >= 6 ? 1 : 0;
    for (let di = 0; di < nd; di++) {
      const f = feed.get(di);
      g.appendChild(sv("rect", { class: "cell feed" + (f ? "" : " empty"), x: labelW + di * cw, y: feedY,
        width: cw - gap, height: ch - 1, fill: f ? binColor(f[1]) : "url(#nodata)", "data-d": di, "data-s": -1 }));
    }
    const marks = sv("g", { "pointer-events": "none" });
    for (let si = 0; si < ns; si++) {
      for (let di = 0; di < nd; di++) {
        const c = byKey.get(si * nd + di);
        const x = labelW + di * cw, y = rowsY + si * ch;
        g.appendChild(sv("rect", { class: c ? "cell" : "cell empty", x: x, y: y, width: cw - gap, height: ch - 1,
          fill: c ? binColor(c[3]) : "url(#nodata)", "data-d": di, "data-s": si }));
        if (c && (c[10] > 0 || c[12] > 0)) {
          if (cw >= 7) marks.appendChild(sv("circle", { cx: x + (cw - gap) / 2, cy: y + (ch - 1) / 2,
                                                        r: Math.min(cw, ch) / 6 + 0.6, fill: "#1f2933", opacity: 0.75 }));
          else marks.appendChild(sv("rect", { x: x, y: y + ch - 3, width: cw - gap, height: 2, fill: "#1f2933" }));
        }
      }
    }
    svg.appendChild(g); svg.appendChild(marks);
    box.appendChild(svg);
    hover(svg, (t) => {
      if (!t.classList || !t.classList.contains("cell")) return null;
      const di = +t.dataset.d, si = +t.dataset.s, day = D.days[di], ses = D.sessions[di];
      const f = feed.get(di);
      const session = ["session", "session", kst(ses[0]).slice(0, 5) + "–" + kst(ses[1]).slice(0, 5)];
      const feedRow = ["feed", "feed alive", f ? pct(f[1], 2) : "unknown (no ticks derived that day)"];
      if (si < 0) {
        if (!f) return ["feed · " + day + " (" + weekday(day) + ")", [session, feedRow]];
        return ["feed · " + day + " (" + weekday(day) + ")", [session, feedRow,
          ["feed_gaps", "feed gaps", n0(f[2]) + " derived · " + n0(f[3]) + " archived"],
          ["feed_gap_seconds", "feed quiet", n1(f[4]) + " s"]]];
      }
      const c = byKey.get(si * nd + di);
      const title = D.symbols[si] + " · " + day + " (" + weekday(day) + ")";
      if (!c) return [title, [["coverage", "coverage", "no data"], session, feedRow]];
      return [title, [
        ["coverage", "coverage", pct(c[3], 2)], ["source", "from", SOURCES[c[2]]], session,
        ["bars", "1-minute bars", n0(c[4]) + " of " + n0(c[13]) + " session minutes"],
        ["poll_bars", "10-minute bars from polls", n0(c[6])],
        ["archived_bars", "archived 10-minute bars", n0(c[5])],
        ["gaps", "symbol gaps", n0(c[7])],
        ["gap_seconds", "quiet", n1(c[8]) + " s"],
        ["longest_gap", "longest gap", c[9] === null ? "–" : n1(c[9]) + " s"],
        ["inner_gaps", "inside the session", n0(c[10])],
        ["missed_polls", "missed polls", n0(c[11])],
        ["archived_gaps", "archived gaps", n0(c[12])], feedRow]];
    });
    svg.addEventListener("click", (evt) => {
      const t = evt.target;
      if (t.classList && t.classList.contains("cell")) selectGapDay(+t.dataset.d, +t.dataset.s);
    });
    const note = document.getElementById("coverage-note");
    const parts = ["Hover a cell for its numbers; click it to open that day in the gap timeline."];
    if (D.meta.symbols_cut) parts.push(D.meta.symbols_cut + " more symbols are not drawn: choose them with --symbol.");
    note.textContent = parts.join(" ");
    state.drawn.heatmap = g.childNodes.length;
  }

  // ---------- 2. gap timeline ----------
  const REASON_COLORS = { outage: "#b8432f", collector_down: "#d9735e", no_data: "#7a2e22",
    before_first_tick: "#e0a458", after_last_tick: "#e0a458", no_trades: "#8da9c4", missing_poll: "#8e6bb8" };
  const SPARE = ["#5b8e7d", "#b07aa1", "#9c755f", "#76b7b2", "#edc948", "#59a14f"];
  const reasonColor = (() => {
    const map = {}; let k = 0;
    for (const r of D.reasons) map[r] = REASON_COLORS[r] || SPARE[k++ % SPARE.length];
    return (code) => map[D.reasons[code]];
  })();
  const SCOPE = ["feed", "symbol", "swing"], ORIGIN = ["derived", "archived"];
  const gapsByDay = new Map();
  for (let i = 0; i < D.gaps.length; i++) {
    const g = D.gaps[i];
    if (!gapsByDay.has(g[0])) gapsByDay.set(g[0], []);
    gapsByDay.get(g[0]).push(i);
  }

  function gapLegend() {
    const lg = document.getElementById("gap-legend");
    D.reasons.forEach((r, code) => {
      const s = el("span"); const sw = el("span", { class: "sw" });
      sw.style.background = reasonColor(code); s.appendChild(sw); s.appendChild(document.createTextNode(r));
      lg.appendChild(s);
    });
    const a = el("span"); const sw = el("span", { class: "sw" });
    sw.style.background = "repeating-linear-gradient(90deg,#9aa5b1 0 3px,transparent 3px 5px)";
    a.appendChild(sw); a.appendChild(document.createTextNode("archived (the collector's own ledger): drawn thin, above the lane"));
    lg.appendChild(a);
    if (D.meta.gaps_cut) lg.appendChild(el("span", {}, "(only the longest gaps of the range are drawn)"));
  }

  function timeline() {
    const sel = document.getElementById("gap-day");
    D.days.forEach((d, i) => {
      const n = (gapsByDay.get(i) || []).length;
      sel.appendChild(el("option", { value: i }, d + " " + weekday(d) + (n ? " · " + n + " gaps" : "")));
    });
    sel.addEventListener("change", () => drawDay(+sel.value, -2));
    document.getElementById("gap-prev").addEventListener("click", () => drawDay(Math.max(0, state.gapDay - 1), -2));
    document.getElementById("gap-next").addEventListener("click", () => drawDay(Math.min(D.days.length - 1, state.gapDay + 1), -2));
    gapLegend();
    let start = D.days.indexOf(D.meta.day);
    if (start < 0) start = D.days.length - 1;
    if (start >= 0) drawDay(start, -2);
    else document.getElementById("timeline").appendChild(el("div", { class: "empty-state" }, "No trading days in the range."));
  }

  function selectGapDay(di, si) {
    drawDay(di, si);
    document.getElementById("gaps").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function drawDay(di, highlight) {
    state.gapDay = di;
    document.getElementById("gap-day").value = String(di);
    const box = document.getElementById("timeline");
    box.replaceChildren();
    const ses = D.sessions[di], idx = gapsByDay.get(di) || [];
    const lanes = [-1].concat(D.symbols.map((_, i) => i));
    const labelW = 74, top = 22, laneH = D.symbols.length > 30 ? 12 : 16, feedH = 18;
    const W = width(box), plotW = W - labelW - 16;
    const H = top + feedH + 6 + laneH * D.symbols.length + 6;
    const x = (t) => labelW + (Math.min(Math.max(t, ses[0]), ses[1]) - ses[0]) / (ses[1] - ses[0]) * plotW;
    const laneY = (si) => (si < 0 ? top : top + feedH + 6 + si * laneH);
    const laneHeight = (si) => (si < 0 ? feedH : laneH) - 2;
    const svg = sv("svg", { width: W, height: H, role: "img", "aria-label": "gap timeline" });
    const axis = sv("g", { class: "axis" });
    for (let h = Math.ceil((ses[0] + KST_SHIFT) / 1800) * 1800 - KST_SHIFT; h <= ses[1]; h += 1800) {
      const full = ((h + KST_SHIFT) % 3600) === 0;
      axis.appendChild(sv("line", { x1: x(h), x2: x(h), y1: top - 4, y2: H - 4, stroke: full ? "#dfe4e9" : "#eef1f4" }));
      if (full) axis.appendChild(sv("text", { x: x(h), y: 12, "text-anchor": "middle" }, kst(h).slice(0, 5)));
    }
    svg.appendChild(axis);
    for (const si of lanes) {
      const y = laneY(si);
      svg.appendChild(sv("rect", { x: labelW, y: y, width: plotW, height: laneHeight(si),
        fill: si === highlight ? "#e4edf6" : (si < 0 ? "#eef2f6" : "#f6f8fa") }));
      svg.appendChild(sv("text", { x: labelW - 6, y: y + laneHeight(si) / 2 + 4, "text-anchor": "end",
        "font-weight": si < 0 || si === highlight ? 600 : 400 }, si < 0 ? "feed" : D.symbols[si]));
    }
    const g = sv("g");
    for (const i of idx) {
      const r = D.gaps[i], si = r[1], y = laneY(si), lh = laneHeight(si);
      const archived = r[3] === 1;
      const x0 = x(r[5]), x1 = x(r[6]);
      g.appendChild(sv("rect", { class: "gap", "data-g": i, x: x0, y: archived ? y : y + (si < 0 ? 0 : 1),
        width: Math.max(1.5, x1 - x0), height: archived ? Math.max(3, lh / 3) : lh - (si < 0 ? 0 : 2),
        fill: reasonColor(r[4]), opacity: archived ? 0.95 : 0.85,
        stroke: archived ? "#1f2933" : "none", "stroke-width": archived ? 0.6 : 0 }));
    }
    svg.appendChild(g);
    box.appendChild(svg);
    hover(svg, (t) => {
      if (!t.classList || !t.classList.contains("gap")) return null;
      const r = D.gaps[+t.dataset.g];
      return [(r[1] < 0 ? "feed" : D.symbols[r[1]]) + " · " + D.reasons[r[4]], [
        ["scope", "scope", SCOPE[r[2]] + " · " + ORIGIN[r[3]]],
        ["from", "from", kst(r[5])], ["to", "to", kst(r[6])],
        ["seconds", "length", n1(r[7]) + " s (" + secs(r[7]) + ")"]]];
    });
    const feedN = idx.filter((i) => D.gaps[i][1] < 0).length;
    document.getElementById("gap-summary").textContent = D.days[di] + " · session " + kst(ses[0]).slice(0, 5) + "–" +
      kst(ses[1]).slice(0, 5) + " KST · " + feedN + " feed gaps · " + (idx.length - feedN) + " symbol gaps";
    state.drawn.gaps = g.childNodes.length;
  }

  // ---------- 3. candles ----------
  function candles() {
    const C = D.candles, hint = document.getElementById("candle-hint");
    const one = document.getElementById("chart-1m"), ten = document.getElementById("chart-10m");
    if (!C || !C.default || typeof LightweightCharts === "undefined") {
      hint.textContent = "no bars in the range";
      one.replaceChildren(el("div", { class: "empty-state" }, "No 1-minute bars to draw for " + (C ? C.day : "this range") + "."));
      one.style.height = "auto"; one.style.border = "none";
      ten.remove(); document.getElementById("ten-title").remove();
      document.getElementById("candle-symbol").hidden = true;
      return;
    }
    hint.textContent = C.day + " (" + weekday(C.day) + "), KST · derived bars as candles, archived bars (from the collector) as an orange line";
    const lg = document.getElementById("candle-legend");
    [["#d24f45", "up (close ≥ open)"], ["#3f6fb5", "down"], ["#e08a00", "archived close (dashed); dot: archived bar differs"], ["#aab4be", "volume"]].forEach((p) => {
      const s = el("span"); const sw = el("span", { class: "sw" }); sw.style.background = p[0];
      s.appendChild(sw); s.appendChild(document.createTextNode(p[1])); lg.appendChild(s);
    });
    const L = LightweightCharts;
    const base = {
      autoSize: true,
      layout: { background: { type: "solid", color: "#ffffff" }, textColor: "#44505c", fontSize: 11,
                fontFamily: getComputedStyle(document.documentElement).fontFamily, attributionLogo: true },
      grid: { vertLines: { color: "#f1f3f5" }, horzLines: { color: "#f1f3f5" } },
      rightPriceScale: { borderColor: "#e3e7ec" },
      timeScale: { borderColor: "#e3e7ec", timeVisible: true, secondsVisible: false },
      crosshair: { mode: 0 },
      localization: { priceFormatter: (p) => nf.format(Math.round(p)) },
    };
    const candleStyle = { upColor: "#d24f45", downColor: "#3f6fb5", borderUpColor: "#d24f45", borderDownColor: "#3f6fb5",
                          wickUpColor: "#d24f45", wickDownColor: "#3f6fb5", priceLineVisible: false };
    const archivedStyle = { color: "rgba(224,138,0,0.75)", lineWidth: 1, lineStyle: 2, priceLineVisible: false,
                            lastValueVisible: false, crosshairMarkerVisible: false };
    const c1 = L.createChart(one, base);
    const s1 = c1.addSeries(L.CandlestickSeries, candleStyle);
    const marks1 = L.createSeriesMarkers(s1, []);
    const a1 = c1.addSeries(L.LineSeries, archivedStyle);
    const v1 = c1.addSeries(L.HistogramSeries, { color: "#aab4be", priceFormat: { type: "volume" }, priceLineVisible: false,
                                                 lastValueVisible: false }, 1);
    c1.panes()[1].setHeight(90);
    const c10 = L.createChart(ten, base);
    const s10 = c10.addSeries(L.CandlestickSeries, candleStyle);
    const a10 = c10.addSeries(L.LineSeries, archivedStyle);
    const sel = document.getElementById("candle-symbol");
    Object.keys(C.symbols).forEach((s) => sel.appendChild(el("option", { value: s }, s)));
    const toBar = (b) => ({ time: b[0] + KST_SHIFT, open: b[1], high: b[2], low: b[3], close: b[4] });
    const toLine = (b) => ({ time: b[0] + KST_SHIFT, value: b[4] });
    const toVol = (b) => ({ time: b[0] + KST_SHIFT, value: b[5] === null ? 0 : b[5],
                            color: b[4] >= b[1] ? "rgba(210,79,69,.45)" : "rgba(63,111,181,.45)" });
    function show(symbol) {
      const bars = C.symbols[symbol], m = bars.m || [], a = bars.a || [], t = bars.t || [], ta = bars.ta || [];
      s1.setData(m.map(toBar)); a1.setData(a.map(toLine)); v1.setData(m.map(toVol));
      s10.setData(t.map(toBar)); a10.setData(ta.map(toLine));
      c1.timeScale().fitContent(); c10.timeScale().fitContent();
      state.candles = m.length; state.candleSymbol = symbol; state.tenMinute = t.length;
      document.getElementById("candle-summary").textContent = m.length + " derived and " + a.length +
        " archived 1-minute bars · " + t.length + " derived and " + ta.length + " archived 10-minute bars";
      const differ = diffs(symbol, m, a);
      marks1.setMarkers(differ.map((t) => ({ time: t + KST_SHIFT, position: "aboveBar", shape: "circle",
                                             color: "#e08a00", size: 0.6 })));
    }
    sel.addEventListener("change", () => show(sel.value));
    sel.value = C.default;
    show(C.default);
    const describe = (chart, series, archived) => (param) => {
      if (!param.time || !param.point) { hideTip(); return; }
      const b = param.seriesData.get(series), av = param.seriesData.get(archived);
      if (!b && !av) { hideTip(); return; }
      const rows = [];
      if (b) rows.push(["ohlc", "open high low close", [b.open, b.high, b.low, b.close].map(n0).join("  ")]);
      if (av) rows.push(["archived", "archived close", n0(av.value)]);
      const rect = chart === c1 ? one.getBoundingClientRect() : ten.getBoundingClientRect();
      showTip({ clientX: rect.left + param.point.x, clientY: rect.top + param.point.y },
              kst(param.time - KST_SHIFT) + " KST", rows);
    };
    c1.subscribeCrosshairMove(describe(c1, s1, a1));
    c10.subscribeCrosshairMove(describe(c10, s10, a10));
    one.addEventListener("mouseleave", hideTip); ten.addEventListener("mouseleave", hideTip);
  }

  function diffs(symbol, derived, archived) {
    const box = document.getElementById("bar-diffs");
    box.replaceChildren();
    if (!archived.length || !derived.length) {
      box.appendChild(el("p", { class: "note" }, archived.length ? "No derived 1-minute bars to compare with the archived ones."
        : "No archived 1-minute bars for " + symbol + " that day: nothing to compare."));
      return [];
    }
    const d = new Map(derived.map((b) => [b[0], b])), a = new Map(archived.map((b) => [b[0], b]));
    const FIELDS = ["open", "high", "low", "close", "volume"];
    const rows = []; let both = 0;
    for (const [t, ab] of a) {
      const db = d.get(t);
      if (!db) { rows.push([t, "missing derived", "", ""]); continue; }
      both++;
      FIELDS.forEach((f, k) => { if (ab[k + 1] !== db[k + 1]) rows.push([t, f, ab[k + 1], db[k + 1]]); });
    }
    for (const t of d.keys()) if (!a.has(t)) rows.push([t, "missing archived", "", ""]);
    rows.sort((x, y) => x[0] - y[0]);
    box.appendChild(el("h3", {}, "Archived vs derived 1-minute bars: " + both + " minutes on both sides, " +
      rows.length + " difference" + (rows.length === 1 ? "" : "s") + (rows.length ? " (orange dots above the candles)" : "")));
    const minutes = Array.from(new Set(rows.map((r) => r[0]))).filter((t) => d.has(t));
    if (!rows.length) return minutes;
    const wrap = el("div", { class: "scroll table-box" }), table = el("table", { id: "diff-table" });
    const head = el("tr"); ["minute (KST)", "field", "archived", "derived"].forEach((h, i) => head.appendChild(el("th", i > 1 ? { class: "n" } : {}, h)));
    table.appendChild(head);
    for (const r of rows.slice(0, 300)) {
      const tr = el("tr");
      tr.appendChild(el("td", {}, kst(r[0]).slice(0, 5))); tr.appendChild(el("td", {}, r[1]));
      tr.appendChild(el("td", { class: "n" }, r[2] === "" ? "" : n0(r[2]))); tr.appendChild(el("td", { class: "n" }, r[3] === "" ? "" : n0(r[3])));
      table.appendChild(tr);
    }
    wrap.appendChild(table); box.appendChild(wrap);
    return minutes;
  }

  // ---------- 4. loads ----------
  const KIND_COLORS = { migrate: "#3e6e9e", derive: "#8e6bb8" };
  function loads() {
    const runs = D.runs, box = document.getElementById("runs-chart");
    const lg = document.getElementById("loads-legend");
    [["#3e6e9e", "migrate (rows loaded)"], ["#8e6bb8", "derive (rows written)"], ["#c8553d", "rejected lines / failed run"]].forEach((p) => {
      const s = el("span"); const sw = el("span", { class: "sw" }); sw.style.background = p[0];
      s.appendChild(sw); s.appendChild(document.createTextNode(p[1])); lg.appendChild(s);
    });
    if (!runs.length) { box.appendChild(el("div", { class: "empty-state" }, "No load or derive runs recorded yet.")); }
    else {
      const W = width(box), labelW = 74, plotW = W - labelW - 16, H = 190, rowsH = 100, secH = 44;
      const maxRows = Math.max(1, ...runs.map((r) => r[6] || 0)), maxSec = Math.max(0.001, ...runs.map((r) => r[5] || 0));
      const bw = Math.max(2, Math.min(40, plotW / runs.length * 0.7)), step = plotW / runs.length;
      const svg = sv("svg", { width: W, height: H, role: "img", "aria-label": "load runs" });
      const axis = sv("g", { class: "axis" });
      axis.appendChild(sv("text", { x: labelW - 6, y: 14, "text-anchor": "end" }, n0(maxRows)));
      axis.appendChild(sv("text", { x: labelW - 6, y: 10 + rowsH, "text-anchor": "end" }, "rows"));
      axis.appendChild(sv("text", { x: labelW - 6, y: rowsH + 30, "text-anchor": "end" }, secs(maxSec)));
      axis.appendChild(sv("text", { x: labelW - 6, y: rowsH + 20 + secH, "text-anchor": "end" }, "duration"));
      axis.appendChild(sv("line", { x1: labelW, x2: labelW + plotW, y1: 10 + rowsH, y2: 10 + rowsH, stroke: "#d5dbe1" }));
      axis.appendChild(sv("line", { x1: labelW, x2: labelW + plotW, y1: rowsH + 20 + secH, y2: rowsH + 20 + secH, stroke: "#d5dbe1" }));
      svg.appendChild(axis);
      const g = sv("g");
      runs.forEach((r, i) => {
        const cx = labelW + step * i + step / 2, rows = r[6] || 0, sec = r[5] || 0;
        const h = rows / maxRows * rowsH, hs = sec / maxSec * secH;
        const color = r[2] === "failed" ? "#c8553d" : KIND_COLORS[r[1]] || "#777";
        g.appendChild(sv("rect", { class: "run", "data-r": i, x: cx - bw / 2, y: 10 + rowsH - Math.max(h, 1), width: bw,
          height: Math.max(h, 1), fill: color }));
        g.appendChild(sv("rect", { class: "run", "data-r": i, x: cx - bw / 2, y: rowsH + 20 + secH - Math.max(hs, 1), width: bw,
          height: Math.max(hs, 1), fill: color, opacity: 0.55 }));
        if (r[7] > 0) g.appendChild(sv("circle", { class: "run", "data-r": i, cx: cx, cy: 6, r: 3.2, fill: "#c8553d" }));
        if (runs.length <= 40) axis.appendChild(sv("text", { x: cx, y: H - 4, "text-anchor": "middle" }, "#" + r[0]));
      });
      svg.appendChild(g);
      box.appendChild(svg);
      hover(svg, (t) => {
        if (!t.classList || !t.classList.contains("run")) return null;
        return runTip(runs[+t.dataset.r]);
      });
      state.drawn.runs = g.childNodes.length;
    }
    runsTable(runs);
    rejectsTable();
  }
  function rate(r) { return r[5] > 0 && r[6] !== null ? r[6] / r[5] : null; }
  function runTip(r) {
    return ["run #" + r[0] + " · " + r[1], [["status", "status", r[2]], ["started", "started", kst(r[3], true)],
      ["seconds", "duration", r[5] === null ? "still running" : n1(r[5]) + " s"], ["rows", "rows", n0(r[6])],
      ["rate", "rows/s", n0(rate(r))], ["rejected", "rejected", n0(r[7])], ["files", "files", n0(r[8])]]];
  }
  function runsTable(runs) {
    const t = document.getElementById("runs-table");
    const head = el("tr");
    ["run", "kind", "status", "started (KST)", "duration", "files", "rows", "rows/s", "duplicates", "rejected"].forEach((h, i) =>
      head.appendChild(el("th", i > 3 ? { class: "n" } : {}, h)));
    t.appendChild(head);
    for (const r of runs.slice().reverse()) {
      const tr = el("tr");
      tr.appendChild(el("td", {}, "#" + r[0])); tr.appendChild(el("td", {}, r[1]));
      tr.appendChild(el("td", r[2] === "failed" ? { class: "status-failed" } : {}, r[2]));
      tr.appendChild(el("td", {}, kst(r[3], true)));
      [r[5] === null ? "–" : n1(r[5]) + " s", n0(r[8]), n0(r[6]), n0(rate(r)), n0(r[9]), n0(r[7])].forEach((v) =>
        tr.appendChild(el("td", { class: "n" }, v)));
      t.appendChild(tr);
    }
    if (!runs.length) t.parentNode.hidden = true;
  }
  function rejectsTable() {
    const t = document.getElementById("rejects-table");
    if (!D.rejects.length) { t.parentNode.replaceWith(el("p", { class: "note" }, "No line was rejected.")); return; }
    const head = el("tr");
    ["field", "reason", "lines", "example"].forEach((h, i) => head.appendChild(el("th", i === 2 ? { class: "n" } : {}, h)));
    t.appendChild(head);
    for (const r of D.rejects) {
      const tr = el("tr", { class: "reject" });
      tr.appendChild(el("td", {}, r[0] === null ? "(line)" : r[0]));
      tr.appendChild(el("td", {}, r[1]));
      tr.appendChild(el("td", { class: "n" }, n0(r[2])));
      const ex = el("td");
      ex.appendChild(el("div", {}, r[3] + ":" + r[4]));
      ex.appendChild(el("div", { class: "muted" }, r[5]));
      ex.appendChild(el("code", { class: "raw" }, r[6] + (r[7] > r[6].length ? " …" : "")));
      tr.appendChild(ex);
      t.appendChild(tr);
    }
  }

  // ---------- 5. portfolio ----------
  function portfolio() {
    const P = D.portfolio;
    if (!P) return;
    const section = document.getElementById("portfolio");
    section.hidden = false;
    const lg = document.getElementById("portfolio-legend");
    [["#3e6e9e", "weight held"], ["#1f2933", "target weight"]].forEach((p) => {
      const s = el("span"); const sw = el("span", { class: "sw" }); sw.style.background = p[0];
      if (p[0] === "#1f2933") { sw.style.width = "3px"; }
      s.appendChild(sw); s.appendChild(document.createTextNode(p[1])); lg.appendChild(s);
    });
    const box = document.getElementById("portfolio-chart");
    let bars = 0;
    for (const acct of P.accounts) {
      box.appendChild(el("h3", {}, acct.account + " · " + kst(acct.time, true).slice(0, 16) + " KST · policy " +
        (acct.policy || "none") + " · total " + n0(acct.total) + " " + acct.currency + " · cash " + pctf(acct.cash_weight)));
      const rows = acct.rows.concat([["cash", acct.cash_weight, null, null, acct.cash]]);
      const W = Math.min(width(box), 900), labelW = 74, plotW = W - labelW - 190, rowH = 22;
      const maxW = Math.max(0.05, ...rows.map((r) => Math.max(r[1] || 0, r[2] || 0)));
      const svg = sv("svg", { width: W, height: rows.length * rowH + 10, role: "img", "aria-label": "weights against targets" });
      const g = sv("g");
      rows.forEach((r, i) => {
        const y = 4 + i * rowH, w = (r[1] || 0) / maxW * plotW;
        svg.appendChild(sv("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, r[0]));
        svg.appendChild(sv("rect", { x: labelW, y: y + 3, width: plotW, height: rowH - 8, fill: "#f3f5f7" }));
        g.appendChild(sv("rect", { class: "weight", "data-i": i, x: labelW, y: y + 3, width: Math.max(w, 0.5), height: rowH - 8,
          fill: r[0] === "cash" ? "#9aa7b4" : "#3e6e9e" }));
        if (r[2] !== null) g.appendChild(sv("rect", { x: labelW + r[2] / maxW * plotW - 1, y: y, width: 2.5, height: rowH - 2, fill: "#1f2933" }));
        const diff = r[2] === null ? "" : "  (" + ((r[1] || 0) - r[2] >= 0 ? "+" : "−") + Math.abs(((r[1] || 0) - r[2]) * 100).toFixed(2) + ")";
        svg.appendChild(sv("text", { x: labelW + plotW + 8, y: y + 14 }, pctf(r[1]) + (r[2] === null ? "" : " / " + pctf(r[2])) + diff));
      });
      svg.appendChild(g);
      box.appendChild(svg);
      bars += g.childNodes.length;
    }
    state.drawn.portfolio = bars;
  }

  function run(name, fn) {
    fn();
    state.drawn[name] = state.drawn[name] === undefined ? 1 : state.drawn[name];
  }
  run("header", header);
  run("heatmap", heatmap);
  run("gaps", timeline);
  run("candles", candles);
  run("loads", loads);
  run("portfolio", portfolio);
  requestAnimationFrame(() => requestAnimationFrame(() => { document.body.dataset.ready = "1"; }));
})();
