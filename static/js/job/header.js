// The job header: status badge, progress, step, epoch, rate and ETA, the elapsed clock,
// and the notice when the job's status changes under the reader.

import { getJSON, jobUrl } from "../lib/api.js";
import { duration, setText, steps } from "../lib/format.js";
import { boot, uid } from "./boot.js";
import * as stages from "./stages.js";
import * as stop from "./stop.js";

let card = boot.card;
// Whether the reader paused live updates (page.js says, once its feed exists).
let paused = () => false;

export function watchPause(fn) {
  paused = fn;
}

/** Whether updates are due: the job is running or waiting to. */
export function isActive() {
  return card.status === "running" || card.status === "queued";
}

const rateSamples = [];

function stepRate(next) {
  // Steps per second over the last minute of status pushes; the server's figure until then.
  const now = Date.now();
  rateSamples.push([now, next.current_step]);
  while (rateSamples.length > 2 && now - rateSamples[0][0] > 60000) rateSamples.shift();
  const [t0, s0] = rateSamples[0];
  if (rateSamples.length >= 2 && now - t0 > 5000 && next.current_step > s0) {
    return (next.current_step - s0) / ((now - t0) / 1000);
  }
  return card.rate ?? null;
}

const statusNotice = document.getElementById("status-notice");
document.getElementById("status-notice-reload").addEventListener("click", () => location.reload());

function applyCard(next, { rate = undefined, eta = undefined } = {}) {
  const badge = document.getElementById("job-status");
  if (badge.textContent.trim().toLowerCase() !== next.status) {
    badge.textContent = next.status.charAt(0).toUpperCase() + next.status.slice(1);
    badge.className = `badge badge--${next.status} flash`;
  }
  const bar = document.getElementById("job-bar");
  if (bar) {
    bar.style.width = `${next.progress}%`;
    bar.style.setProperty("--c", `var(--${next.status})`);
    document.getElementById("job-progressbar").setAttribute("aria-valuenow", Math.round(next.progress));
    setText(document.getElementById("job-progress"), `${Number(next.progress).toFixed(1)}%`);
    setText(document.getElementById("job-step"), steps(next.current_step));
    setText(document.getElementById("job-epoch"), Number(next.epoch).toFixed(2));
  }
  const epochCard = document.getElementById("metric-epoch");
  if (epochCard && epochCard.firstChild) {
    epochCard.firstChild.textContent = Number(next.epoch).toFixed(2);
  }
  if (next.status === "running") {
    const r = rate !== undefined ? rate : stepRate(next);
    const remaining = next.total_steps ? next.total_steps - next.current_step : null;
    const e = eta !== undefined ? eta : r && remaining !== null ? remaining / r : null;
    setText(document.getElementById("job-rate"), r ? r.toFixed(2) : "—");
    setText(document.getElementById("job-eta"), duration(e));
    next.rate = r;
  }
  stop.render(next);
  if (next.status !== boot.status) {
    if (boot.status === "queued" && !paused()) {
      // The queued layout has no charts to fill: show the running one.
      location.reload();
      return;
    }
    setText(document.getElementById("status-notice-text"), `This job is now ${next.status}. Reload for its final summary.`);
    statusNotice.hidden = false;
  }
  card = { ...card, ...next };
}

/** The job's detail, re-read; resolves to `{changed}`: 1 when it changed, else 0, and
 * `metricKeys`: the keys the job has logged, `latestMetrics`: their latest points. */
export async function poll() {
  const detail = await getJSON(jobUrl(uid));
  const changed =
    detail.status !== card.status ||
    detail.current_step !== card.current_step ||
    detail.progress !== card.progress;
  for (const stage of detail.stages || []) stages.render(stage);
  applyCard(detail, { rate: detail.step_rate ?? undefined, eta: detail.eta_seconds ?? undefined });
  return {
    changed: changed ? 1 : 0,
    metricKeys: detail.metric_keys || [],
    latestMetrics: detail.latest_metrics || {},
  };
}

/** Once a second: the elapsed clock. */
export function tick() {
  const elapsed = document.getElementById("job-elapsed");
  if (elapsed && card.started_at) {
    const end = card.finished_at ? new Date(card.finished_at) : new Date();
    setText(elapsed, duration((end - new Date(card.started_at)) / 1000));
  }
}

/** A `status` push. */
export function apply(msg) {
  applyCard(msg.job);
}
