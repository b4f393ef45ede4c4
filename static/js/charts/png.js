// Charts as PNG files: the picture of a chart over the page background, with a title
// and legend, and file names safe to save.

import { palette } from "./line.js";

/**
 * Download a Chart.js chart as a PNG (`chart.toBase64Image()`), drawn over the page
 * background so a dark-theme picture is readable anywhere, with `title` above the plot.
 */
export async function downloadChartPng(chart, { title = "", filename = "chart.png", legend = [] } = {}) {
  const colors = palette();
  const source = chart.canvas;
  const ratio = chart.currentDevicePixelRatio || window.devicePixelRatio || 1;
  const head = title ? Math.round(28 * ratio) : 0;
  const out = document.createElement("canvas");
  out.width = source.width;
  out.height = source.height + head;
  const ctx = out.getContext("2d");
  ctx.fillStyle = colors.bg || "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  if (title) {
    ctx.fillStyle = colors.text || "#111113";
    ctx.font = `600 ${Math.round(13 * ratio)}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
    ctx.textBaseline = "middle";
    ctx.fillText(title, Math.round(8 * ratio), head / 2);
    // Series names after the title: a swatch and a muted label each, as on the page.
    let x = Math.round(8 * ratio) + ctx.measureText(title).width + Math.round(20 * ratio);
    ctx.font = `${Math.round(12 * ratio)}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
    for (const [index, { label, color }] of legend.entries()) {
      if (x + Math.round(17 * ratio) + ctx.measureText(label).width > out.width) {
        ctx.fillStyle = colors.muted || "#6b6b73";
        ctx.fillText(`+${legend.length - index} more`, x, head / 2);
        break;
      }
      ctx.fillStyle = color;
      ctx.fillRect(x, head / 2 - ratio, Math.round(12 * ratio), Math.round(3 * ratio));
      x += Math.round(17 * ratio);
      ctx.fillStyle = colors.muted || "#6b6b73";
      ctx.fillText(label, x, head / 2);
      x += ctx.measureText(label).width + Math.round(14 * ratio);
    }
  }
  const image = new Image();
  image.src = chart.toBase64Image("image/png", 1);
  await image.decode();
  ctx.drawImage(image, 0, head);
  const link = document.createElement("a");
  link.download = filename;
  link.href = out.toDataURL("image/png");
  document.body.append(link);
  link.click();
  link.remove();
}

/** A file name made of `parts`: letters, digits, dots, dashes and underscores only. */
export function safeFilename(...parts) {
  return parts
    .filter(Boolean)
    .join("-")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[_.-]+|[_.-]+$/g, "")
    .slice(0, 120);
}
