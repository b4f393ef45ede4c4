// The compare charts: one chart per metric key at least two jobs logged, one colour per
// job (the --cmp-N palette), x by step or by time since each job started; each as a PNG.
// "Group by" draws one mean line ± std band per group instead (bands.js); `?group=`.

import { LineChart } from "../charts/line.js";
import { downloadChartPng, safeFilename } from "../charts/png.js";
import { getJSON, jobMetricsUrl } from "../lib/api.js";
import { duration } from "../lib/format.js";
import { onThemeChange } from "../lib/theme.js";
import { bandRows, groupsOf } from "./bands.js";
import { boot } from "./boot.js";

const MAX_POINTS = 1000;
let xMode = "step";
const series = new Map(); // uid -> {key: [[step, value, epoch], ...]}
const charts = new Map(); // key -> LineChart
const groupings = boot.groupings || {};
let groupBy = new URLSearchParams(location.search).get("group") || "";
if (!Object.hasOwn(groupings, groupBy)) groupBy = "";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** The job's fixed colour: `--cmp-1` .. `--cmp-8`, resolved for the current theme. */
function jobColor(index) {
  return cssVar(`--cmp-${index + 1}`) || cssVar("--accent");
}

// --- relative time ------------------------------------------------------------------

/** Seconds since the job started at `step`, interpolated between the server's anchors. */
function secondsAt(uid, step) {
  const anchors = boot.clocks[uid] || [];
  if (!anchors.length) return null;
  if (step <= anchors[0][0]) return anchors[0][1];
  const last = anchors[anchors.length - 1];
  if (step >= last[0]) return last[1];
  let lo = 0;
  let hi = anchors.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (anchors[mid][0] <= step) lo = mid;
    else hi = mid;
  }
  const [s0, t0] = anchors[lo];
  const [s1, t1] = anchors[hi];
  return t0 + ((step - s0) / (s1 - s0 || 1)) * (t1 - t0);
}

function pointsFor(uid, key) {
  const rows = series.get(uid)?.[key] || [];
  if (xMode === "step") return rows;
  const out = [];
  let previous = -Infinity;
  for (const [step, value, epoch] of rows) {
    const x = secondsAt(uid, step);
    if (x === null || x < previous) continue;
    // Equal times (a burst logged in one second) nudge apart so the line stays ordered.
    const at = x === previous ? previous + 1e-3 : x;
    out.push([at, value, epoch]);
    previous = at;
  }
  return out;
}

// --- charts -------------------------------------------------------------------------

function formatX(value, short) {
  if (xMode === "time") return short ? duration(value).replace(/ 0+[sm]$/, "") : `${duration(value)} since start`;
  return this.constructor.prototype.formatX.call(this, value, short);
}

for (const article of document.querySelectorAll(".compare-chart")) {
  const key = article.dataset.key;
  const canvas = article.querySelector("canvas");
  const chart = new LineChart(canvas, {
    series: boot.jobs.map((job, index) => ({ id: job.uid, label: job.name, color: jobColor(index) })),
  });
  chart.formatX = formatX;
  chart.tooltipLabel = tooltipLabel;
  chart.$article = article;
  charts.set(key, chart);
  article.querySelector("[data-png]").addEventListener("click", () => {
    const title = `${key} · by ${xMode === "time" ? "time since start" : "step"}`;
    const legend = groupBy
      ? groupsOf(groupings[groupBy], boot.jobs.map((job) => job.uid)).map((g, i) => ({ label: `${g.label} (mean ± std)`, color: jobColor(i) }))
      : boot.jobs.map((job, index) => ({ label: job.name, color: jobColor(index) }));
    downloadChartPng(chart.chart, { title, legend, filename: `${safeFilename("compare", key)}.png` });
  });
}

// Time ticks on round durations (1 min, 5 min, 1 h, ...) rather than wherever they fall.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

function timeStep(points) {
  const last = Math.max(0, ...Object.values(points).flatMap((rows) => rows.map((row) => row[0])));
  return TIME_STEPS.find((step) => last / step <= 7) || 86400 * Math.ceil(last / 86400 / 7);
}

// --- groups -------------------------------------------------------------------------

const GROUP_ROLES = new Set(["band-low", "band-high", "mean"]);

