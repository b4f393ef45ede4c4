// Line charts on Chart.js (vendored UMD build, window.Chart): step or time x-axis,
// EMA smoothing drawn over the faint raw series, NaN/inf as gaps with a marker,
// drag-to-zoom, shift-drag pan, double-click reset, live appends redrawn at most once
// per animation frame.

import { metric, steps as fmtSteps, toNumber } from "../lib/format.js";
import { onThemeChange } from "../lib/theme.js";

const Chart = window.Chart;
const charts = new Set();

// Charts scrolled out of sight keep their data but skip redraws until they come back:
// a live batch then costs the redraw of the charts on screen only.
const sight = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const owner = entry.target.$tbChart;
    if (!owner) continue;
    owner.visible = entry.isIntersecting;
    if (owner.visible && owner.stale) owner.requestUpdate();
  }
});

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function palette() {
  return {
    text: css("--text"),
    muted: css("--text-muted"),
    border: css("--border"),
    bg: css("--bg"),
    accent: css("--accent"),
    series2: css("--series-2"),
    failed: css("--failed"),
    running: css("--running"),
    completed: css("--completed"),
    warning: css("--warning"),
    cancelled: css("--cancelled"),
  };
}

// Time-axis labels: formatters built once (toLocaleTimeString builds one per call; it was
// the largest script cost of drawing the resource charts).
const TIME_SHORT = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
const TIME_LONG = new Intl.DateTimeFormat("en-GB", { hour12: false, hour: "numeric", minute: "numeric", second: "numeric" });
// Tick labels measured per redraw to lay out an axis: a sample is enough for labels of
// similar width, and measuring all of them was most of a live append's cost.
const TICK_SAMPLE = 6;

// Chart.js' canvas cannot paint CSS color-mix(); resolve colours to rgba once.
const probe = document.createElement("canvas").getContext("2d");
function rgba(color, alpha = 1) {
  probe.fillStyle = "#000";
  probe.fillStyle = color;
  const hex = probe.fillStyle;
  if (hex.startsWith("#")) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  return hex;
}

// One tooltip row per dataset: the point of each series nearest the pointer's x, so
// series logged at different steps (train every 10, val every 500) line up correctly.
Chart.Interaction.modes.nearestPerSeries = function (chart, event) {
  const pos = Chart.helpers.getRelativePosition(event, chart);
  const items = [];
  chart.data.datasets.forEach((dataset, datasetIndex) => {
    if (dataset.tooltip === false || !chart.isDatasetVisible(datasetIndex)) return;
    const elements = chart.getDatasetMeta(datasetIndex).data;
    if (!elements.length) return;
    let lo = 0;
    let hi = elements.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (elements[mid].x < pos.x) lo = mid + 1;
      else hi = mid;
    }
    let index = lo;
    if (index > 0 && Math.abs(elements[index - 1].x - pos.x) < Math.abs(elements[index].x - pos.x)) index -= 1;
    const element = elements[index];
    if (!element || element.skip || Math.abs(element.x - pos.x) > 48) return;
    items.push({ element, datasetIndex, index });
  });
  return items;
};

// Crosshair shared by the charts of one group (resource charts hover together).
const crosshair = {
  id: "tbCrosshair",
  afterDraw(chart) {
    const group = chart.$tb?.group;
    const x = group ? group.x : chart.$tb?.hoverX;
    if (x === null || x === undefined) return;
    const scale = chart.scales.x;
    const px = scale.getPixelForValue(x);
    if (px < chart.chartArea.left || px > chart.chartArea.right) return;
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = chart.$tb.colors.muted;
    ctx.globalAlpha = 0.5;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(px, chart.chartArea.top);
    ctx.lineTo(px, chart.chartArea.bottom);
    ctx.stroke();
    ctx.restore();
  },
  afterEvent(chart, args) {
    const tb = chart.$tb;
    if (!tb) return;
    const event = args.event;
    let x = null;
    if (event.type === "mousemove" && args.inChartArea) x = chart.scales.x.getValueForPixel(event.x);
    if (event.type === "mouseout" || (event.type === "mousemove" && !args.inChartArea)) x = null;
    if (!["mousemove", "mouseout"].includes(event.type)) return;
    if (tb.group) {
      tb.group.x = x;
      for (const other of tb.group.charts) if (other !== tb.owner) other.requestDraw();
    } else {
      tb.hoverX = x;
    }
    args.changed = true;
  },
};

