// The final-metrics table as a CSV download.

import { safeFilename } from "../charts/png.js";
import { boot } from "./boot.js";

/** One CSV field (RFC 4180 quoting); text that a spreadsheet would run as a formula is
 * prefixed with an apostrophe, numbers are left as they are. */
export function csvField(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text) && !Number.isFinite(Number(text))) text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function tableCsv(table) {
  const lines = [];
  const header = [...table.tHead.rows[0].cells].map((cell) => cell.textContent.trim());
  lines.push(header.map(csvField).join(","));
  for (const row of table.tBodies[0].rows) {
    const cells = [...row.cells].map((cell) => (cell.dataset.csv ?? cell.textContent.trim()));
    lines.push(cells.map(csvField).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

document.getElementById("download-csv")?.addEventListener("click", () => {
  const table = document.getElementById("final-table");
  const blob = new Blob([tableCsv(table)], { type: "text/csv;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${safeFilename("compare", ...boot.jobs.map((job) => job.uid)).slice(0, 100)}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
});
