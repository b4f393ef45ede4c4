// The rows: keyboard navigation (↑/↓ or j/k move, Enter opens, x or Space selects),
// the selection for /compare (its first 8 jobs; shared with the dashboard through
// sessionStorage) and for the bulk actions (bulk.js), and
// live updates of the visible rows' status, step, progress and duration cells.

import { compareUrl } from "../lib/api.js";
import { duration, percent, setText, steps } from "../lib/format.js";

const STORE_KEY = "tb-compare"; // the dashboard's selection key: one selection
const MAX_COMPARE = 8;
const body = document.getElementById("runs-body");
const compareLink = document.getElementById("compare-open");
const selectPage = document.getElementById("select-page");

function loadSelection() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((uid) => typeof uid === "string") : [];
  } catch {
    return [];
  }
}

const selected = new Set(loadSelection());
const listeners = [];

/** Call `fn(uids)` whenever the selection changes (and once now). */
export function onSelection(fn) {
  listeners.push(fn);
  fn([...selected]);
}

/** The selected uids. */
export function selection() {
  return [...selected];
}

/** Empty the selection. */
export function clearSelection() {
  selected.clear();
  saveSelection();
  renderSelection();
}

function saveSelection() {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify([...selected]));
  } catch {
    /* private mode */
  }
}

function rows() {
  return [...body.querySelectorAll("tr[data-uid]")];
}

function renderSelection() {
  const n = Math.min(selected.size, MAX_COMPARE);
  compareLink.hidden = n < 2;
  compareLink.textContent = `Compare (${n})`;
  compareLink.href = compareUrl([...selected].slice(0, MAX_COMPARE));
  const boxes = body.querySelectorAll("input[data-select]");
  for (const box of boxes) {
    box.checked = selected.has(box.value);
    box.closest("tr").setAttribute("aria-selected", box.checked ? "true" : "false");
  }
  for (const fn of listeners) fn([...selected]);
  if (selectPage) {
    const all = [...boxes];
    selectPage.checked = all.length > 0 && all.every((b) => b.checked);
  }
}

function toggle(uid, on = !selected.has(uid)) {
  if (on) selected.add(uid);
  else selected.delete(uid);
  saveSelection();
  renderSelection();
}

function focusRow(row) {
  for (const other of rows()) other.tabIndex = other === row ? 0 : -1;
  row.focus();
}

function onKey(event) {
  const row = event.target.closest("tr[data-uid]");
  if (!row || event.target !== row) return;
  const all = rows();
  const index = all.indexOf(row);
  const key = event.key;
  if (key === "ArrowDown" || key === "j") {
    event.preventDefault();
    if (index + 1 < all.length) focusRow(all[index + 1]);
  } else if (key === "ArrowUp" || key === "k") {
    event.preventDefault();
    if (index > 0) focusRow(all[index - 1]);
  } else if (key === "Home") {
    event.preventDefault();
    focusRow(all[0]);
  } else if (key === "End") {
    event.preventDefault();
    focusRow(all[all.length - 1]);
  } else if (key === "Enter") {
    event.preventDefault();
    row.querySelector("a").click();
  } else if (key === " " || key === "x") {
    event.preventDefault();
    toggle(row.dataset.uid);
  }
}

export function setup() {
  body.addEventListener("keydown", onKey);
  body.addEventListener("change", (event) => {
    const box = event.target;
    if (box.matches?.("input[data-select]")) toggle(box.value, box.checked);
  });
  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-uid]");
    if (row && !event.target.closest("a, input")) focusRow(row);
  });
  selectPage?.addEventListener("change", () => {
    for (const row of rows()) toggle(row.dataset.uid, selectPage.checked);
  });
  renderSelection();
}

/** Whether a visible job is running (an open socket that stays silent is then checked). */
export function hasRunning() {
  return body.querySelector('tr[data-status="running"]') !== null;
}

/** The uids of the visible rows. */
export function visibleUids() {
  return rows().map((row) => row.dataset.uid);
}

/** A job card pushed on /ws/dashboard/ (or read by a poll): update its row if shown.
 * Returns whether the row changed. */
export function applyJob(card) {
  const row = body.querySelector(`tr[data-uid="${CSS.escape(card.uid)}"]`);
  if (!row) return false;
  let changed = false;
  if (row.dataset.status !== card.status) {
    row.dataset.status = card.status;
    const dot = row.querySelector('[data-cell="dot"]');
    if (dot) dot.className = `status-dot status-dot--${card.status}`;
    const badge = row.querySelector('[data-cell="status"]');
    if (badge) {
      badge.className = `badge badge--${card.status}`;
      badge.textContent = card.status.charAt(0).toUpperCase() + card.status.slice(1);
    }
    changed = true;
  }
  const cells = {
    step: steps(card.current_step),
    progress: percent(card.progress),
    duration: duration(card.duration),
  };
  for (const [name, text] of Object.entries(cells)) {
    const el = row.querySelector(`[data-cell="${name}"]`);
    if (el && el.textContent !== text) {
      setText(el, text);
      changed = true;
    }
  }
  return changed;
}

/** A job went to the trash (`job_deleted`): its row leaves the table. */
export function removeJob(uid) {
  body.querySelector(`tr[data-uid="${CSS.escape(uid)}"]`)?.remove();
}