// Drag to zoom into an x range, shift-drag to pan, double-click to reset.
const dragZoom = {
  id: "tbDragZoom",
  afterDraw(chart) {
    const drag = chart.$tb?.drag;
    if (!drag || drag.pan) return;
    const { top, bottom } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.fillStyle = rgba(chart.$tb.colors.accent, 0.12);
    ctx.strokeStyle = rgba(chart.$tb.colors.accent, 0.6);
    const x = Math.min(drag.x0, drag.x1);
    const w = Math.abs(drag.x1 - drag.x0);
    ctx.fillRect(x, top, w, bottom - top);
    ctx.strokeRect(x + 0.5, top + 0.5, w, bottom - top);
    ctx.restore();
  },
};

function clampX(chart, px) {
  return Math.min(chart.chartArea.right, Math.max(chart.chartArea.left, px));
}

function installZoom(owner) {
  const canvas = owner.chart.canvas;
  const chart = owner.chart;
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const { left, right, top, bottom } = chart.chartArea;
    const y = event.clientY - rect.top;
    if (x < left || x > right || y < top || y > bottom) return;
    if (event.pointerType === "touch" && !event.shiftKey) return;
    canvas.setPointerCapture(event.pointerId);
    chart.$tb.drag = {
      x0: x,
      x1: x,
      pan: event.shiftKey,
      min: chart.scales.x.min,
      max: chart.scales.x.max,
    };
  });
  canvas.addEventListener("pointermove", (event) => {
    const drag = chart.$tb.drag;
    if (!drag) return;
    const rect = canvas.getBoundingClientRect();
    drag.x1 = clampX(chart, event.clientX - rect.left);
    if (drag.pan) {
      const span = drag.max - drag.min;
      const width = chart.chartArea.right - chart.chartArea.left;
      const shift = ((drag.x0 - drag.x1) / width) * span;
      owner.setRange(drag.min + shift, drag.max + shift);
    } else {
      owner.requestDraw();
    }
  });
  const finish = () => {
    const drag = chart.$tb.drag;
    if (!drag) return;
    chart.$tb.drag = null;
    if (!drag.pan && Math.abs(drag.x1 - drag.x0) > 6) {
      const a = chart.scales.x.getValueForPixel(Math.min(drag.x0, drag.x1));
      const b = chart.scales.x.getValueForPixel(Math.max(drag.x0, drag.x1));
      owner.setRange(a, b);
    } else {
      owner.requestDraw();
    }
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("dblclick", () => owner.resetZoom());
}

const stepMarker = {
  id: "tbStepMarker",
  afterDatasetsDraw(chart) {
    const mark = chart.$tb?.markStep;
    if (!mark) return;
    const px = chart.scales.x.getPixelForValue(mark.step);
    if (px < chart.chartArea.left - 1 || px > chart.chartArea.right + 1) return;
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = rgba(chart.$tb.colors[mark.color] || mark.color, 0.8);
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(px, chart.chartArea.top);
    ctx.lineTo(px, chart.chartArea.bottom);
    ctx.stroke();
    ctx.restore();
  },
};

// Small triangles on the x axis at the steps people commented on (the job page's thread).
const commentMarks = {
  id: "tbCommentMarks",
  afterDraw(chart) {
    const steps = chart.$tb?.commentSteps;
    if (!steps?.length) return;
    const { left, right, bottom } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.fillStyle = chart.$tb.colors.accent;
    for (const step of steps) {
      const px = chart.scales.x.getPixelForValue(step);
      if (px < left - 1 || px > right + 1) continue;
      ctx.beginPath();
      ctx.moveTo(px, bottom - 6);
      ctx.lineTo(px - 4, bottom);
      ctx.lineTo(px + 4, bottom);
      ctx.closePath();
      ctx.fill();
    }
    ctx.restore();
  },
};

