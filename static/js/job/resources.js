// Resource charts (GPU, CPU, memory, disk, network) on a shared time axis, with the
// newest reading as each chart's headline, and the hosts table: one row per host that
// sent samples for the job (every node of a multi-node run), with its newest reading,
// its GPUs and its sample count. The charts draw one host at a time. What the page missed
// is read after the time of the last sample it read (lib/catchup.js); a sample read
// twice replaces itself.

import { LineChart, chartGroup } from "../charts/line.js";
import { firstJSON, getJSON, jobResourcesUrl } from "../lib/api.js";
import { Cursors, isoMicros } from "../lib/catchup.js";
import { clock, setText } from "../lib/format.js";
import { uid } from "./boot.js";

const GIB = 1024 ** 3;
const MB = 1e6;

const SAMPLES = "samples"; // the one key of this stream
const cursors = new Cursors(); // by sample time
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

// The samples the page holds, per host: a multi-node job has one row per host in the
// hosts table, and the charts draw one host at a time (the job's own host first; a click
// on a row switches). {host: {samples: Map(µs → sample), times: Set(µs of raw samples),
// count, newest, newestAt}}
const hosts = new Map();
const resourcesEl = document.getElementById("resources");
const preferredHost = resourcesEl?.dataset.host || "";
const hostRows = document.getElementById("resource-host-rows");
const hostsBox = document.getElementById("resource-hosts");
const hint = document.getElementById("resources-hint");
let selectedHost = null;
let hostChosen = false; // the reader picked a host: arrivals no longer move the charts

function hostEntry(name) {
  let entry = hosts.get(name);
  if (!entry) {
    entry = { samples: new Map(), times: new Set(), count: 0, newest: null, newestAt: null };
    hosts.set(name, entry);
  }
  return entry;
}

/** Store `samples` under their hosts; `counted` (the read's per-host totals) stands for
 * samples that came downsampled. Returns {host: [new samples]} in time order. */
function store(samples, counted = null) {
  const added = {};
  for (const sample of samples) {
    const name = sample.host || "";
    const entry = hostEntry(name);
    const at = isoMicros(sample.time);
    entry.samples.set(at, sample);
    const raw = !String(sample.resolution || "").startsWith("bucket");
    if (raw && !counted && !entry.times.has(at)) {
      entry.times.add(at);
      entry.count += 1;
    }
    if (entry.newestAt === null || at >= entry.newestAt) {
      entry.newestAt = at;
      entry.newest = sample;
    }
    (added[name] ||= []).push(sample);
  }
  for (const h of counted || []) hostEntry(h.host).count += h.samples;
  return added;
}

/** Draw `samples` (of one host) on the charts; `replace` redraws each series whole. */
function draw(samples, { replace = false } = {}) {
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
  if (replace) {
    // Series of another host's GPUs that this host lacks are emptied.
    for (const [chartId, chart] of resourceCharts) {
      for (const seriesId of chart.series.keys()) {
        if (!rows[`${chartId}|${seriesId}`]) chart.setPoints(seriesId, []);
      }
    }
  }
  for (const { chartId, seriesId, s, points } of Object.values(rows)) {
    const chart = resourceCharts.get(chartId);
    if (!chart) continue;
    if (!chart.hasSeries(seriesId)) chart.addSeries({ id: seriesId, label: s.label, color: s.color });
    points.sort((a, b) => a[0] - b[0]);
    if (replace) chart.setPoints(seriesId, points);
    else chart.append(seriesId, points);
  }
}

function drawHeadlines() {
  const entry = hosts.get(selectedHost);
  const newest = entry?.newest;
  const values = newest ? resourceValues(newest) : {};
  for (const [id, chart] of resourceCharts) {
    if (newest) setText(chart.$el.querySelector('[data-f="value"]'), resourceHeadline(id, newest, values[id] || {}));
    chart.loaded();
  }
}