function withAlpha(color, alpha) {
  const probe = document.createElement("canvas").getContext("2d");
  probe.fillStyle = color;
  const hex = probe.fillStyle;
  if (!hex.startsWith("#")) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Replace the chart's group datasets: per group a lower edge, an upper edge filled down
 * to it, and the mean line; the jobs' own lines are emptied meanwhile. */
function setBands(chart, points) {
  const datasets = chart.chart.data.datasets.filter((ds) => !GROUP_ROLES.has(ds.$role));
  const groups = groupBy ? groupsOf(groupings[groupBy], boot.jobs.map((job) => job.uid)) : [];
  const drawn = [];
  groups.forEach((group, index) => {
    const rows = bandRows(group.uids.map((uid) => points[uid]));
    if (!rows.length) return;
    drawn.push(index);
    const color = jobColor(index);
    const label = `${group.label} (${group.uids.length} job${group.uids.length === 1 ? "" : "s"})`;
    const edge = { borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, tooltip: false, $group: group.label };
    datasets.push(
      { ...edge, label: `${label} − std`, data: rows.map((r) => ({ x: r.x, y: r.mean - r.std })), fill: false, $role: "band-low" },
      {
        ...edge,
        label: `${label} + std`,
        data: rows.map((r) => ({ x: r.x, y: r.mean + r.std })),
        fill: "-1",
        backgroundColor: withAlpha(color, 0.18),
        $role: "band-high",
      },
      {
        label,
        data: rows.map((r) => ({ x: r.x, y: r.mean, std: r.std, n: r.n })),
        borderColor: withAlpha(color, 1),
        backgroundColor: withAlpha(color, 1),
        pointHoverBackgroundColor: withAlpha(color, 1),
        $role: "mean",
        $group: group.label,
        tooltip: true,
      },
    );
  });
  chart.chart.data.datasets = datasets;
  return drawn;
}

/** The legend of the groups drawn on some chart (`drawn`: their indexes), in their
 * chart colours; a group without data on any chart (queued jobs only) is left out. */
function showGroupLegend(drawn) {
  const legend = document.getElementById("group-legend");
  if (!legend) return;
  const groups = groupBy ? groupsOf(groupings[groupBy], boot.jobs.map((job) => job.uid)) : [];
  const shown = groups.map((group, index) => [group, index]).filter(([, index]) => drawn.has(index));
  legend.replaceChildren(
    ...shown.map(([group, index]) => {
      const item = document.createElement("li");
      item.dataset.cmp = String(index + 1);
      item.dataset.group = group.label;
      const swatch = Object.assign(document.createElement("i"), { className: "swatch" });
      swatch.setAttribute("aria-hidden", "true");
      const n = group.uids.length;
      item.append(swatch, `${group.label} · ${n} job${n === 1 ? "" : "s"} · mean ± std`);
      return item;
    }),
  );
  legend.hidden = !shown.length;
}

function tooltipLabel(item) {
  const ds = item.dataset;
  if (ds.$role !== "mean") return this.constructor.prototype.tooltipLabel.call(this, item);
  const point = item.raw;
  return ` ${ds.$group}  ${this.yFormat(point.y)} ± ${this.yFormat(point.std)} (${point.n} job${point.n === 1 ? "" : "s"})`;
}

function draw() {
  const drawn = new Set();
  for (const [key, chart] of charts) {
    chart.resetZoom();
    const points = Object.fromEntries(boot.jobs.map((job) => [job.uid, pointsFor(job.uid, key)]));
    for (const job of boot.jobs) chart.setPoints(job.uid, groupBy ? [] : points[job.uid]);
    for (const index of setBands(chart, points)) drawn.add(index);
    const x = chart.chart.options.scales.x;
    if (xMode === "time") {
      x.suggestedMin = 0;
      x.ticks.stepSize = timeStep(points);
    } else {
      delete x.suggestedMin;
      delete x.ticks.stepSize;
    }
    // setPoints() drew the jobs' lines; the group datasets need a redraw of their own.
    chart.requestUpdate({ offscreen: true });
  }
  showGroupLegend(drawn);
}

function showChartProblem(text) {
  for (const chart of charts.values()) {
    const box = chart.canvas.parentElement;
    box.classList.remove("is-loading");
    if (!box.querySelector(".chart-empty")) {
      box.append(Object.assign(document.createElement("div"), { className: "chart-empty", textContent: text }));
    }
  }
}

async function loadSeries() {
  if (!boot.keys.length) return;
  const keys = encodeURIComponent(boot.keys.join(","));
  const results = await Promise.allSettled(
    boot.jobs.map(async (job) => {
      const data = await getJSON(jobMetricsUrl(job.uid, `keys=${keys}&max_points=${MAX_POINTS}`));
      const byKey = {};
      for (const [key, value] of Object.entries(data.series)) byKey[key] = value.points;
      series.set(job.uid, byKey);
    }),
  );
  const failed = boot.jobs.filter((_, i) => results[i].status === "rejected").map((job) => job.name);
  draw();
  if (failed.length) showChartProblem(`Could not load ${failed.join(", ")}; reload to retry`);
}

// --- x axis toggle ------------------------------------------------------------------

const axisGroup = document.getElementById("x-axis");
axisGroup?.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-x]");
  if (!button || button.dataset.x === xMode) return;
  xMode = button.dataset.x;
  for (const other of axisGroup.querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === button));
  draw();
});

// --- group by ------------------------------------------------------------------------

const groupSelect = document.getElementById("group-by");
if (groupSelect) {
  groupSelect.value = groupBy;
  groupSelect.addEventListener("change", () => {
    groupBy = groupSelect.value;
    const url = new URL(location.href);
    if (groupBy) url.searchParams.set("group", groupBy);
    else url.searchParams.delete("group");
    history.replaceState(history.state, "", url);
    draw();
  });
}

// --- theme --------------------------------------------------------------------------

onThemeChange(() => {
  // charts/line.js re-read its own colours first; the job colours come from --cmp-N.
  for (const chart of charts.values()) {
    boot.jobs.forEach((job, index) => {
      const s = chart.series.get(job.uid);
      if (s) s.color = jobColor(index);
    });
    chart.applyTheme();
  }
  if (groupBy) draw(); // the bands take their colours when built
});

/** Every job's series (the page's one read), drawn. */
export function load() {
  return loadSeries().catch(() => showChartProblem("Could not load the series; reload to retry"));
}