// Small diamonds on the x axis at given steps (checkpoints), the `best` one filled.
const stepTicks = {
  id: "tbStepTicks",
  afterDatasetsDraw(chart) {
    const ticks = chart.$tb?.stepTicks;
    if (!ticks?.steps.length) return;
    const { left, right, bottom } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.lineWidth = 1.5;
    for (const step of ticks.steps) {
      const px = chart.scales.x.getPixelForValue(step);
      if (px < left - 1 || px > right + 1) continue;
      const best = step === ticks.best;
      const r = best ? 5 : 4;
      ctx.beginPath();
      ctx.moveTo(px, bottom - r);
      ctx.lineTo(px + r, bottom);
      ctx.lineTo(px, bottom + r);
      ctx.lineTo(px - r, bottom);
      ctx.closePath();
      ctx.fillStyle = rgba(best ? chart.$tb.colors.completed : chart.$tb.colors.bg, 1);
      ctx.strokeStyle = rgba(best ? chart.$tb.colors.completed : chart.$tb.colors.accent, 1);
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
  },
};

/** EMA with TensorBoard's debiasing, over finite values; non-finite values stay gaps. */
class Ema {
  constructor(alpha) {
    this.alpha = alpha;
    this.last = 0;
    this.n = 0;
  }
  next(value) {
    if (!Number.isFinite(value)) return null;
    this.last = this.last * this.alpha + (1 - this.alpha) * value;
    this.n += 1;
    const debias = this.alpha ? 1 - Math.pow(this.alpha, this.n) : 1;
    return this.last / debias;
  }
}

/**
 * A chart of named series. `series`: [{id, label, color, smooth}] — smooth series draw
 * their raw values faintly beneath an EMA line.
 */
export class LineChart {
  constructor(canvas, { series = [], xType = "step", yFormat = metric, group = null, onZoom = null, yMin, yMax } = {}) {
    this.canvas = canvas;
    this.xType = xType;
    this.yFormat = yFormat;
    this.group = group;
    this.onZoom = onZoom;
    this.smoothing = 0;
    this.series = new Map();
    this.raw = new Map(); // id -> [{x, y, epoch}]
    this.range = null;
    this.frame = 0;
    this.drawOnly = false;
    this.visible = true; // until the observer says otherwise
    this.stale = false;
    const colors = palette();
    this.chart = new Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        spanGaps: false,
        events: ["mousemove", "mouseout", "click", "touchstart", "touchmove"],
        interaction: { mode: "nearestPerSeries", intersect: false },
        elements: {
          point: { radius: 0, hoverRadius: 3, hitRadius: 4 },
          line: { borderWidth: 1.5, tension: 0 },
        },
        layout: { padding: { top: 4, right: 4 } },
        scales: {
          x: {
            type: "linear",
            bounds: xType === "time" ? "data" : "ticks",
            grid: { color: colors.border, drawTicks: false },
            border: { display: false },
            ticks: {
              color: colors.muted,
              font: { size: 11 },
              maxRotation: 0,
              autoSkipPadding: 16,
              padding: 6,
              sampleSize: TICK_SAMPLE,
              callback: (value) => this.formatX(value, true),
            },
          },
          y: {
            grid: { color: colors.border, drawTicks: false },
            border: { display: false },
            suggestedMin: yMin,
            suggestedMax: yMax,
            ticks: {
              color: colors.muted,
              font: { size: 11 },
              padding: 6,
              maxTicksLimit: 6,
              sampleSize: TICK_SAMPLE,
              callback: (value) => this.yFormat(value),
            },
          },
        },
        plugins: {
          legend: { display: false },
          decimation: { enabled: false },
          tooltip: {
            backgroundColor: colors.bg,
            titleColor: colors.text,
            bodyColor: colors.text,
            borderColor: colors.border,
            borderWidth: 1,
            padding: 8,
            cornerRadius: 6,
            boxWidth: 8,
            boxHeight: 8,
            usePointStyle: true,
            titleFont: { weight: "600", size: 12 },
            bodyFont: { size: 12 },
            callbacks: {
              title: (items) => (items.length ? this.formatX(items[0].parsed.x, false) : ""),
              label: (item) => this.tooltipLabel(item),
            },
          },
        },
      },
      plugins: [crosshair, dragZoom, stepMarker, commentMarks, stepTicks],
    });
    this.chart.$tb = { colors, group, owner: this, drag: null, hoverX: null };
    if (group) group.charts.add(this);
    for (const s of series) this.addSeries(s);
    installZoom(this);
    charts.add(this);
    canvas.$tbChart = this;
    sight.observe(canvas);
  }

  formatX(value, short) {
    if (this.xType === "time") {
      return (short ? TIME_SHORT : TIME_LONG).format(new Date(value));
    }
    return short ? fmtSteps(value) : `step ${fmtSteps(value)}`;
  }

  tooltipLabel(item) {
    const ds = item.dataset;
    const point = item.raw;
    if (ds.$role === "marker") return ` ${point.label}`;
    const value = this.yFormat(point.y);
    let text = ` ${ds.label}  ${value}`;
    if (ds.$role === "smooth") text = ` ${ds.label} (smoothed)  ${value}`;
    if (point.epoch !== undefined && point.epoch !== null && ds.$role !== "smooth") {
      text += `  · epoch ${Number(point.epoch).toFixed(2)}`;
    }
    return text;
  }

  addSeries({ id, label, color, smooth = false }) {
    if (this.series.has(id)) return;
    const colors = palette();
    const resolved = colors[color] || color;
    const datasets = this.chart.data.datasets;
    const raw = {
      label,
      data: [],
      borderColor: rgba(resolved, smooth ? 0.28 : 1),
      backgroundColor: rgba(resolved, 1),
      pointHoverBackgroundColor: rgba(resolved, 1),
      $role: "raw",
      $series: id,
      tooltip: true,
    };
    const markers = {
      label: `${label} non-finite`,
      type: "scatter",
      data: [],
      pointStyle: "crossRot",
      pointRadius: 5,
      pointHoverRadius: 6,
      borderWidth: 2,
      borderColor: rgba(colors.failed, 1),
      backgroundColor: rgba(colors.failed, 1),
      $role: "marker",
      $series: id,
    };
    let smoothDs = null;
    if (smooth) {
      smoothDs = {
        label,
        data: [],
        borderColor: rgba(resolved, 1),
        backgroundColor: rgba(resolved, 1),
        $role: "smooth",
        $series: id,
        tooltip: false,
      };
    }
    datasets.push(raw);
    if (smoothDs) datasets.push(smoothDs);
    datasets.push(markers);
    this.series.set(id, { id, label, color, resolved, smooth, raw, smoothDs, markers, ema: new Ema(this.smoothing) });
    this.raw.set(id, []);
  }

  hasSeries(id) {
    return this.series.has(id);
  }

  /** Replace a series with `points` ([step|time, value, epoch] rows; values may be "NaN"). */
  setPoints(id, points) {
    const s = this.series.get(id);
    if (!s) return;
    s.raw.data = [];
    s.markers.data = [];
    if (s.smoothDs) s.smoothDs.data = [];
    s.ema = new Ema(this.smoothing);
    this.push(s, points);
    this.loaded();
    this.requestUpdate({ offscreen: true }); // a full load draws even out of sight
  }

  /** Add points after the last one (a live push or a poll); an equal step replaces. */
  append(id, points) {
    const s = this.series.get(id);
    if (!s || !points.length) return;
    const last = s.raw.data.length ? s.raw.data[s.raw.data.length - 1].x : -Infinity;
    const sorted = points.every((p, i) => p[0] > (i ? points[i - 1][0] : last));
    if (!sorted) {
      // Out-of-order or repeated steps: merge, then rebuild this series once.
      const merged = new Map(this.rows(s).map((r) => [r[0], r]));
      for (const p of points) merged.set(p[0], p);
      this.setPoints(id, [...merged.values()].sort((a, b) => a[0] - b[0]));
      return;
    }
    this.push(s, points);
    this.loaded();
    this.requestUpdate();
  }

  rows(s) {
    const rows = s.raw.data.map((p) => [p.x, p.y === null ? p.bad : p.y, p.epoch]);
    return rows;
  }

  lastX(id) {
    const s = this.series.get(id);
    if (!s || !s.raw.data.length) return null;
    return s.raw.data[s.raw.data.length - 1].x;
  }

  push(s, points) {
    const raw = s.raw.data;
    for (const [x, rawValue, epoch] of points) {
      const value = toNumber(rawValue);
      if (Number.isFinite(value)) {
        raw.push({ x, y: value, epoch });
      } else {
        // A gap in the line, and a marker where the series was last finite.
        raw.push({ x, y: null, epoch, bad: rawValue });
        let anchor = null;
        for (let i = raw.length - 2; i >= 0 && anchor === null; i -= 1) anchor = raw[i].y;
        const label = `${Number.isNaN(value) ? "NaN" : value > 0 ? "+inf" : "-inf"} at step ${fmtSteps(x)}`;
        s.markers.data.push({ x, y: anchor ?? 0, label });
      }
      if (s.smoothDs) {
        s.smoothDs.data.push({ x, y: s.ema.next(value) });
      }
    }
  }

  setSmoothing(alpha) {
    this.smoothing = alpha;
    for (const s of this.series.values()) {
      if (!s.smoothDs) continue;
      s.ema = new Ema(alpha);
      s.smoothDs.data = s.raw.data.map((p) => ({ x: p.x, y: s.ema.next(p.y === null ? NaN : p.y) }));
    }
    this.requestUpdate();
  }

  /** Mark a step (the failure point) with a vertical line. */
  markStep(step, color = "failed") {
    this.chart.$tb.markStep = { step, color };
    this.requestUpdate();
  }

  /** Mark the x axis at `steps` (steps with comments). */
  markComments(steps) {
    this.chart.$tb.commentSteps = steps;
    this.chart.canvas.dataset.commentSteps = steps.join(",");
    this.requestDraw();
  }

  /** Mark `steps` (checkpoints) on the x axis, `best` among them filled. */
  markSteps(steps, best = null) {
    this.chart.$tb.stepTicks = { steps: [...steps], best };
    this.requestUpdate();
  }

  loaded() {
    const box = this.canvas.parentElement;
    if (box) box.classList.remove("is-loading");
  }

  setRange(min, max) {
    this.range = [min, max];
    this.chart.options.scales.x.min = min;
    this.chart.options.scales.x.max = max;
    this.onZoom?.(true);
    this.requestUpdate();
  }

  resetZoom() {
    this.range = null;
    delete this.chart.options.scales.x.min;
    delete this.chart.options.scales.x.max;
    this.onZoom?.(false);
    this.requestUpdate();
  }

  /** Redraw at most once per animation frame, without animation; out of sight only
   * when `offscreen`, else once the chart scrolls into view. */
  requestUpdate({ offscreen = false } = {}) {
    this.drawOnly = false;
    if (!this.visible && !offscreen) {
      this.stale = true;
      this.describe();
      return;
    }
    this.stale = false;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.drawOnly) this.chart.draw();
      else {
        this.chart.update("none");
        this.describe();
      }
    });
  }

  /** Point count and last x on the canvas, for people reading the DOM (and tests). */
  describe() {
    let count = 0;
    let lastX = null;
    for (const s of this.series.values()) {
      count += s.raw.data.length;
      const last = s.raw.data[s.raw.data.length - 1];
      if (last && (lastX === null || last.x > lastX)) lastX = last.x;
    }
    this.canvas.dataset.points = String(count);
    if (lastX !== null) this.canvas.dataset.lastX = String(lastX);
  }

  requestDraw() {
    if (this.frame) return;
    this.drawOnly = true;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.drawOnly) this.chart.draw();
      else this.chart.update("none");
    });
  }

  applyTheme() {
    const colors = palette();
    this.chart.$tb.colors = colors;
    const o = this.chart.options;
    for (const axis of [o.scales.x, o.scales.y]) {
      axis.grid.color = colors.border;
      axis.ticks.color = colors.muted;
    }
    Object.assign(o.plugins.tooltip, {
      backgroundColor: colors.bg,
      titleColor: colors.text,
      bodyColor: colors.text,
      borderColor: colors.border,
    });
    for (const s of this.series.values()) {
      const resolved = colors[s.color] || s.color;
      s.raw.borderColor = rgba(resolved, s.smooth ? 0.28 : 1);
      s.raw.backgroundColor = rgba(resolved, 1);
      s.raw.pointHoverBackgroundColor = rgba(resolved, 1);
      if (s.smoothDs) {
        s.smoothDs.borderColor = rgba(resolved, 1);
        s.smoothDs.backgroundColor = rgba(resolved, 1);
      }
      s.markers.borderColor = rgba(colors.failed, 1);
      s.markers.backgroundColor = rgba(colors.failed, 1);
    }
    this.requestUpdate();
  }
}

/** A crosshair group: charts in it share the hover position. */
export function chartGroup() {
  return { x: null, charts: new Set() };
}

onThemeChange(() => {
  for (const chart of charts) chart.applyTheme();
});

// Printing lays the charts out narrower (and light): redraw each one now, at its printed
// size, since a frame-throttled redraw would come after the page was printed.
function redrawNow() {
  for (const chart of charts) {
    chart.chart.resize();
    chart.chart.update("none");
  }
}
window.addEventListener("beforeprint", redrawNow);
window.addEventListener("afterprint", redrawNow);
