// Resource charts (GPU, CPU, memory, disk, network) on a shared time axis, with the
// newest reading as each chart's headline. What the page missed is read after the time
// of the last sample it read (lib/catchup.js); a sample read twice replaces itself.

import { LineChart, chartGroup } from "../charts/line.js";
import { firstJSON, getJSON, jobResourcesUrl } from "../lib/api.js";
import { Cursors, isoMicros } from "../lib/catchup.js";
import { setText } from "../lib/format.js";
import { uid } from "./boot.js";

const GIB = 1024 ** 3;
const MB = 1e6;

const SAMPLES = "samples"; // the one key of this stream
const cursors = new Cursors(); // by sample time
let newestShown = null; // time (µs) of the sample the headlines show
let loading = null; // the first read, while it runs

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
  const newestTime = isoMicros(newest.time);
  // The headlines show the newest sample: a catch-up of older ones leaves them.
  const current = newestShown === null || newestTime >= newestShown;
  if (current) newestShown = newestTime;
  const values = resourceValues(newest);
  for (const [id, chart] of resourceCharts) {
    if (current) setText(chart.$el.querySelector('[data-f="value"]'), resourceHeadline(id, newest, values[id] || {}));
    chart.loaded();
  }
}

/** The time of the newest of `samples`, as a reading position. */
function newestOf(samples) {
  let best = null;
  for (const sample of samples) {
    const at = isoMicros(sample.time);
    if (best === null || at > best.at) best = { at, time: sample.time };
  }
  return best;
}

/** The samples so far (the page's first read). */
export function load() {
  if (!resourceCharts.size) return Promise.resolve();
  loading ||= loadOnce();
  return loading;
}

async function loadOnce() {
  const data = await firstJSON(jobResourcesUrl(uid, "max_points=400"));
  const newest = newestOf(data.samples);
  if (newest) cursors.read(SAMPLES, newest.at, newest.time);
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

/** The samples after the newest one read; `ticket` is LiveFeed's, for this read.
 * Resolves to how many there were. */
export async function poll(ticket = null) {
  if (!resourceCharts.size) return 0;
  if (loading) await loading.catch(() => {});
  const after = cursors.from(SAMPLES);
  const since = after ? `&since=${encodeURIComponent(after)}` : "";
  const data = await getJSON(jobResourcesUrl(uid, `max_points=400${since}`));
  if (data.samples.length) {
    for (const el of document.querySelectorAll("#resources .chart-empty")) el.remove();
  }
  applySamples(data.samples);
  const newest = newestOf(data.samples);
  if (newest) cursors.read(SAMPLES, newest.at, newest.time);
  cursors.readDone(ticket);
  return data.samples.length;
}

/** A `resources` push, carried by the socket of `epoch`. */
export function apply(msg, epoch = null) {
  for (const el of document.querySelectorAll("#resources .chart-empty")) el.remove();
  applySamples([msg.sample]);
  cursors.pushed(SAMPLES, isoMicros(msg.sample.time), msg.sample.time, epoch);
}
