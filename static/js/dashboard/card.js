// One job card: its DOM brought in line with a job card payload (jobs/payloads.py
// job_card), cloned from the page's <template id="card-template">.

import { duration, metric, setText, steps, toNumber } from "../lib/format.js";
import { syncSelectBox } from "./select.js";

const template = document.getElementById("card-template");

export function sparkPoints(pairs, width = 120, height = 28) {
  const finite = (pairs || []).map(([s, v]) => [s, toNumber(v)]).filter(([, v]) => Number.isFinite(v));
  if (finite.length < 2) return "";
  const xs = finite.map((p) => p[0]);
  const ys = finite.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const sx = x1 - x0 || 1;
  const sy = y1 - y0 || 1;
  return finite
    .map(([s, v]) => `${(((s - x0) / sx) * width).toFixed(1)},${(height - 2 - ((v - y0) / sy) * (height - 4)).toFixed(1)}`)
    .join(" ");
}

function cardRate(card) {
  if (card.status !== "running" || !card.current_step || !card.duration) return null;
  return card.current_step / card.duration;
}

export function field(el, name) {
  return el.querySelector(`[data-f="${name}"]`);
}

/** Bring one card's DOM in line with a job card payload; only changed text is touched. */
export function updateCard(el, card) {
  const previous = el.dataset.status;
  const name = field(el, "name");
  name.href = card.url || `/job/${card.uid}`;
  el.dataset.uid = card.uid;
  el.dataset.status = card.status;
  name.setAttribute("aria-label", `${card.name}, ${card.status}`);
  setText(name, card.name);
  name.title = card.uid;
  syncSelectBox(field(el, "select"), card);
  const badge = field(el, "status");
  setText(badge, card.status.charAt(0).toUpperCase() + card.status.slice(1));
  badge.className = `badge badge--${card.status}`;
  if (previous && previous !== card.status) {
    badge.classList.remove("flash");
    void badge.offsetWidth;
    badge.classList.add("flash");
  }
  const meta = [card.model, card.dataset].filter(Boolean).join(" · ");
  setText(field(el, "meta"), meta);
  field(el, "meta").title = meta;
  const bar = field(el, "bar");
  bar.style.width = `${card.progress}%`;
  bar.style.setProperty("--c", `var(--${card.status})`);
  field(el, "progressbar").setAttribute("aria-valuenow", Math.round(card.progress));
  setText(field(el, "progress"), `${Math.round(card.progress)}%`);
  const rate = cardRate(card);
  const eta = rate && card.total_steps ? (card.total_steps - card.current_step) / rate : null;
  setText(field(el, "eta"), eta ? `ETA ${duration(eta)}` : "");
  const error = field(el, "error");
  const lossRow = field(el, "lossrow");
  if (card.error) {
    const at = card.error.step !== null && card.error.step !== undefined ? ` at step ${steps(card.error.step)}` : "";
    setText(error, `${card.error.type || "Error"}${at}: ${card.error.message}`);
    error.title = card.error.message;
  }
  error.hidden = !card.error;
  if ("alerts" in card) applyAlerts(el, card.alerts, Boolean(card.error));
  lossRow.hidden = Boolean(card.error);
  const queued = card.status === "queued";
  setText(field(el, "losslabel"), queued ? "waiting to start" : "loss");
  if (queued) setText(field(el, "loss"), "");
  else if ("latest_loss" in card) setText(field(el, "loss"), metric(card.latest_loss));
  if ("loss_sparkline" in card) field(el, "spark").setAttribute("points", sparkPoints(card.loss_sparkline));
  const tags = field(el, "tags");
  const tagText = (card.tags || []).map((t) => `#${t}`).join(" ");
  if (tags.dataset.text !== tagText) {
    tags.dataset.text = tagText;
    tags.replaceChildren(
      ...(card.tags || []).map((t) => {
        const span = document.createElement("span");
        span.className = "tag";
        span.textContent = `#${t}`;
        return span;
      }),
    );
  }
  let time = "";
  if (card.status === "queued") time = card.queue_position ? `#${card.queue_position} in queue` : "queued";
  else if (card.duration !== null && card.duration !== undefined) time = duration(card.duration);
  setText(field(el, "time"), time);
  el.$card = card;
}

export function applyAlerts(el, alerts, failed) {
  const line = field(el, "alert");
  const list = alerts || [];
  const more = list.length > 1 ? ` +${list.length - 1}` : "";
  setText(line, list.length ? `⚠ ${list[0].title}${more}` : "");
  line.hidden = failed || !list.length;
}

export function newCard(card) {
  const el = template.content.firstElementChild.cloneNode(true);
  updateCard(el, card);
  return el;
}
