/* Edge Mining panel: one page, six views, live over server-sent events. No framework: the
   DOM is built with textContent only (nothing received is ever parsed as HTML). */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const PAGES = ["now", "miners", "history", "plan", "earnings", "settings"];
  const COLOURS = { pv: "#e8a300", house: "#495057", battery: "#1971c2", grid: "#c92a2a",
    export: "#5c940d", soc: "#2f9e44", miners: ["#7048e8", "#0c8599", "#ae3ec9", "#f76707", "#3b5bdb", "#087f5b"] };
  const app = { site: null, live: null, page: "now", charts: {}, history: null,
    historyVersion: -1, historyAt: 0, events: null, minerCards: {}, settingsBuilt: false };

  // ------------------------------------------------------------------------------ formats
  const num = (v, d = 0) => (v == null || !isFinite(v) ? "–" : Number(v).toLocaleString(undefined,
    { minimumFractionDigits: d, maximumFractionDigits: d }));
  const power = (w) => (w == null ? "–" : Math.abs(w) >= 1000 ? `${num(w / 1000, 2)} kW` : `${num(w)} W`);
  const kwh = (v) => (v == null ? "–" : `${num(v, v < 10 ? 2 : 1)} kWh`);
  const money = (v) => (v == null ? "–" : `${num(v, 2)} ${app.site ? app.site.currency : ""}`);
  const dateTime = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const timeShort = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const when = (t) => dateTime.format(new Date(t * 1000));
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const set = (id, text) => { const e = $(id); if (e && e.textContent !== text) e.textContent = text; };

  // ---------------------------------------------------------------------------- transport
  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  async function command(device, key, value) {
    const response = await fetch("api/command", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ device, key, value }) });
    let body = {};
    try { body = await response.json(); } catch (e) { body = { error: `HTTP ${response.status}` }; }
    if (!response.ok || !body.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function feedback(node, promise, okText) {
    node.className = "feedback"; node.textContent = "sending…";
    return promise.then(() => { node.className = "feedback ok"; node.textContent = okText; },
      (error) => { node.className = "feedback bad"; node.textContent = error.message; });
  }

  function connect() {
    const source = new EventSource("api/events");
    app.events = source;
    source.addEventListener("state", (event) => { app.live = JSON.parse(event.data); setConn(true); render(); });
    source.onerror = () => setConn(false);
  }

  function setConn(up) {
    const badge = $("conn");
    badge.textContent = up ? "live" : "reconnecting";
    badge.className = `badge ${up ? "live" : "down"}`;
  }

  // ------------------------------------------------------------------------------ routing
  function route() {
    const wanted = location.hash.replace("#", "");
    app.page = PAGES.includes(wanted) ? wanted : "now";
    for (const page of PAGES) $(`page-${page}`).hidden = page !== app.page;
    for (const a of document.querySelectorAll("#tabs a")) {
      a.classList.toggle("active", a.dataset.page === app.page);
      if (a.dataset.page === app.page) a.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    render();
    window.dispatchEvent(new Event("resize"));
  }

  function render() {
    const live = app.live;
    if (!live || !app.site) return;
    set("clock", when(live.time));
    const stale = $("stale");
    stale.hidden = !live.energy.stale;
    if (live.energy.stale) stale.textContent = `Energy data is stale${live.energy.error ? `: ${live.energy.error}` : ""}. Miners are in their safe state.`;
    ({ now: renderNow, miners: renderMiners, history: renderHistory, plan: renderPlan,
      earnings: renderEarnings, settings: renderSettings })[app.page](live);
  }

  // --------------------------------------------------------------------------------- now
  function renderNow(live) {
    const e = live.energy;
    const minersW = live.miners.reduce((sum, m) => sum + (m.power || 0), 0);
    const house = e.load == null ? null : Math.max(0, e.load - minersW);
    set("now-pv", power(e.pv));
    set("now-pv-sub", e.pv == null ? "" : e.pv > 20 ? "producing" : "not producing");
    set("now-load", power(house));
    set("now-soc", e.soc == null ? "–" : `${num(e.soc, 1)} %`);
    $("now-soc-bar").style.width = `${Math.max(0, Math.min(100, e.soc || 0))}%`;
    const stop = live.decision ? live.decision.stop_soc : null;
    $("now-soc-stop").hidden = stop == null;
    if (stop != null) $("now-soc-stop").style.left = `${stop}%`;
    set("now-battery", e.battery == null ? "–" : e.battery > 20 ? `charging ${power(e.battery)}`
      : e.battery < -20 ? `discharging ${power(-e.battery)}` : "idle");
    set("now-grid", e.grid == null ? "–" : power(Math.abs(e.grid)));
    set("now-grid-sub", e.grid == null ? "not measured" : e.grid > 20 ? "importing" : e.grid < -20 ? "exporting" : "balanced");
    set("now-miners", power(minersW));
    const running = live.miners.filter((m) => m.mining).length;
    set("now-miners-sub", `${running} of ${live.miners.length} mining`);
    const sources = [["pv", "Solar", Math.max(0, e.pv || 0)], ["battery", "Battery", Math.max(0, -(e.battery || 0))],
      ["grid", "Grid", Math.max(0, e.grid || 0)]];
    const uses = [["house", "House", house || 0], ["miners", "Miners", minersW], ["battery", "Battery", Math.max(0, e.battery || 0)],
      ["export", "Export", Math.max(0, -(e.grid || 0))]];
    const total = Math.max(1, sources.reduce((s, x) => s + x[2], 0), uses.reduce((s, x) => s + x[2], 0));
    fillBar($("bar-sources"), sources, total);
    fillBar($("bar-uses"), uses, total);
    const legend = $("bar-legend");
    if (!legend.childElementCount) {
      for (const [key, label] of [["pv", "Solar"], ["house", "House"], ["battery", "Battery"], ["grid", "Grid import"], ["export", "Export"], ["miners", "Miners"]]) {
        const item = el("span"); item.append(el("i", `c-${key}`), label); legend.append(item);
      }
    }
    set("now-mode", live.mode);
    const d = live.decision;
    set("now-reason", d ? d.reason : "no decision yet");
    set("now-surplus", d ? power(d.surplus) : "–");
    set("now-available", d ? power(d.available) : "–");
    set("now-stop-soc", d && d.stop_soc != null ? `${num(d.stop_soc, 0)} %` : "–");
    const list = $("now-commands");
    list.replaceChildren(...(d ? d.commands : []).map((c) => el("li", null, `→ ${c}`)));
    $("now-chips").replaceChildren(...live.miners.map((m) => {
      const chip = el("div", "chip"); chip.append(el("b", null, m.name), el("span", `badge ${m.status}`, m.status),
        document.createTextNode(` ${power(m.power)}`));
      if (m.control === "manual") chip.append(document.createTextNode(" "), el("span", "badge manual", "manual"));
      return chip;
    }));
  }

  function fillBar(bar, parts, total) {
    if (bar.childElementCount !== parts.length) bar.replaceChildren(...parts.map(([key]) => el("span", `c-${key}`)));
    parts.forEach(([, label, value], i) => {
      const span = bar.children[i];
      span.style.width = `${(100 * value) / total}%`;
      span.textContent = value / total > 0.12 ? `${label} ${power(value)}` : "";
      span.title = `${label}: ${power(value)}`;
    });
  }

  // ------------------------------------------------------------------------------ miners
  function minerCard(meta) {
    const card = el("div", "card miner"); card.dataset.miner = meta.name;
    const head = el("div", "miner-head");
    const status = el("span", "badge"); const control = el("span", "badge");
    head.append(el("h2", null, meta.name), status, control);
    const model = el("div", "miner-model");
    const metrics = el("dl", "metrics"); const values = {};
    for (const [key, label] of [["power", "Power"], ["target", "Target"], ["hashrate", "Hashrate"],
      ["efficiency", "Efficiency"], ["temperature", "Temperature"], ["fan", "Fans"]]) {
      const box = el("div"); const dd = el("dd", null, "–"); dd.dataset.metric = key;
      box.append(el("dt", null, label), dd); metrics.append(box); values[key] = dd;
    }
    const reason = el("p", "miner-reason"); const errors = el("p", "miner-errors");
    const actions = el("div", "row");
    const start = el("button", null, "Start"); const stop = el("button", "secondary", "Stop");
    const auto = el("button", "secondary", "Back to auto");
    start.dataset.action = "start"; stop.dataset.action = "stop"; auto.dataset.action = "auto";
    actions.append(start, stop, auto);
    const out = el("span", "feedback");
    const targetRow = el("form", "row");
    const input = el("input"); input.type = "number"; input.step = "10"; input.setAttribute("aria-label", `${meta.name} power target (W)`);
    const setTarget = el("button", "secondary", "Set target");
    targetRow.append(input, el("span", "unit", "W"), setTarget);
    start.onclick = () => feedback(out, command(meta.device, "mining", true), "start sent: manual until back to auto");
    stop.onclick = () => feedback(out, command(meta.device, "mining", false), "stop sent: manual until back to auto");
    auto.onclick = () => feedback(out, command(meta.device, "control", "auto"), "back to automatic control");
    targetRow.onsubmit = (event) => { event.preventDefault();
      feedback(out, command(meta.device, "power_target", Number(input.value)), `target ${input.value} W sent`); };
    card.append(head, model, metrics, reason, errors, actions);
    if (meta.power_target) card.append(el("div", "spacer"), targetRow);
    card.append(out);
    return { card, status, control, model, values, reason, errors, input, start, stop, auto };
  }

  function renderMiners(live) {
    const box = $("miner-cards");
    for (const meta of app.site.miners) {
      if (!app.minerCards[meta.name]) { app.minerCards[meta.name] = minerCard(meta); box.append(app.minerCards[meta.name].card); }
    }
    for (const m of live.miners) {
      const c = app.minerCards[m.name];
      c.status.textContent = m.status || "unknown"; c.status.className = `badge ${m.status}`;
      c.control.textContent = m.control; c.control.className = `badge ${m.control === "manual" ? "manual" : ""}`;
      const meta = app.site.miners.find((x) => x.name === m.name);
      c.model.textContent = m.model || `${meta.driver} miner`;
      c.values.power.textContent = power(m.power);
      c.values.target.textContent = m.power_target == null ? "on/off" : power(m.power_target);
      c.values.hashrate.textContent = m.hashrate == null ? "–" : `${num(m.hashrate, 1)} TH/s`;
      c.values.efficiency.textContent = m.efficiency == null ? "–" : `${num(m.efficiency, 1)} J/TH`;
      c.values.temperature.textContent = m.temperature == null ? "–" : `${num(m.temperature, 0)} °C`;
      c.values.fan.textContent = m.fan_speed == null ? "–" : `${num(m.fan_speed, 0)} rpm`;
      c.reason.textContent = m.reason || "";
      c.errors.textContent = m.errors.length ? `Errors: ${m.errors.join(", ")}` : "";
      c.input.min = m.target_min; c.input.max = m.target_max;
      if (document.activeElement !== c.input && !c.input.value) c.input.value = Math.round(m.power_target || m.target_max);
      c.input.title = `${num(m.target_min)}–${num(m.target_max)} W`;
      c.auto.disabled = m.control !== "manual";
    }
  }

  // ----------------------------------------------------------------------------- history
  function chartWidth(node) { return Math.max(280, node.clientWidth || node.parentNode.clientWidth - 32); }
  function chartHeight() { return window.innerWidth < 600 ? 220 : 300; }

  // Tick labels as precise as the ticks: 1.25 kW, not 1.3 kW.
  const kwTick = (v) => `${num(v / 1000, v % 1000 === 0 ? 0 : v % 100 === 0 ? 1 : 2)} kW`;
  const wattAxis = (label) => ({ label, labelSize: 18, size: 62, values: (u, ticks) => ticks.map((v) => (Math.abs(v) >= 1000 ? kwTick(v) : `${num(v)} W`)) });
  const percentAxis = { label: "%", labelSize: 18, size: 50, values: (u, ticks) => ticks.map((v) => `${num(v)} %`) };
  const timeAxis = { space: 70, values: [
    [3600 * 24, "{D} {MMM}", null, null, null, null, null, null, 1],
    [3600, "{HH}:{mm}", "\n{D} {MMM}", null, "\n{D} {MMM}", null, null, null, 1],
    [60, "{HH}:{mm}", "\n{D} {MMM}", null, "\n{D} {MMM}", null, null, null, 1],
    [1, "{HH}:{mm}:{ss}", "\n{D} {MMM}", null, null, null, null, null, 1]] };

  function markerPlugin(getMarkers) {
    const tip = $("marker-tip");
    let shown = null;
    return { hooks: {
      draw: [(u) => {
        const ctx = u.ctx; const markers = getMarkers();
        const [min, max] = [u.scales.x.min, u.scales.x.max];
        ctx.save(); ctx.fillStyle = "#343a40";
        for (const m of markers) {
          if (m.t < min || m.t > max) continue;
          const x = Math.round(u.valToPos(m.t, "x", true)); const y = u.bbox.top;
          const s = 5 * devicePixelRatio;
          ctx.beginPath(); ctx.moveTo(x - s, y); ctx.lineTo(x + s, y); ctx.lineTo(x, y + s * 1.6); ctx.closePath(); ctx.fill();
        }
        ctx.restore();
      }],
      setCursor: [(u) => {
        const left = u.cursor.left; const markers = getMarkers();
        let best = null; let bestDist = 8;
        if (left != null && left >= 0) {
          for (const m of markers) {
            const dist = Math.abs(u.valToPos(m.t, "x") - left);
            if (dist < bestDist) { best = m; bestDist = dist; }
          }
        }
        if (best === shown) return;
        shown = best;
        if (!best) { tip.hidden = true; return; }
        const rect = u.over.getBoundingClientRect();
        tip.replaceChildren(el("b", null, when(best.t)), el("div", null, best.reason));
        const list = el("ul"); for (const c of best.commands) list.append(el("li", null, c));
        tip.append(list);
        tip.hidden = false;
        const x = rect.left + u.valToPos(best.t, "x");
        tip.style.left = `${Math.max(8, Math.min(window.innerWidth - 370, x - 180))}px`;
        tip.style.top = `${rect.top + 12}px`;
      }],
    } };
  }

  function minerColour(i) { return COLOURS.miners[i % COLOURS.miners.length]; }

  function buildHistoryCharts(h) {
    const c = h.columns; const miners = h.miners;
    const minersTotal = c.t.map((_, i) => miners.reduce((s, m) => s + (c[m][i] || 0), 0));
    const house = c.load.map((v, i) => (v == null ? null : Math.max(0, v - minersTotal[i])));
    const data = [c.t, c.pv, house, c.battery, c.grid, ...miners.map((m) => c[m])];
    const series = [{}, { label: "Solar", stroke: COLOURS.pv, fill: "rgba(232,163,0,.12)", width: 1.5, points: { show: false }, value: (u, v) => power(v) },
      { label: "House", stroke: COLOURS.house, width: 1.2, points: { show: false }, value: (u, v) => power(v) },
      { label: "Battery (+ charging)", stroke: COLOURS.battery, width: 1.2, points: { show: false }, value: (u, v) => power(v) },
      { label: "Grid (+ import)", stroke: COLOURS.grid, width: 1.2, points: { show: false }, value: (u, v) => power(v) },
      ...miners.map((m, i) => ({ label: m, stroke: minerColour(i), width: 1.6, points: { show: false }, value: (u, v) => power(v) }))];
    const node = $("chart-power"); node.replaceChildren();
    app.charts.power = new uPlot({ width: chartWidth(node), height: chartHeight(), series,
      axes: [timeAxis, wattAxis("power")], cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [(u) => { if (u.select.width > 0) app.zoomed = true; }] },
      plugins: [markerPlugin(() => (app.history ? app.history.markers : []))] }, data, node);
    node.addEventListener("dblclick", () => { app.zoomed = false; });
    const socNode = $("chart-soc"); socNode.replaceChildren();
    app.charts.soc = new uPlot({ width: chartWidth(socNode), height: Math.round(chartHeight() * 0.6),
      series: [{}, { label: "State of charge", stroke: COLOURS.soc, fill: "rgba(47,158,68,.1)", width: 1.5, points: { show: false }, value: (u, v) => (v == null ? "–" : `${num(v, 1)} %`) }],
      scales: { y: { range: [0, 100] } }, axes: [timeAxis, percentAxis], cursor: { drag: { x: true, y: false } } },
    [c.t, c.soc], socNode);
  }

  function updateHistoryCharts(h) {
    const c = h.columns; const miners = h.miners;
    if (!app.charts.power) { buildHistoryCharts(h); } else {
      const minersTotal = c.t.map((_, i) => miners.reduce((s, m) => s + (c[m][i] || 0), 0));
      const house = c.load.map((v, i) => (v == null ? null : Math.max(0, v - minersTotal[i])));
      const zoomed = app.zoomed;
      app.charts.power.setData([c.t, c.pv, house, c.battery, c.grid, ...miners.map((m) => c[m])], !zoomed);
      app.charts.soc.setData([c.t, c.soc], !zoomed);
    }
    $("decision-list").replaceChildren(...h.markers.slice().reverse().slice(0, 200).map((m) => {
      const li = el("li"); li.append(el("time", null, when(m.t)), m.commands.join("; "));
      li.title = m.reason; return li;
    }));
    if (!h.markers.length) $("decision-list").append(el("li", "muted", "No command sent in the last 48 hours."));
  }

  async function renderHistory(live) {
    const due = live.history_version !== app.historyVersion && performance.now() - app.historyAt > 2000;
    if (!due && app.charts.power) return;
    if (app.historyLoading) return;
    app.historyLoading = true;
    try {
      app.historyAt = performance.now();
      const history = await getJSON("api/history");
      app.history = history; app.historyVersion = live.history_version;
      if (typeof uPlot === "undefined") return;
      updateHistoryCharts(app.history);
    } catch (error) {
      // The daemon restarting or the page being left: the next state event tries again.
      app.historyVersion = -1;
    } finally { app.historyLoading = false; }
  }

  // -------------------------------------------------------------------------------- plan
  // What the planner needs, for the page that has no plan to show.
  function planAbout() {
    const p = app.site.planner;
    if (!p.enabled) return "The planner is switched off (planner.enabled: false): the controller follows its rules.";
    const needs = [];
    if (!p.battery_kwh) needs.push("the battery's capacity (planner.battery_kwh)");
    if (p.forecast === "none") needs.push("an hourly solar forecast (forecast)");
    const every = `It plans again every ${num(p.interval_s / 60)} min and with each new forecast.`;
    if (needs.length) return `The planner needs ${needs.join(" and ")}; until then the controller follows its rules.`;
    return `The planner plans from the ${p.forecast} forecast, the ${num(p.battery_kwh, 1)} kWh battery and the house's learned load. ${every}`;
  }

  function renderPlan(live) {
    const plan = live.plan;
    const planning = !!(plan && plan.planning);
    const badge = $("plan-badge");
    badge.textContent = planning ? "planning" : "rules";
    badge.className = `badge ${planning ? "mining" : "paused"}`;
    set("plan-about", planAbout());
    $("plan-facts").hidden = !planning;
    $("plan-empty").hidden = planning;
    $("plan-power-card").hidden = !planning;
    $("plan-battery-card").hidden = !planning;
    if (!planning) {
      const why = plan && plan.status ? plan.status : "no planner";
      set("plan-summary", `No plan: the controller follows its rules (${why}).`);
      set("plan-empty", "A plan appears here once the planner has a battery capacity, an hourly solar forecast and some history of the house's load.");
      return;
    }
    set("plan-summary", plan.summary || "planned");
    set("plan-now", power(plan.mining_w));
    set("plan-mining", kwh(plan.totals.mining_kwh));
    set("plan-pv", kwh(plan.totals.pv_kwh));
    set("plan-load", kwh(plan.totals.load_kwh));
    set("plan-reserve", plan.reserve_soc == null ? "–" : `${num(plan.reserve_soc, 0)} %`);
    set("plan-created", plan.created == null ? "–" : timeShort.format(new Date(plan.created * 1000)));
    // One x for both charts: each step's start, then the last step's end. Powers hold over
    // their step (drawn stepped, the last value repeated at the end); the SoC is the plan's
    // at each step's end, starting from the battery's now.
    const steps = plan.steps;
    const x = [...steps.map((s) => s.t), steps[steps.length - 1].end];
    const held = (key) => { const v = steps.map((s) => s[key]); return [...v, v[v.length - 1]]; };
    const soc = [live.energy.soc, ...steps.map((s) => s.soc)];
    const reserve = x.map(() => plan.reserve_soc);
    const powerData = [x, held("pv_w"), held("load_w"), held("mining_w")];
    const socData = [x, soc, reserve];
    const stepped = uPlot.paths.stepped({ align: 1 });
    if (!app.charts.plan) {
      const node = $("chart-plan");
      app.charts.plan = new uPlot({ width: chartWidth(node), height: chartHeight(),
        series: [{}, { label: "Solar forecast", stroke: COLOURS.pv, fill: "rgba(232,163,0,.12)", width: 1.5, paths: stepped, points: { show: false }, value: (u, v) => power(v) },
          { label: "House (usual)", stroke: COLOURS.house, width: 1.2, paths: stepped, points: { show: false }, value: (u, v) => power(v) },
          { label: "Planned mining", stroke: COLOURS.miners[0], fill: "rgba(112,72,232,.18)", width: 1.8, paths: stepped, points: { show: false }, value: (u, v) => power(v) }],
        axes: [timeAxis, wattAxis("power")] }, powerData, node);
      const socNode = $("chart-plansoc");
      app.charts.plansoc = new uPlot({ width: chartWidth(socNode), height: Math.round(chartHeight() * 0.6),
        series: [{}, { label: "Expected SoC", stroke: COLOURS.soc, fill: "rgba(47,158,68,.1)", width: 1.5, points: { show: false }, value: (u, v) => (v == null ? "–" : `${num(v, 0)} %`) },
          { label: "Reserve", stroke: COLOURS.grid, width: 1.2, dash: [6, 4], points: { show: false }, value: (u, v) => (v == null ? "–" : `${num(v, 0)} %`) }],
        scales: { y: { range: [0, 100] } }, axes: [timeAxis, percentAxis] }, socData, socNode);
    } else {
      app.charts.plan.setData(powerData);
      app.charts.plansoc.setData(socData);
    }
  }

  // ---------------------------------------------------------------------------- earnings
  function renderEarnings(live) {
    const e = live.earnings; const cur = app.site.currency;
    const today = { ...e.today, mined_kwh: e.mined_today_kwh, earnings: e.earnings_today };
    // Bitcoin from the value at the configured price (value is hashprice x hashing done).
    for (const period of [today, e.month, e.total]) period.btc = period.earnings == null ? null : period.earnings / app.site.btc_price;
    const rows = [["Mined energy", "mined_kwh", kwh], ["Estimated value", "earnings", (v) => money(v)],
      ["Estimated bitcoin", "btc", (v) => (v == null ? "–" : `${num(v * 1e8, 0)} sats`)],
      ["Heat delivered", "heat_kwh", kwh], ["Solar energy", "pv_kwh", kwh],
      ["Hashing done", "th_days", (v) => (v == null ? "–" : `${num(v, 2)} TH·day`)]];
    const body = $("earnings-table").tBodies[0];
    body.replaceChildren(...rows.map(([label, key, f]) => {
      const tr = el("tr"); tr.append(el("td", null, label), el("td", null, f(today[key])), el("td", null, f(e.month[key])),
        el("td", null, key === "th_days" ? "–" : f(e.total[key]))); tr.dataset.key = key; return tr;
    }));
    set("earnings-note", `Value is estimated from the hashprice (${cur} per TH/s per day) while the miners hash; bitcoin from that value at ${num(app.site.btc_price, 0)} ${cur} per BTC (100,000,000 sats). "This month" counts the days the panel has seen.`);
  }

  // ---------------------------------------------------------------------------- settings
  function buildSettings(live) {
    const select = $("mode-select");
    select.replaceChildren(...app.site.modes.map((m) => { const o = el("option", null, m); o.value = m; return o; }));
    select.value = live.mode;
    $("mode-form").onsubmit = (event) => { event.preventDefault();
      feedback($("mode-feedback"), command(app.site.controller_device, "mode", select.value), `mode set to ${select.value}`); };
    const rows = $("settings-rows");
    for (const n of app.site.control_numbers) {
      const form = el("form", "setting"); form.dataset.field = n.field;
      const id = `setting-${n.field}`;
      const label = el("label", null, n.name); label.htmlFor = id;
      const wrap = el("span");
      const input = el("input"); input.type = "number"; input.id = id; input.name = n.field;
      input.min = n.min; input.max = n.max; input.step = n.step; input.value = live.control[n.field];
      wrap.append(input, el("span", "unit", n.unit));
      const save = el("button", "secondary", "Save");
      const out = el("span", "feedback");
      form.append(label, wrap, save, out);
      form.onsubmit = (event) => { event.preventDefault();
        feedback(out, command(app.site.controller_device, n.field, Number(input.value)), "saved"); };
      rows.append(form);
    }
    app.settingsBuilt = true;
  }

  function renderSettings(live) {
    if (!app.settingsBuilt) buildSettings(live);
    const select = $("mode-select");
    if (document.activeElement !== select) select.value = live.mode;
    for (const form of $("settings-rows").children) {
      const input = form.querySelector("input");
      if (document.activeElement !== input && !form.dataset.dirty) input.value = live.control[form.dataset.field];
    }
  }

  // -------------------------------------------------------------------------------- start
  const SHORT_CHARTS = new Set(["soc", "plansoc"]);
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const [key, chart] of Object.entries(app.charts)) {
        const node = $(`chart-${key}`);
        if (node && !node.closest(".page").hidden) chart.setSize({ width: chartWidth(node), height: SHORT_CHARTS.has(key) ? Math.round(chartHeight() * 0.6) : chartHeight() });
      }
    }, 100);
  });
  window.addEventListener("hashchange", route);

  async function start() {
    try {
      app.site = await getJSON("api/site");
      set("site-name", app.site.name);
      app.live = await getJSON("api/state");
    } catch (error) {
      setConn(false); set("now-reason", `Cannot reach the daemon: ${error.message}`);
      setTimeout(start, 3000); return;
    }
    route();
    connect();
  }
  window.edgeMiningPanel = app; // for tests and the curious: the charts and the latest state
  start();
})();
