// The metric area of the job page: charts grouped in sections by key prefix (each one
// collapses, remembered in localStorage), a filter box over key names, and the Summary
// card of single-value keys. The section and summary rules mirror jobs/web/presenters.py
// (`metric_section`, `is_summary`); keep the two in step.
//
// Charts are created only when their placeholder nears the viewport (`onVisible`): a job
// with a thousand keys paints a thousand light placeholders and draws a dozen charts.

import { metric, setText, steps } from "../lib/format.js";

const PREFIX_SECTION = { train: "train", val: "val", eval: "val", system: "system" };
const SECTION_LABELS = { train: "Train", val: "Validation", system: "System", other: "Other" };
const FIXED_RANK = { train: 0, val: 1, system: 3, other: 4 };
const COLLAPSED_KEY = "tb-metric-sections-collapsed";
// How far outside the viewport a placeholder starts its chart (and its series read).
const VISIBLE_MARGIN = "400px 0px";

/** The section of a key's chart: train, val (val/ and eval/), system, the key's own
 * prefix, or other for keys without one. */
export function sectionOf(key) {
  const slash = key.indexOf("/");
  if (slash <= 0) return "other";
  const prefix = key.slice(0, slash);
  return PREFIX_SECTION[prefix] || prefix;
}

const sectionRank = (id) => [FIXED_RANK[id] ?? 2, id];

function beforeSection(a, b) {
  const [ra, na] = sectionRank(a);
  const [rb, nb] = sectionRank(b);
  return ra !== rb ? ra < rb : na < nb;
}

/** The summary rule: a key shows as a Summary row, not a chart, when the job marks it as
 * a summary (`marked`: its config's "summary") or its series holds exactly one point.
 * The loss keys always draw on the loss chart. */
export function isSummary(key, count, marked) {
  if (key === "train/loss" || key === "val/loss") return false;
  return marked.has(key) || count === 1;
}

// --- collapse state (per browser profile, for every job) ------------------------------

