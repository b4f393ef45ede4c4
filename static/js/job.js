// Live job screen: charts fill in from the API, then follow /ws/jobs/<uid>/ (or polling).
// Pushed points are appended to the charts; nothing already drawn is fetched again.

import "./common.js";
import { onShortcut } from "./common.js";
import { LineChart, chartGroup } from "./charts.js";
import { clock, duration, metric, percent, setText, steps, toNumber } from "./format.js";
import { LiveFeed, getJSON } from "./live.js";

const boot = JSON.parse(document.getElementById("job-boot").textContent);
const uid = boot.uid;
const api = `/api/jobs/${encodeURIComponent(uid)}`;
const LOSS_KEYS = ["train/loss", "val/loss"];
const MAX_LOG_LINES = 3000;
const GIB = 1024 ** 3;
const MB = 1e6;

let lastStep = null; // the greatest step seen in any series; polls ask for more
let lastSeq = boot.lastSeq;
let lastResourceTime = null;
let card = boot.card;
const latest = { ...boot.latest };
const stageInfo = new Map(boot.stages.map((s) => [s.name, s]));

// --- charts -------------------------------------------------------------------------

const lossCanvas = document.getElementById("loss-chart");
const resetButton = document.getElementById("loss-reset");
const smoothingInput = document.getElementById("smoothing");
let lossChart = null;
const smallCharts = new Map();

function savedSmoothing() {
  try {
    const value = parseFloat(localStorage.getItem("tb-smoothing"));
    return Number.isFinite(value) ? value : 0.6;
  } catch {
    return 0.6;
  }
}

if (lossCanvas) {
  lossChart = new LineChart(lossCanvas, {
    series: [
      { id: "train/loss", label: "train", color: "accent", smooth: true },
      { id: "val/loss", label: "val", color: "series2", smooth: true },
    ],
    onZoom: (zoomed) => {
      resetButton.hidden = !zoomed;
    },
  });
  const alpha = savedSmoothing();
  smoothingInput.value = String(alpha);
  setText(document.getElementById("smoothing-value"), alpha.toFixed(2));
  lossChart.setSmoothing(alpha);
  smoothingInput.addEventListener("input", () => {
    const value = parseFloat(smoothingInput.value);
    setText(document.getElementById("smoothing-value"), value.toFixed(2));
    lossChart.setSmoothing(value);
    try {
      localStorage.setItem("tb-smoothing", String(value));
    } catch {
      /* not persisted */
    }
  });
  resetButton.addEventListener("click", () => lossChart.resetZoom());
  if (boot.errorStep !== null) lossChart.markStep(boot.errorStep);
}

function smallChart(key) {
  let chart = smallCharts.get(key);
  if (chart) return chart;
  const container = document.getElementById("small-charts");
  if (!container) return null;
  let article = [...container.querySelectorAll(".small-chart")].find((el) => el.dataset.key === key);
  if (!article) {
    // A key the job started logging after the page was painted.
    article = document.createElement("article");
    article.className = "panel small-chart";
    article.dataset.key = key;
    article.innerHTML =
      '<div class="panel__head"><h3></h3><span class="small-chart__value num" data-f="value"></span>' +
      '<button class="btn btn--ghost btn--icon chart-png" type="button" data-png>' +
      '<svg viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M8 2.5v8M4.5 7L8 10.5 11.5 7M3 13.5h10"/></svg></button></div>' +
      '<div class="panel__body"><div class="chart-box chart-box--sm"><canvas role="img"></canvas></div></div>';
    article.querySelector("h3").textContent = key;
    article.querySelector("canvas").setAttribute("aria-label", `${key} by step`);
    const png = article.querySelector("[data-png]");
    png.title = `Download ${key} as PNG`;
    png.setAttribute("aria-label", `Download ${key} chart as PNG`);
    const after = [...container.children].find((el) => el.dataset.key > key);
    container.insertBefore(article, after || null);
  }
  chart = new LineChart(article.querySelector("canvas"), {
    series: [{ id: key, label: key, color: "accent" }],
  });
  chart.$article = article;
  if (boot.errorStep !== null) chart.markStep(boot.errorStep);
  smallCharts.set(key, chart);
  return chart;
}

