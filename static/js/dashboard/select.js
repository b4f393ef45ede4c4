// Dashboard selection for /compare: the checkbox in each card's corner, and a floating
// "Compare (n)" bar once two jobs are ticked. The selection lives in sessionStorage, so
// it survives live card updates, filter changes, "show more" and reloads; cards painted
// later are ticked by `syncSelectBox` when card.js fills them.

import { compareUrl } from "../lib/api.js";

const STORE_KEY = "tb-compare";
export const MAX_COMPARE = 8;

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((uid) => typeof uid === "string") : [];
  } catch {
    return [];
  }
}

const selected = new Map(load().map((uid) => [uid, uid])); // uid -> name (for the bar)

function save() {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify([...selected.keys()]));
  } catch {
    /* private mode: the selection lasts for this page */
  }
}

// `/?compare=<uid>` (the job page's "Compare with…") starts a selection with that job.
const params = new URLSearchParams(location.search);
const preset = params.get("compare");
if (preset) {
  if (!selected.has(preset) && selected.size < MAX_COMPARE) selected.set(preset, preset);
  params.delete("compare");
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  save();
}

const bar = document.createElement("div");
bar.className = "compare-bar";
bar.id = "compare-bar";
bar.setAttribute("role", "region");
bar.setAttribute("aria-label", "Compare selected jobs");
bar.hidden = true;
bar.innerHTML =
  '<span class="num" id="compare-count" aria-live="polite"></span>' +
  '<button class="btn btn--ghost" type="button" id="compare-clear">Clear</button>' +
  '<a class="btn btn--primary" id="compare-open" hidden></a>';
document.body.append(bar);
const countEl = bar.querySelector("#compare-count");
const openEl = bar.querySelector("#compare-open");

function render() {
  const n = selected.size;
  bar.hidden = n === 0;
  if (n === 1) countEl.textContent = "1 selected · pick another to compare";
  else if (n >= MAX_COMPARE) countEl.textContent = `${n} selected (the most)`;
  else countEl.textContent = `${n} selected`;
  openEl.hidden = n < 2;
  openEl.textContent = `Compare (${n})`;
  openEl.href = compareUrl([...selected.keys()]);
  for (const box of document.querySelectorAll('.job-card [data-f="select"]')) {
    box.disabled = !box.checked && n >= MAX_COMPARE;
  }
}

/** Tick a card's checkbox to match the selection (card.js calls this per card). */
export function syncSelectBox(box, card) {
  if (!box) return;
  box.value = card.uid;
  box.setAttribute("aria-label", `Select ${card.name} to compare`);
  box.checked = selected.has(card.uid);
  if (box.checked) selected.set(card.uid, card.name);
  box.disabled = !box.checked && selected.size >= MAX_COMPARE;
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.dataset.f !== "select") return;
  if (box.checked && selected.size >= MAX_COMPARE) {
    box.checked = false;
    return;
  }
  if (box.checked) selected.set(box.value, box.closest(".job-card")?.querySelector('[data-f="name"]')?.textContent || box.value);
  else selected.delete(box.value);
  save();
  render();
});

bar.querySelector("#compare-clear").addEventListener("click", () => {
  selected.clear();
  for (const box of document.querySelectorAll('.job-card [data-f="select"]')) box.checked = false;
  save();
  render();
});

for (const box of document.querySelectorAll('.job-card [data-f="select"]')) {
  box.checked = selected.has(box.value);
}
render();