function collapsedSet() {
  try {
    return new Set(JSON.parse(localStorage.getItem(COLLAPSED_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function saveCollapsed(set) {
  try {
    localStorage.setItem(COLLAPSED_KEY, JSON.stringify([...set]));
  } catch {
    /* not persisted */
  }
}

const container = document.getElementById("small-charts");
const summaryCard = document.getElementById("metric-summary");
const summaryRows = document.getElementById("summary-rows");
const filterInput = document.getElementById("metric-filter");
const filterCount = document.getElementById("metric-filter-count");
const filterEmpty = document.getElementById("metric-filter-empty");
const articles = new Map(); // key -> placeholder <article>
const rows = new Map(); // key -> summary row
let sectionSerial = 0;
let filterText = "";
let visibleHandler = () => {};

const observer =
  typeof IntersectionObserver === "function"
    ? new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            if (!entry.isIntersecting) continue;
            observer.unobserve(entry.target);
            visibleHandler(entry.target.dataset.key, entry.target);
          }
        },
        { rootMargin: VISIBLE_MARGIN },
      )
    : null;

/** Call `fn(key, article)` once for each chart placeholder when it nears the viewport. */
export function onVisible(fn) {
  visibleHandler = fn;
  for (const [key, article] of articles) {
    if (observer) observer.observe(article);
    else fn(key, article);
  }
}

function setCollapsed(section, collapsed) {
  const toggle = section.querySelector(".metric-section__toggle");
  section.dataset.collapsed = String(collapsed);
  toggle.setAttribute("aria-expanded", String(!collapsed));
  document.getElementById(toggle.getAttribute("aria-controls")).hidden = collapsed;
}

function wireSection(section, collapsed) {
  if (collapsed.has(section.dataset.section)) setCollapsed(section, true);
  section.querySelector(".metric-section__toggle").addEventListener("click", () => {
    const now = section.dataset.collapsed !== "true";
    setCollapsed(section, now);
    const stored = collapsedSet();
    if (now) stored.add(section.dataset.section);
    else stored.delete(section.dataset.section);
    saveCollapsed(stored);
  });
}

// --- building sections, placeholders and rows for keys the page learns of later -------

function newSection(id) {
  sectionSerial += 1;
  const bodyId = `metric-section-n${sectionSerial}`;
  const section = document.createElement("section");
  section.className = "metric-section";
  section.dataset.section = id;
  section.setAttribute("aria-labelledby", `${bodyId}-title`);
  section.innerHTML =
    '<h3 class="metric-section__head"><button class="metric-section__toggle" type="button" aria-expanded="true">' +
    '<svg viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" aria-hidden="true"><path d="M4 6l4 4 4-4"/></svg>' +
    '<span class="metric-section__label"></span><span class="metric-section__count num" data-f="count">0</span></button></h3>' +
    '<div class="small-charts"></div>';
  section.querySelector("h3").id = `${bodyId}-title`;
  section.querySelector(".metric-section__toggle").setAttribute("aria-controls", bodyId);
  section.querySelector(".small-charts").id = bodyId;
  section.querySelector(".metric-section__label").textContent = SECTION_LABELS[id] || id;
  const after = [...container.children].find((el) => beforeSection(id, el.dataset.section));
  container.insertBefore(section, after || null);
  wireSection(section, collapsedSet());
  return section;
}

function sectionFor(key) {
  const id = sectionOf(key);
  const found = [...container.children].find((el) => el.dataset.section === id);
  return found || newSection(id);
}

function countCharts(section) {
  const shown = section.querySelectorAll(".small-chart:not([hidden])").length;
  setText(section.querySelector('[data-f="count"]'), String(shown));
  section.hidden = shown === 0;
}

/** The placeholder of `key`'s chart, created in its section (in key order) if new. */
export function placeholder(key) {
  let article = articles.get(key);
  if (article || !container) return article || null;
  article = document.createElement("article");
  article.className = "panel small-chart";
  article.dataset.key = key;
  article.innerHTML =
    '<div class="panel__head"><h3></h3><span class="small-chart__value num" data-f="value"></span></div>' +
    '<div class="panel__body"><div class="chart-box chart-box--sm chart-box--idle"></div></div>';
  article.querySelector("h3").textContent = key;
  const section = sectionFor(key);
  const body = section.querySelector(".small-charts");
  const after = [...body.children].find((el) => el.dataset.key > key);
  body.insertBefore(article, after || null);
  articles.set(key, article);
  article.hidden = !matches(key);
  countCharts(section);
  if (observer) observer.observe(article);
  else visibleHandler(key, article);
  return article;
}

export const article = (key) => articles.get(key) || null;

// --- the Summary card -------------------------------------------------------------------

export const summaryRow = (key) => rows.get(key) || null;

/** Show `value` at `step` in `key`'s Summary row (created, in key order, if new). */
export function setSummary(key, value, step) {
  let row = rows.get(key);
  if (!row) {
    row = document.createElement("div");
    row.className = "summary-row";
    row.setAttribute("role", "listitem");
    row.dataset.key = key;
    row.innerHTML =
      '<span class="summary-row__key"></span><span class="summary-row__value num" data-f="value"></span>' +
      '<span class="summary-row__step num" data-f="step"></span>';
    row.querySelector(".summary-row__key").textContent = key;
    const after = [...summaryRows.children].find((el) => el.dataset.key > key);
    summaryRows.insertBefore(row, after || null);
    rows.set(key, row);
    row.hidden = !matches(key);
    renderSummaryCard();
  }
  row.dataset.step = step === null || step === undefined ? "" : String(step);
  setText(row.querySelector('[data-f="value"]'), metric(value));
  setText(row.querySelector('[data-f="step"]'), step === null || step === undefined ? "" : `step ${steps(step)}`);
}

/** Take `key` out of the Summary card (it now has a chart). */
export function dropSummary(key) {
  const row = rows.get(key);
  if (!row) return;
  row.remove();
  rows.delete(key);
  renderSummaryCard();
}

function renderSummaryCard() {
  if (!summaryCard) return;
  summaryCard.hidden = ![...rows.values()].some((row) => !row.hidden);
}

// --- the filter box ----------------------------------------------------------------------

function matches(key) {
  return !filterText || key.toLowerCase().includes(filterText);
}

function applyFilter() {
  filterText = filterInput.value.trim().toLowerCase();
  let shown = 0;
  for (const [key, el] of articles) {
    el.hidden = !matches(key);
    if (!el.hidden) shown += 1;
  }
  for (const [key, row] of rows) {
    row.hidden = !matches(key);
    if (!row.hidden) shown += 1;
  }
  for (const section of container.children) countCharts(section);
  renderSummaryCard();
  setText(filterCount, filterText ? `${shown} of ${articles.size + rows.size}` : "");
  filterEmpty.hidden = !filterText || shown > 0;
}

// --- start: what the server painted -------------------------------------------------------

if (container) {
  const collapsed = collapsedSet();
  for (const section of container.querySelectorAll(".metric-section")) wireSection(section, collapsed);
  for (const el of container.querySelectorAll(".small-chart")) articles.set(el.dataset.key, el);
  for (const el of summaryRows.querySelectorAll(".summary-row")) rows.set(el.dataset.key, el);
  filterInput.addEventListener("input", applyFilter);
  if (filterInput.value) applyFilter();
}
