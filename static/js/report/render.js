// The charts of a downloaded report (templates/reports/): a classic script inlined into
// the file after the vendored Chart.js, so the report opens offline and asks no server
// for anything. It draws every canvas that names its chart (data-chart) from the JSON
// in #report-data:
// hover shows each series' nearest point, drag zooms the x axis, double-click resets,
// printing redraws the charts at the page's width.
(function () {
  "use strict";

  const Chart = window.Chart;
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const COLORS = ["#5b5bd6", "#f76b15", "#0f9488", "#d6409f", "#b7791f", "#2f80ed", "#5a9e1a", "#8d5b3f"];
  const MUTED = "#6b6b73";
  const GRID = "#e6e6e8";
  const FAILED = "#dc2626";
  const STEPS = new Intl.NumberFormat("en-US");
  const CLOCK = new Intl.DateTimeFormat("en-GB", { hour12: false, hour: "2-digit", minute: "2-digit" });
  const CLOCK_LONG = new Intl.DateTimeFormat("en-GB", { hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function metric(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "—";
    if (v === 0) return "0";
    const m = Math.abs(v);
    if (m >= 1e5 || m < 1e-3) return v.toExponential(2);
    if (m >= 1) return String(Number(v.toPrecision(4)));
    return v.toFixed(4).replace(/\.?0+$/, "");
  }

  function compactStep(v) {
    for (const [limit, suffix] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
      if (Math.abs(v) >= limit) return `${Number((v / limit).toFixed(1))}${suffix}`;
    }
    return String(Math.round(v));
  }

  function xLabel(spec, x, long) {
    if (spec.x !== "time") return long ? `step ${STEPS.format(x)}` : compactStep(x);
    const when = new Date(data.timeOrigin + x * 1000);
    return (long ? CLOCK_LONG : CLOCK).format(when);
  }

  // NaN/inf points: gaps in the line, with a small red mark under the x axis.
  const gapMarks = {
    id: "tbGaps",
    afterDatasetsDraw(chart) {
      const area = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = FAILED;
      for (const dataset of chart.data.datasets) {
        for (const x of dataset.$gaps || []) {
          const px = chart.scales.x.getPixelForValue(x);
          if (px < area.left || px > area.right) continue;
          ctx.beginPath();
          ctx.moveTo(px, area.bottom - 7);
          ctx.lineTo(px - 4, area.bottom);
          ctx.lineTo(px + 4, area.bottom);
          ctx.fill();
        }
      }
      ctx.restore();
    },
  };

  // Drag to zoom the x axis (the selection is shaded while dragging); double-click resets.
  const dragZoom = {
    id: "tbZoom",
    afterDraw(chart) {
      const drag = chart.$drag;
      if (!drag || drag.to === null) return;
      const area = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(91, 91, 214, 0.12)";
      ctx.fillRect(Math.min(drag.from, drag.to), area.top, Math.abs(drag.to - drag.from), area.bottom - area.top);
      ctx.restore();
    },
  };

  function attachZoom(chart, canvas) {
    const offset = (event) => event.clientX - canvas.getBoundingClientRect().left;
    canvas.addEventListener("mousedown", (event) => {
      chart.$drag = { from: offset(event), to: null };
    });
    canvas.addEventListener("mousemove", (event) => {
      if (!chart.$drag) return;
      chart.$drag.to = offset(event);
      chart.draw();
    });
    const finish = (event) => {
      const drag = chart.$drag;
      chart.$drag = null;
      if (!drag) return;
      const to = event.type === "mouseup" ? offset(event) : drag.to;
      if (to === null || Math.abs(to - drag.from) < 6) return chart.draw();
      const scale = chart.scales.x;
      chart.options.scales.x.min = scale.getValueForPixel(Math.min(drag.from, to));
      chart.options.scales.x.max = scale.getValueForPixel(Math.max(drag.from, to));
      chart.update("none");
    };
    canvas.addEventListener("mouseup", finish);
    canvas.addEventListener("mouseleave", finish);
    canvas.addEventListener("dblclick", () => {
      delete chart.options.scales.x.min;
      delete chart.options.scales.x.max;
      chart.update("none");
    });
  }

  function draw(canvas, spec) {
    const datasets = spec.series.map((line) => {
      const color = COLORS[line.color % COLORS.length];
      return {
        label: line.label,
        data: line.x.map((x, i) => ({ x, y: line.y[i] })),
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.5,
        pointRadius: 0,
        pointHoverRadius: 3,
        spanGaps: false,
        $gaps: line.gaps || [],
      };
    });
    const chart = new Chart(canvas, {
      type: "line",
      data: { datasets },
      plugins: [gapMarks, dragZoom],
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            bounds: "data",
            grid: { color: GRID },
            ticks: { color: MUTED, maxTicksLimit: 6, maxRotation: 0, callback: (v) => xLabel(spec, v, false) },
          },
          y: {
            grid: { color: GRID },
            ticks: { color: MUTED, maxTicksLimit: 5, callback: (v) => metric(v) },
          },
        },
        plugins: {
          legend: { display: spec.series.length > 1, labels: { color: MUTED, boxWidth: 10, boxHeight: 2 } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? xLabel(spec, items[0].parsed.x, true) : ""),
              label: (item) => `${item.dataset.label}: ${metric(item.parsed.y)}${spec.unit ? ` ${spec.unit}` : ""}`,
            },
          },
        },
      },
    });
    attachZoom(chart, canvas);
    canvas.dataset.drawn = String(datasets.reduce((n, d) => n + d.data.length, 0));
    return chart;
  }

  const specs = new Map(data.charts.map((spec) => [spec.id, spec]));
  let drawn = 0;
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const spec = specs.get(canvas.dataset.chart);
    if (!spec) continue;
    draw(canvas, spec);
    drawn += 1;
  }
  document.documentElement.dataset.chartsDrawn = String(drawn);

  // Printing lays the page out narrower: redraw every chart at its printed size.
  const resizeAll = () => {
    for (const chart of Object.values(Chart.instances)) chart.resize();
  };
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
})();
