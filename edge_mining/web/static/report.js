/* The backtest report's page: reads the embedded data, draws with uPlot. One file, offline. */
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const root = document.getElementById("report");
  const cur = data.currency;
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const num = (v, d = 0) => (v == null || !isFinite(v) ? "–" : Number(v).toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d }));
  const money = (v) => (v == null ? "–" : `${v >= 0 ? "+" : "−"}${num(Math.abs(v), 2)} ${cur}`);
  // As many decimals as the ticks' spacing needs, the same for every tick of an axis.
  const decimalsOf = (ticks) => { const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1; return step >= 1 ? 0 : step >= 0.1 ? 1 : 2; };
  const colour = (name) => (data.policies.find((p) => p.name === name) || {}).colour || "#495057";
  // The data's times are the site's local time written as UTC: show them as UTC.
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  const width = (node) => Math.max(300, node.clientWidth);
  const section = (title, sub) => { const s = el("section"); s.append(el("h2", null, title)); if (sub) s.append(el("p", "sub", sub)); root.append(s); return s; };
  const charts = [];

  // --------------------------------------------------------------------- assumptions
  const assumptions = section("Assumptions");
  assumptions.classList.add("assumptions");
  const list = el("ul"); for (const line of data.assumptions) list.append(el("li", null, line));
  assumptions.append(list);

  // -------------------------------------------------------------- net gain per policy
  const ranked = data.policies.filter((p) => p.name !== "export" && p.gain != null).sort((a, b) => b.gain - a.gain);
  const gains = section("Net gain versus exporting",
    `Over ${num(data.days, 0)} days: mining revenue, minus the export income given up, minus the extra import it caused. ` +
    "Above zero, mining beat selling the surplus.");
  if (ranked.length) {
    // The oracle knows the whole year in advance: it is the yardstick, not a choice.
    const oracle = ranked.find((p) => p.name === "oracle");
    const best = ranked.find((p) => p.name !== "oracle") || ranked[0];
    const share = oracle && oracle.gain > 0 && best !== oracle ? `, ${num((100 * best.gain) / oracle.gain, 0)} % of what hindsight (oracle) could gain` : "";
    gains.append(el("p", "headline", `Best policy: ${best.name}, ${money(best.gain)} over exporting from ${num(best.mined_kwh, 0)} kWh mined${share}.`));
    const hi = Math.max(0, ...ranked.map((p) => p.gain)); const lo = Math.min(0, ...ranked.map((p) => p.gain));
    const span = hi - lo || 1; const zero = (-lo / span) * 100;
    for (const p of ranked) {
      const row = el("div", "gain-row"); row.dataset.policy = p.name;
      const track = el("div", "gain-track"); const bar = el("div", "gain-bar"); const axis = el("div", "gain-zero");
      const size = (Math.abs(p.gain) / span) * 100;
      bar.style.left = `${p.gain >= 0 ? zero : zero - size}%`; bar.style.width = `${size}%`; bar.style.background = p.colour;
      axis.style.left = `calc(${zero}% - 1px)`;
      track.append(bar, axis);
      row.append(el("div", "gain-name", p.name), track, el("div", "gain-value", money(p.gain)),
        el("div", "gain-detail", `revenue ${num(p.revenue, 2)} ${cur} · export given up ${num(p.lost_export, 2)} · extra import ${num(p.extra_import_cost, 2)} · ` +
          `${num(p.mined_kwh, 0)} kWh mined, ${num(p.battery_kwh, 0)} kWh of it from the battery`));
      gains.append(row);
    }
  }

  // ----------------------------------------------------------------- monthly flows
  const flowSpec = [["from_pv", "Mined from PV", "#1b7f3b"], ["from_battery", "Mined from battery", "#1971c2"],
    ["exported", "Exported", "#e8a300"], ["curtailed", "Curtailed", "#adb5bd"], ["imported", "Imported", "#c92a2a"]];
  const monthly = section("Monthly energy flows", "Where the surplus went each month (above zero) and what was bought from the grid (below), kWh.");
  const switcher = el("div", "switch"); monthly.append(switcher);
  const monthNode = el("div", "chart"); monthNode.id = "chart-monthly"; monthly.append(monthNode);
  const bars = uPlot.paths.bars({ size: [0.7, 80] });
  function monthlyChart(name) {
    const m = data.monthly[name];
    const stack = []; let acc = data.months.map(() => 0);
    for (const [key] of flowSpec.slice(0, 4)) { acc = acc.map((v, i) => v + m[key][i]); stack.push(acc.slice()); }
    // Drawn tallest first, so each part shows above the one below it.
    const order = [3, 2, 1, 0];
    // One bar per month on a category axis: month i at x = i, labelled by its month.
    const monthName = (i, style) => (data.months[i] == null ? "" : new Date(data.months[i] * 1e3).toLocaleDateString("en", { month: style, year: style === "long" ? "numeric" : "2-digit", timeZone: "UTC" }));
    const series = [{ label: "Month", value: (u, v) => (v == null ? "–" : monthName(Math.round(v), "long")) },
      ...order.map((i) => ({ label: flowSpec[i][1], fill: flowSpec[i][2], stroke: flowSpec[i][2], width: 0, paths: bars, points: { show: false },
        value: (u, v, s, idx) => (idx == null ? "–" : `${num(m[flowSpec[i][0]][idx], 0)} kWh`) })),
      { label: "Imported", fill: "#c92a2a", stroke: "#c92a2a", width: 0, paths: bars, points: { show: false },
        value: (u, v, s, idx) => (idx == null ? "–" : `${num(m.imported[idx], 0)} kWh`) }];
    const values = [data.months.map((_, i) => i), ...order.map((i) => stack[i]), m.imported.map((v) => -v)];
    monthNode.replaceChildren();
    const chart = new uPlot({ width: width(monthNode), height: 320, series,
      axes: [{ space: 40, incrs: [1, 2, 3, 6, 12], values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? monthName(t, "short") : "")) },
        { label: "kWh", size: 60, values: (u, ticks) => ticks.map((v) => num(v, 0)) }],
      scales: { x: { time: false, range: () => [-0.5, data.months.length - 0.5] } },
      cursor: { drag: { x: false, y: false } } }, values, monthNode);
    charts.push(chart);
    for (const b of switcher.children) b.classList.toggle("on", b.dataset.policy === name);
  }
  for (const p of data.policies) {
    const b = el("button", null, p.name); b.dataset.policy = p.name; b.onclick = () => monthlyChart(p.name); switcher.append(b);
  }

  // ------------------------------------------------------------------ typical days
  const typical = section("A typical summer and winter day", "Hour-of-day means: PV, the house, and the miners' power under each policy (W).");
  const seasons = el("div", "seasons"); typical.append(seasons);
  const hourAxis = { label: "hour of day", labelSize: 18, incrs: [1, 2, 3, 6, 12], values: (u, ticks) => ticks.map((h) => `${String(Math.floor(h)).padStart(2, "0")}:00`) };
  const kwTick = (v) => `${num(v / 1000, v % 1000 === 0 ? 0 : v % 100 === 0 ? 1 : 2)} kW`;
  const wattAxis = { size: 62, values: (u, ticks) => ticks.map((v) => (Math.abs(v) >= 1000 ? kwTick(v) : `${num(v)} W`)) };
  const watts = (u, v) => (v == null ? "–" : `${num(v)} W`);
  const dayCharts = [];
  for (const day of data.typical) {
    const box = el("div"); box.append(el("h2", null, `${day.title} (${day.label})`));
    const node = el("div", "chart"); box.append(node); seasons.append(box);
    dayCharts.push([day, node]);
  }

  // -------------------------------------------------------------- cumulative gain
  const cumulative = section("Cumulative net gain versus exporting", `Day by day, ${cur}.`);
  const cumNode = el("div", "chart"); cumNode.id = "chart-cumulative"; cumulative.append(cumNode);

  // ------------------------------------------------------------------------ details
  const details = section("All figures");
  details.append(el("pre", null, data.table));

  // Charts are drawn once the sections have their widths.
  monthlyChart(data.policies.find((p) => p.name === "edge") ? "edge" : data.policies[0].name);
  for (const [day, node] of dayCharts) {
    const names = Object.keys(day.miners);
    charts.push(new uPlot({ width: width(node), height: 260,
      series: [{ label: "Hour", value: (u, h) => (h == null ? "–" : `${String(Math.floor(h)).padStart(2, "0")}:${String(Math.round((h % 1) * 60)).padStart(2, "0")}`) },
        { label: "PV", stroke: "#e8a300", fill: "rgba(232,163,0,.15)", width: 1.5, points: { show: false }, value: watts },
        { label: "House", stroke: "#495057", width: 1.2, points: { show: false }, value: watts },
        ...names.filter((n) => n !== "export").map((n) => ({ label: n, stroke: colour(n), width: 1.6, points: { show: false }, value: watts }))],
      scales: { x: { time: false, range: [0, 24] } }, axes: [hourAxis, wattAxis] },
    [day.hours, day.pv, day.house, ...names.filter((n) => n !== "export").map((n) => day.miners[n])], node));
  }
  const names = Object.keys(data.cumulative);
  charts.push(new uPlot({ width: width(cumNode), height: 300, tzDate,
    series: [{ label: "Day", value: (u, v) => (v == null ? "–" : new Date(v * 1e3).toLocaleDateString("en", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })) },
      ...names.map((n) => ({ label: n, stroke: colour(n), width: n === "export" ? 1 : 1.8, dash: n === "export" ? [4, 4] : undefined, points: { show: false },
        value: (u, v) => (v == null ? "–" : money(v)) }))],
    axes: [{ space: 60, values: [
      [3600 * 24 * 365, "{YYYY}", null, null, null, null, null, null, 1],
      [3600 * 24 * 28, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
      [3600 * 24, "{D} {MMM}", "\n{YYYY}", null, null, null, null, null, 1]] }, { label: cur, size: 70, values: (u, ticks) => ticks.map((v) => num(v, decimalsOf(ticks))) }] },
  [data.day_starts, ...names.map((n) => data.cumulative[n])], cumNode));

  window.reportCharts = charts; // for tests and the curious: each chart's uPlot instance
  window.addEventListener("resize", () => { for (const c of charts) c.setSize({ width: width(c.root.parentNode), height: c.height }); });
})();
