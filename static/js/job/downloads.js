// Each chart's download button: the chart as a PNG named after the job and the chart.

import { downloadChartPng, safeFilename } from "../charts/png.js";
import { boot } from "./boot.js";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-png]");
  if (!button) return;
  const panel = button.closest(".panel");
  const canvas = panel?.querySelector("canvas");
  const chart = canvas && window.Chart.getChart(canvas);
  if (!chart) return;
  const title = panel.querySelector("h2, h3")?.textContent.trim() || "chart";
  downloadChartPng(chart, {
    title: `${boot.uid} · ${title}`,
    filename: `${safeFilename(boot.uid, title)}.png`,
  });
});
