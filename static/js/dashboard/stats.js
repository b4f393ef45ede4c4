// The statistics strip: total, per-status counts, success rate, GPU hours.

import { STATISTICS_URL, getJSON } from "../lib/api.js";
import { setText } from "../lib/format.js";

/** The counts above the list. */
export async function load() {
  const project = document.getElementById("cards")?.dataset.project || "";
  const query = project ? `?project=${encodeURIComponent(project)}` : "";
  const stats = await getJSON(STATISTICS_URL + query);
  const set = (key, text) => setText(document.querySelector(`[data-stat="${key}"]`), text);
  set("total", String(stats.total));
  for (const status of ["running", "queued", "completed", "failed"]) set(status, String(stats.counts?.[status] ?? 0));
  set("success_rate", stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 100)}%`);
  set("gpu_hours", String(Math.round(stats.gpu_hours)));
}

let statsTimer = 0;
export function soon() {
  // Many jobs may change at once; one statistics read covers them all.
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => load().catch(() => {}), 800);
}
