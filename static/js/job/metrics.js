// The loss chart, the small chart of every other key, and the metric cards above them.
// Loaded once from the API, then appended to: pushed points (and polled ones) are added,
// nothing already drawn is fetched again.

import { LineChart } from "../charts/line.js";
import { firstJSON, getJSON, jobMetricsUrl } from "../lib/api.js";
import { metric, setText, steps, toNumber } from "../lib/format.js";
import { boot, uid } from "./boot.js";

const LOSS_KEYS = ["train/loss", "val/loss"];

let lastStep = null; // the greatest step seen in any series; polls ask for more
const latest = { ...boot.latest };

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

/** The series so far (the page's first read). */
export async function load() {
  if (!lossChart) return;
  const data = await firstJSON(jobMetricsUrl(uid, "max_points=1000"));
  const series = {};
  for (const [key, value] of Object.entries(data.series)) series[key] = value.points;
  applySeries(series, { replace: true });
  if (!Object.keys(series).length) showChartEmpty("No metrics reported yet");
  else if (!series["train/loss"] && !series["val/loss"]) lossChart.loaded();
  for (const chart of smallCharts.values()) chart.loaded();
}

/** The points after the last step seen; resolves to how many there were. */
export async function poll() {
  if (!lossChart) return 0;
  const since = lastStep === null ? "" : `&since_step=${lastStep}`;
  const data = await getJSON(jobMetricsUrl(uid, `max_points=10000${since}`));
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

/** A `metrics` push. */
export function apply(msg) {
  clearChartEmpty();
  applySeries(msg.series);
}