function gpuText(gpu, i) {
  const parts = [`GPU ${gpu.index ?? i}`];
  if (gpu.util !== null && gpu.util !== undefined) parts.push(RESOURCE_FORMAT.gpu_util(gpu.util));
  if (gpu.mem_used !== null && gpu.mem_used !== undefined) {
    parts.push(gpu.mem_total ? `${(gpu.mem_used / GIB).toFixed(1)} / ${(gpu.mem_total / GIB).toFixed(0)} GiB` : RESOURCE_FORMAT.vram(gpu.mem_used / GIB));
  }
  return parts.join(" ");
}

/** The hosts table: one row per host with its newest reading, its GPUs and how many
 * samples it sent; the row whose charts show is pressed. */
function drawHosts() {
  if (!hostRows) return;
  const names = [...hosts.keys()].sort();
  for (const name of names) {
    const entry = hosts.get(name);
    let row = hostRows.querySelector(`tr[data-host="${CSS.escape(name)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.host = name;
      row.innerHTML =
        '<th scope="row"><button class="resource-host" type="button" aria-pressed="false"></button></th>' +
        '<td data-f="gpus"></td><td class="num" data-f="cpu"></td><td class="num" data-f="ram"></td>' +
        '<td class="num" data-f="samples"></td><td class="num" data-f="last"></td>';
      const button = row.querySelector("button");
      button.textContent = name || "(unnamed host)";
      button.title = `Show the charts of ${name}`;
      button.addEventListener("click", () => {
        hostChosen = true;
        select(name);
      });
      // Rows stay sorted by host name.
      const after = [...hostRows.children].find((r) => r.dataset.host > name);
      hostRows.insertBefore(row, after || null);
    }
    const s = entry.newest || {};
    const gpus = s.gpus || [];
    setText(row.querySelector('[data-f="gpus"]'), gpus.length ? gpus.map(gpuText).join(" · ") : "none");
    setText(row.querySelector('[data-f="cpu"]'), Number.isFinite(s.cpu_percent) ? RESOURCE_FORMAT.cpu(s.cpu_percent) : "—");
    setText(
      row.querySelector('[data-f="ram"]'),
      Number.isFinite(s.ram_used) ? (s.ram_total ? `${(s.ram_used / GIB).toFixed(1)} / ${(s.ram_total / GIB).toFixed(0)} GiB` : RESOURCE_FORMAT.ram(s.ram_used / GIB)) : "—",
    );
    setText(row.querySelector('[data-f="samples"]'), String(entry.count));
    const last = row.querySelector('[data-f="last"]');
    setText(last, s.time ? clock(s.time) : "—");
    if (s.time) last.title = s.time;
    const pressed = String(name === selectedHost);
    const button = row.querySelector("button");
    if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
    row.classList.toggle("is-selected", name === selectedHost);
  }
  if (hostsBox) hostsBox.hidden = !names.length;
  if (resourcesEl) resourcesEl.dataset.hosts = String(names.length);
  if (hint && names.length) {
    const text = names.length > 1 ? `${names.length} hosts · charts of ${selectedHost}` : `host ${names[0]}`;
    if (hint.textContent.trim() !== text) setText(hint, text);
  }
}

/** Show the charts of host `name`. */
function select(name) {
  if (!hosts.has(name) || name === selectedHost) return;
  selectedHost = name;
  const samples = [...hosts.get(name).samples.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  draw(samples, { replace: true });
  drawHeadlines();
  drawHosts();
}

function applySamples(samples, { replace = false, counted = null } = {}) {
  if (!samples.length) return;
  const added = store(samples, counted);
  // The job's own host (global rank 0's) is charted once it has samples, unless the
  // reader chose another; until then the first host that sent some.
  const wanted = hosts.has(preferredHost) && !hostChosen ? preferredHost : selectedHost;
  if (wanted === null || wanted !== selectedHost) {
    const first = wanted ?? [...hosts.keys()].sort()[0];
    if (first === undefined) return;
    select(first);
    return;
  }
  if (added[selectedHost]) {
    draw(added[selectedHost], { replace });
    drawHeadlines();
  }
  drawHosts();
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
  applySamples(data.samples, { replace: true, counted: data.downsampled ? data.hosts : null });
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
  applySamples(data.samples, { counted: data.downsampled ? data.hosts : null });
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