function chartFor(key) {
  if (LOSS_KEYS.includes(key)) return lossChart;
  return smallChart(key);
}

/** The JSON of `url`: from the request the page's inline script started early, if it
 * started one (each is used once; refreshes fetch anew), else fetched now. */
async function firstJSON(url) {
  const early = window.tbPrefetch?.get(url);
  if (!early) return getJSON(url);
  window.tbPrefetch.delete(url);
  const response = await early;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function noteStep(points) {
  for (const [step] of points) if (lastStep === null || step > lastStep) lastStep = step;
}

// --- metric cards -------------------------------------------------------------------

function updateMetricCard(key, points) {
  const last = points[points.length - 1];
  const previous = points.length > 1 ? points[points.length - 2][1] : latest[key];
  latest[key] = last[1];
  const el = document.querySelector(`.metric[data-key="${CSS.escape(key)}"]`);
  if (el) {
    setText(el.querySelector('[data-f="value"]'), metric(last[1]));
    setText(el.querySelector('[data-f="step"]'), `step ${steps(last[0])}`);
    const deltaEl = el.querySelector('[data-f="delta"]');
    const now = toNumber(last[1]);
    const before = toNumber(previous);
    if (Number.isFinite(now) && Number.isFinite(before)) {
      const delta = now - before;
      const better = el.dataset.better === "down" ? delta <= 0 : delta >= 0;
      setText(deltaEl, `${delta >= 0 ? "↑" : "↓"}${metric(Math.abs(delta))}`);
      deltaEl.dataset.good = String(better);
    }
  }
  const chart = smallCharts.get(key);
  if (chart) setText(chart.$article.querySelector('[data-f="value"]'), metric(last[1]));
}

function applySeries(series, { replace = false } = {}) {
  for (const [key, points] of Object.entries(series)) {
    if (!points.length) continue;
    const chart = chartFor(key);
    if (chart) {
      if (replace) chart.setPoints(key, points);
      else chart.append(key, points);
    }
    noteStep(points);
    if (!replace || !(key in latest)) updateMetricCard(key, points);
    else {
      const chartValue = smallCharts.get(key);
      if (chartValue) setText(chartValue.$article.querySelector('[data-f="value"]'), metric(latest[key]));
    }
  }
}

function showChartEmpty(text) {
  for (const box of document.querySelectorAll(".area-loss .chart-box, .small-chart .chart-box")) {
    box.classList.remove("is-loading");
    if (!box.querySelector(".chart-empty")) {
      const empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = text;
      box.append(empty);
    }
  }
}

function clearChartEmpty() {
  for (const el of document.querySelectorAll(".chart-empty")) el.remove();
}

async function loadMetrics() {
  if (!lossChart) return;
  const data = await firstJSON(`${api}/metrics?max_points=1000`);
  const series = {};
  for (const [key, value] of Object.entries(data.series)) series[key] = value.points;
  applySeries(series, { replace: true });
  if (!Object.keys(series).length) showChartEmpty("No metrics reported yet");
  else if (!series["train/loss"] && !series["val/loss"]) lossChart.loaded();
  for (const chart of smallCharts.values()) chart.loaded();
}

async function pollMetrics() {
  if (!lossChart) return 0;
  const since = lastStep === null ? "" : `&since_step=${lastStep}`;
  const data = await getJSON(`${api}/metrics?max_points=10000${since}`);
  const series = {};
  let news = 0;
  for (const [key, value] of Object.entries(data.series)) {
    if (!value.points.length) continue;
    series[key] = value.points;
    news += value.points.length;
  }
  if (news) clearChartEmpty();
  applySeries(series);
  return news;
}

// --- resources ----------------------------------------------------------------------

const resourceGroup = chartGroup();
const resourceCharts = new Map();
const GPU_COLORS = ["accent", "series2", "completed", "cancelled", "running", "failed", "muted", "text"];
const RESOURCE_FORMAT = {
  gpu_util: (v) => `${v.toFixed(0)}%`,
  gpu_temp: (v) => `${v.toFixed(0)} °C`,
  vram: (v) => `${v.toFixed(1)} GiB`,
  cpu: (v) => `${v.toFixed(0)}%`,
  cpu_temp: (v) => `${v.toFixed(0)} °C`,
  ram: (v) => `${v.toFixed(1)} GiB`,
  disk: (v) => `${v.toFixed(1)} MB/s`,
  net: (v) => `${v.toFixed(1)} MB/s`,
};
const RESOURCE_RANGE = { gpu_util: [0, 100], cpu: [0, 100] };

for (const el of document.querySelectorAll("[data-resource]")) {
  const id = el.dataset.resource;
  const [yMin, yMax] = RESOURCE_RANGE[id] || [0, undefined];
  const chart = new LineChart(el.querySelector("canvas"), {
    xType: "time",
    group: resourceGroup,
    yMin,
    yMax,
    yFormat: (v) => (Number.isFinite(v) ? RESOURCE_FORMAT[id](v).replace(/\.0(?= )/, "") : "—"),
  });
  chart.$el = el;
  resourceCharts.set(id, chart);
}

/** {chartId: {seriesId: {label, color, value}}} read from one resource sample. */
function resourceValues(sample) {
  const out = {};
  const put = (chart, id, label, color, value) => {
    if (value === null || value === undefined) return;
    (out[chart] ||= {})[id] = { label, color, value };
  };
  for (const [i, gpu] of (sample.gpus || []).entries()) {
    const index = gpu.index ?? i;
    const color = GPU_COLORS[index % GPU_COLORS.length];
    put("gpu_util", `gpu${index}`, `GPU ${index}`, color, gpu.util);
    put("gpu_temp", `gpu${index}`, `GPU ${index}`, color, gpu.temp);
    if (gpu.mem_used !== null && gpu.mem_used !== undefined) {
      put("vram", `gpu${index}`, `GPU ${index}`, color, gpu.mem_used / GIB);
    }
  }
  put("cpu", "cpu", "CPU", "accent", sample.cpu_percent);
  put("cpu_temp", "cpu", "CPU", "series2", sample.cpu_temp);
  if (sample.ram_used !== null && sample.ram_used !== undefined) put("ram", "ram", "used", "accent", sample.ram_used / GIB);
  if (sample.disk_read_rate !== null && sample.disk_read_rate !== undefined) put("disk", "read", "read", "accent", sample.disk_read_rate / MB);
  if (sample.disk_write_rate !== null && sample.disk_write_rate !== undefined) put("disk", "write", "write", "series2", sample.disk_write_rate / MB);
  if (sample.net_rx_rate !== null && sample.net_rx_rate !== undefined) put("net", "rx", "rx", "accent", sample.net_rx_rate / MB);
  if (sample.net_tx_rate !== null && sample.net_tx_rate !== undefined) put("net", "tx", "tx", "series2", sample.net_tx_rate / MB);
  return out;
}

function resourceHeadline(id, sample, values) {
  const series = Object.values(values);
  if (!series.length) return "—";
  if (id === "vram") {
    const gpus = sample.gpus || [];
    const used = gpus.reduce((a, g) => a + (g.mem_used || 0), 0) / GIB;
    const total = gpus.reduce((a, g) => a + (g.mem_total || 0), 0) / GIB;
    return total ? `${used.toFixed(1)} / ${total.toFixed(0)} GiB` : RESOURCE_FORMAT.vram(used);
  }
  if (id === "ram" && sample.ram_total) {
    return `${(sample.ram_used / GIB).toFixed(1)} / ${(sample.ram_total / GIB).toFixed(0)} GiB`;
  }
  if (id === "disk" || id === "net") {
    const [a, b] = series;
    return `${a.label} ${RESOURCE_FORMAT[id](a.value)}${b ? ` · ${b.label} ${RESOURCE_FORMAT[id](b.value)}` : ""}`;
  }
  const mean = series.reduce((acc, s) => acc + s.value, 0) / series.length;
  return RESOURCE_FORMAT[id](mean);
}

function applySamples(samples, { replace = false } = {}) {
  if (!samples.length) return;
  const rows = {};
  for (const sample of samples) {
    const x = new Date(sample.time).getTime();
    for (const [chartId, series] of Object.entries(resourceValues(sample))) {
      for (const [seriesId, s] of Object.entries(series)) {
        const key = `${chartId}|${seriesId}`;
        (rows[key] ||= { chartId, seriesId, s, points: [] }).points.push([x, s.value]);
      }
    }
  }
  for (const { chartId, seriesId, s, points } of Object.values(rows)) {
    const chart = resourceCharts.get(chartId);
    if (!chart) continue;
    if (!chart.hasSeries(seriesId)) chart.addSeries({ id: seriesId, label: s.label, color: s.color });
    if (replace) chart.setPoints(seriesId, points);
    else chart.append(seriesId, points);
  }
  const newest = samples[samples.length - 1];
  lastResourceTime = newest.time;
  const values = resourceValues(newest);
  for (const [id, chart] of resourceCharts) {
    setText(chart.$el.querySelector('[data-f="value"]'), resourceHeadline(id, newest, values[id] || {}));
    chart.loaded();
  }
}

async function loadResources() {
  if (!resourceCharts.size) return;
  const data = await firstJSON(`/api/training/resources?job=${encodeURIComponent(uid)}&max_points=400`);
  applySamples(data.samples, { replace: true });
  if (!data.samples.length) {
    for (const chart of resourceCharts.values()) {
      chart.loaded();
      const box = chart.canvas.parentElement;
      if (!box.querySelector(".chart-empty")) {
        const empty = document.createElement("div");
        empty.className = "chart-empty";
        empty.textContent = "No samples";
        box.append(empty);
      }
    }
  }
}

async function pollResources() {
  if (!resourceCharts.size) return 0;
  const since = lastResourceTime ? `&since=${encodeURIComponent(lastResourceTime)}` : "";
  const data = await getJSON(`/api/training/resources?job=${encodeURIComponent(uid)}&max_points=400${since}`);
  if (data.samples.length) {
    for (const el of document.querySelectorAll("#resources .chart-empty")) el.remove();
  }
  applySamples(data.samples);
  return data.samples.length;
}

// --- header, progress, stages -------------------------------------------------------

const STAGE_ICONS = {
  completed:
    '<svg viewBox="0 0 12 12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M2.5 6.2l2.3 2.3 4.7-5"/></svg>',
  failed:
    '<svg viewBox="0 0 12 12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M3.5 3.5l5 5M8.5 3.5l-5 5"/></svg>',
};

function stageDuration(stage) {
  if (!stage.started_at) return null;
  const end = stage.finished_at ? new Date(stage.finished_at) : new Date();
  return Math.max(0, (end - new Date(stage.started_at)) / 1000);
}

function renderStage(stage) {
  stageInfo.set(stage.name, stage);
  const li = document.querySelector(`.stage[data-stage="${stage.name}"]`);
  if (!li) return;
  if (li.dataset.status !== stage.status) {
    li.dataset.status = stage.status;
    li.querySelector(".stage__icon").innerHTML = STAGE_ICONS[stage.status] || "";
    setText(li.querySelector('[data-f="status-text"]'), `(${stage.status})`);
  }
  const d = stageDuration(stage);
  setText(li.querySelector('[data-f="time"]'), stage.status === "skipped" ? "skipped" : d === null ? "" : duration(d));
  const detail = li.querySelector('[data-f="detail"]');
  if (stage.status === "active") {
    let bar = detail.querySelector(".progress__bar");
    if (!bar) {
      detail.innerHTML = '<span class="num"></span><div class="progress"><div class="progress__bar"></div></div>';
      bar = detail.querySelector(".progress__bar");
    }
    const text = `${Math.round(stage.progress)}%${stage.message ? ` · ${stage.message}` : ""}`;
    setText(detail.querySelector("span"), text);
    bar.style.width = `${stage.progress}%`;
  } else if (stage.status === "failed" && stage.message) {
    const text = stage.message.length > 90 ? `${stage.message.slice(0, 89)}…` : stage.message;
    detail.replaceChildren(Object.assign(document.createElement("span"), { textContent: text, title: stage.message }));
  } else {
    detail.replaceChildren();
  }
}

const rateSamples = [];

function stepRate(next) {
  // Steps per second over the last minute of status pushes; the server's figure until then.
  const now = Date.now();
  rateSamples.push([now, next.current_step]);
  while (rateSamples.length > 2 && now - rateSamples[0][0] > 60000) rateSamples.shift();
  const [t0, s0] = rateSamples[0];
  if (rateSamples.length >= 2 && now - t0 > 5000 && next.current_step > s0) {
    return (next.current_step - s0) / ((now - t0) / 1000);
  }
  return card.rate ?? null;
}

const statusNotice = document.getElementById("status-notice");
document.getElementById("status-notice-reload").addEventListener("click", () => location.reload());

function applyCard(next, { rate = undefined, eta = undefined } = {}) {
  const badge = document.getElementById("job-status");
  if (badge.textContent.trim().toLowerCase() !== next.status) {
    badge.textContent = next.status.charAt(0).toUpperCase() + next.status.slice(1);
    badge.className = `badge badge--${next.status} flash`;
  }
  const bar = document.getElementById("job-bar");
  if (bar) {
    bar.style.width = `${next.progress}%`;
    bar.style.setProperty("--c", `var(--${next.status})`);
    document.getElementById("job-progressbar").setAttribute("aria-valuenow", Math.round(next.progress));
    setText(document.getElementById("job-progress"), `${Number(next.progress).toFixed(1)}%`);
    setText(document.getElementById("job-step"), steps(next.current_step));
    setText(document.getElementById("job-epoch"), Number(next.epoch).toFixed(2));
  }
  const epochCard = document.getElementById("metric-epoch");
  if (epochCard && epochCard.firstChild) {
    epochCard.firstChild.textContent = Number(next.epoch).toFixed(2);
  }
  if (next.status === "running") {
    const r = rate !== undefined ? rate : stepRate(next);
    const remaining = next.total_steps ? next.total_steps - next.current_step : null;
    const e = eta !== undefined ? eta : r && remaining !== null ? remaining / r : null;
    setText(document.getElementById("job-rate"), r ? r.toFixed(2) : "—");
    setText(document.getElementById("job-eta"), duration(e));
    next.rate = r;
  }
  if (next.status !== boot.status) {
    if (boot.status === "queued" && !feed.paused) {
      // The queued layout has no charts to fill: show the running one.
      location.reload();
      return;
    }
    setText(document.getElementById("status-notice-text"), `This job is now ${next.status}. Reload for its final summary.`);
    statusNotice.hidden = false;
  }
  card = { ...card, ...next };
}

function tick() {
  const elapsed = document.getElementById("job-elapsed");
  if (elapsed && card.started_at) {
    const end = card.finished_at ? new Date(card.finished_at) : new Date();
    setText(elapsed, duration((end - new Date(card.started_at)) / 1000));
  }
  for (const stage of stageInfo.values()) if (stage.status === "active") renderStage(stage);
}
setInterval(tick, 1000);

async function pollJob() {
  const detail = await getJSON(api);
  const changed =
    detail.status !== card.status ||
    detail.current_step !== card.current_step ||
    detail.progress !== card.progress;
  for (const stage of detail.stages || []) renderStage(stage);
  applyCard(detail, { rate: detail.step_rate ?? undefined, eta: detail.eta_seconds ?? undefined });
  return changed ? 1 : 0;
}

// --- alerts -------------------------------------------------------------------------

function renderAlerts(findings) {
  const panel = document.getElementById("alerts-panel");
  if (!panel) return;
  const list = document.getElementById("alerts-list");
  const sorted = [...findings].sort((a, b) => (a.severity === "critical" ? 0 : 1) - (b.severity === "critical" ? 0 : 1));
  list.replaceChildren(
    ...sorted.map((finding) => {
      const details = document.createElement("details");
      details.className = "alert";
      details.dataset.code = finding.code;
      details.dataset.severity = finding.severity;
      const summary = document.createElement("summary");
      const severity = Object.assign(document.createElement("span"), { className: "severity", textContent: finding.severity });
      const title = Object.assign(document.createElement("strong"), { textContent: finding.title });
      const text = Object.assign(document.createElement("span"), { className: "muted small", textContent: finding.summary || "" });
      summary.append(severity, title, text);
      details.append(summary);
      if (finding.suggested_fixes?.length) {
        const ul = document.createElement("ul");
        ul.className = "checklist";
        for (const fix of finding.suggested_fixes) ul.append(Object.assign(document.createElement("li"), { textContent: fix }));
        details.append(ul);
      }
      return details;
    }),
  );
  setText(document.getElementById("alerts-count"), `${sorted.length} open alert${sorted.length === 1 ? "" : "s"}`);
  panel.hidden = sorted.length === 0;
}

// --- logs ---------------------------------------------------------------------------

const logScroll = document.getElementById("log-scroll");
const logEmpty = document.getElementById("logs-empty");
const jumpButton = document.getElementById("log-jump");
const levelSelect = document.getElementById("log-level");
const logSearch = document.getElementById("log-search");
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
let stickToBottom = true;

function lineVisible(el) {
  const min = levelSelect.value;
  if (min && LEVELS.indexOf(el.dataset.level) < LEVELS.indexOf(min)) return false;
  const q = logSearch.value.trim().toLowerCase();
  return !q || el.querySelector(".log__msg").textContent.toLowerCase().includes(q);
}

function filterLogs() {
  for (const el of logScroll.querySelectorAll(".log")) el.hidden = !lineVisible(el);
  scrollLogsToEnd();
}

function logCount() {
  setText(document.getElementById("logs-count"), String(logScroll.querySelectorAll(".log").length));
}

function scrollLogsToEnd() {
  logScroll.scrollTop = logScroll.scrollHeight;
  stickToBottom = true;
  jumpButton.hidden = true;
}

function appendLogs(lines) {
  const fragment = document.createDocumentFragment();
  let added = 0;
  for (const line of lines) {
    if (lastSeq !== null && line.seq <= lastSeq) continue;
    lastSeq = line.seq;
    const el = document.createElement("div");
    el.className = "log";
    el.dataset.seq = line.seq;
    el.dataset.level = line.level;
    const time = document.createElement("span");
    time.className = "log__time";
    time.textContent = clock(line.time);
    time.title = line.time;
    const level = document.createElement("span");
    level.className = "log__level";
    level.textContent = line.level.slice(0, 4);
    const message = document.createElement("span");
    message.className = "log__msg";
    message.textContent = line.message;
    el.append(time, level, message);
    el.hidden = !lineVisible(el);
    fragment.append(el);
    added += 1;
  }
  if (!added) return 0;
  logScroll.insertBefore(fragment, logEmpty);
  logEmpty.hidden = true;
  const all = logScroll.querySelectorAll(".log");
  for (let i = 0; i < all.length - MAX_LOG_LINES; i += 1) all[i].remove();
  logCount();
  if (stickToBottom) logScroll.scrollTop = logScroll.scrollHeight;
  else jumpButton.hidden = false;
  return added;
}

async function pollLogs() {
  const after = lastSeq === null ? "" : `&after_seq=${lastSeq}`;
  const data = await getJSON(`${api}/logs?limit=1000${after}`);
  return appendLogs(data.lines);
}

logScroll.addEventListener("scroll", () => {
  const atBottom = logScroll.scrollHeight - logScroll.scrollTop - logScroll.clientHeight < 24;
  stickToBottom = atBottom;
  if (atBottom) jumpButton.hidden = true;
});
jumpButton.addEventListener("click", scrollLogsToEnd);
levelSelect.addEventListener("change", filterLogs);
logSearch.addEventListener("input", filterLogs);
document.getElementById("log-clear").addEventListener("click", () => {
  for (const el of logScroll.querySelectorAll(".log")) el.remove();
  logEmpty.hidden = false;
  logEmpty.textContent = "Cleared. New lines appear here.";
  logCount();
});
const logsToggle = document.getElementById("logs-toggle");
logsToggle.addEventListener("click", () => {
  const panel = document.getElementById("logs-panel");
  const collapsed = panel.dataset.collapsed !== "true";
  panel.dataset.collapsed = String(collapsed);
  logsToggle.setAttribute("aria-expanded", String(!collapsed));
  if (!collapsed) scrollLogsToEnd();
});
for (const el of logScroll.querySelectorAll(".log__time")) el.textContent = clock(el.dataset.time);
scrollLogsToEnd();

// --- live ---------------------------------------------------------------------------

const feed = new LiveFeed({
  path: `/ws/jobs/${encodeURIComponent(uid)}/`,
  onMessage(msg) {
    switch (msg.type) {
      case "metrics":
        clearChartEmpty();
        applySeries(msg.series);
        break;
      case "logs":
        appendLogs(msg.lines);
        break;
      case "stage":
        renderStage(msg.stage);
        break;
      case "status":
        applyCard(msg.job);
        // Notes and tags (job_details.js) follow the same push.
        document.dispatchEvent(new CustomEvent("tb:job-status", { detail: msg }));
        break;
      case "alerts":
        renderAlerts(msg.findings || []);
        break;
      case "resources":
        for (const el of document.querySelectorAll("#resources .chart-empty")) el.remove();
        applySamples([msg.sample]);
        break;
      default:
        break;
    }
  },
  async poll() {
    const counts = await Promise.all([pollJob(), pollMetrics(), pollLogs(), pollResources()]);
    return counts.reduce((a, b) => a + b, 0);
  },
  expectActivity: () => card.status === "running" || card.status === "queued",
});

const liveButton = document.getElementById("live-toggle");
function renderLiveButton() {
  const paused = feed.paused;
  liveButton.setAttribute("aria-pressed", String(paused));
  setText(document.getElementById("live-text"), paused ? "Live" : "Pause");
  liveButton.title = paused ? "Resume live updates (l)" : "Pause live updates (l)";
  liveButton.querySelector('[data-icon="pause"]').hidden = paused;
  liveButton.querySelector('[data-icon="play"]').hidden = !paused;
}
liveButton.addEventListener("click", () => {
  feed.toggle();
  renderLiveButton();
});
document.getElementById("refresh").addEventListener("click", () => feed.refresh());
onShortcut("l", () => {
  feed.toggle();
  renderLiveButton();
});
onShortcut("r", () => feed.refresh());

async function start() {
  // The socket opens first so nothing stored while the series load is missed; points
  // that arrive twice (pushed and loaded) replace each other by step.
  const live = new Promise((resolve) => feed.onState((state) => state === "live" && resolve()));
  feed.start();
  const results = await Promise.allSettled([loadMetrics(), loadResources()]);
  if (results.some((r) => r.status === "rejected")) feed.showBanner();
  // The series were requested before the socket joined its group (earlier still when the
  // page's inline script started them): once it carries pushes, read what came between.
  await live;
  if (!feed.paused) await Promise.allSettled([pollMetrics(), pollResources()]);
}

start();
