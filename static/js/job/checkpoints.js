// Checkpoints: a timeline of markers at their steps and a list (path, size, metrics,
// when saved), the best by a chosen metric marked (default val/loss; lower is better
// for losses and error rates, higher for the rest). Starts from what the server
// rendered (#ckpt-boot) and follows `checkpoint` pushes.

import { getJSON, jobUrl } from "../lib/api.js";
import { ago, absolute, metric, setText, steps, toNumber } from "../lib/format.js";
import { uid } from "./boot.js";

const panel = document.getElementById("checkpoints-panel");
const timeline = document.getElementById("ckpt-timeline");
const rowsBody = document.getElementById("ckpt-rows");
const metricSelect = document.getElementById("ckpt-metric");
const bootEl = document.getElementById("ckpt-boot");
const checkpoints = new Map(); // step -> checkpoint
const LOWER_IS_BETTER = /loss|perplexity|ppl|error|wer|cer|mse|mae|rmse/i;
let chosenMetric = null; // what the reader picked; null: the default
let onChange = () => {};

/** Call `listener(steps, bestStep)` now and whenever the checkpoints or the best change. */
export function watch(listener) {
  onChange = listener;
  if (panel) render();
}

for (const c of bootEl ? JSON.parse(bootEl.textContent) : []) checkpoints.set(c.step, c);

function bytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit += 1;
  }
  return `${unit ? v.toFixed(v >= 100 ? 0 : 1) : v} ${units[unit]}`;
}

function sorted() {
  return [...checkpoints.values()].sort((a, b) => a.step - b.step);
}

function metricKeys() {
  const keys = new Set();
  for (const c of checkpoints.values()) for (const key of Object.keys(c.metrics || {})) keys.add(key);
  return [...keys].sort();
}

function currentMetric(keys) {
  if (chosenMetric && keys.includes(chosenMetric)) return chosenMetric;
  if (keys.includes("val/loss")) return "val/loss";
  return keys.find((k) => k.startsWith("val/")) || keys[0] || null;
}

/** The checkpoint with the best value of `key`, or null when none has it. */
export function bestCheckpoint(list, key) {
  if (!key) return null;
  const lower = LOWER_IS_BETTER.test(key);
  let best = null;
  for (const c of list) {
    const value = toNumber(c.metrics?.[key]);
    if (!Number.isFinite(value)) continue;
    if (!best || (lower ? value < best.value : value > best.value)) best = { checkpoint: c, value };
  }
  return best ? best.checkpoint : null;
}

function renderSelect(keys, key) {
  const wanted = keys.length ? keys : ["val/loss"];
  const current = [...metricSelect.options].map((o) => o.value);
  if (current.join("\n") !== wanted.join("\n")) {
    metricSelect.replaceChildren(...wanted.map((k) => new Option(k, k)));
  }
  metricSelect.value = key || wanted[0];
}

function render() {
  const list = sorted();
  panel.hidden = list.length === 0;
  setText(document.getElementById("ckpt-count"), String(list.length));
  const keys = metricKeys();
  const key = currentMetric(keys);
  renderSelect(keys, key);
  const best = bestCheckpoint(list, key);
  onChange(
    list.map((c) => c.step),
    best ? best.step : null,
  );
  const total = Number(timeline.dataset.totalSteps) || 0;
  const span = Math.max(total, list.length ? list[list.length - 1].step : 0, 1);
  timeline.replaceChildren(
    ...list.map((c) => {
      const marker = document.createElement("button");
      marker.type = "button";
      marker.className = "ckpt-marker";
      marker.setAttribute("role", "listitem");
      marker.dataset.step = c.step;
      marker.style.left = `${(100 * c.step) / span}%`;
      const value = key ? c.metrics?.[key] : undefined;
      marker.title = `step ${steps(c.step)} · ${c.path}${value !== undefined ? ` · ${key} ${metric(value)}` : ""}`;
      marker.setAttribute("aria-label", marker.title + (c === best ? " · best" : ""));
      if (c === best) marker.classList.add("is-best");
      marker.addEventListener("click", () => highlight(c.step));
      return marker;
    }),
  );
  rowsBody.replaceChildren(
    ...list.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.step = c.step;
      if (c === best) tr.classList.add("is-best");
      const cell = (text, className = "") => {
        const td = document.createElement("td");
        td.textContent = text;
        if (className) td.className = className;
        return td;
      };
      const stepCell = cell(steps(c.step), "num");
      if (c === best) {
        const badge = document.createElement("span");
        badge.className = "ckpt-best-badge";
        badge.textContent = "best";
        badge.title = `Best ${key}`;
        stepCell.append(" ", badge);
      }
      const metricsText = Object.entries(c.metrics || {})
        .map(([k, v]) => `${k} ${metric(v)}`)
        .join(" · ");
      const saved = cell(ago(c.time));
      saved.title = absolute(c.time);
      tr.append(stepCell, cell(c.path, "mono ckpt-path"), cell(bytes(c.size), "num"), cell(metricsText || "—", "mono small"), saved);
      return tr;
    }),
  );
}

function highlight(step) {
  for (const tr of rowsBody.querySelectorAll("tr")) tr.classList.toggle("is-current", Number(tr.dataset.step) === step);
  rowsBody.querySelector(`tr[data-step="${step}"]`)?.scrollIntoView({ block: "nearest" });
}

metricSelect?.addEventListener("change", () => {
  chosenMetric = metricSelect.value;
  render();
});

if (panel) render();

/** A `checkpoint` push. */
export function apply(msg) {
  if (!panel) return;
  checkpoints.set(msg.checkpoint.step, msg.checkpoint);
  render();
}

/** Read the list again (polling, or after the socket was down); returns how many changed. */
export async function poll() {
  if (!panel) return 0;
  const list = await getJSON(`${jobUrl(uid)}/checkpoints`);
  let changed = 0;
  for (const c of list) {
    if (JSON.stringify(checkpoints.get(c.step)) !== JSON.stringify(c)) changed += 1;
    checkpoints.set(c.step, c);
  }
  if (changed) render();
  return changed;
}
