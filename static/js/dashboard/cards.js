// The list of job cards: the server paints the first page; later pages come from
// /api/jobs ("Show more", or scrolling to the end); pushes update, add and drop cards.
// After a reconnect (or while polling) the shown cards are re-read from /api/jobs; a card
// pushed while that read ran keeps its pushed state, which may be newer than the read.

import { getJSON, jobsUrl } from "../lib/api.js";
import { metric, setText } from "../lib/format.js";
import { applyAlerts as applyCardAlerts, field, newCard, sparkPoints, updateCard } from "./card.js";
import { currentFilters, filtersQuery } from "./filters.js";
import * as stats from "./stats.js";

const cardsEl = document.getElementById("cards");
const emptyEl = document.getElementById("empty");
const moreEl = document.getElementById("more");
const moreButton = document.getElementById("more-button");
const PAGE_SIZE = Number(cardsEl.dataset.pageSize) || 48;
const API_MAX_PAGE = 200; // /api/jobs's largest page_size
// Jobs matching the current filters, loaded or not (the API's `count`).
let total = Number(cardsEl.dataset.total) || 0;
// When the server painted the page: jobs created later are new, not on an unloaded page.
const PAINTED_AT = Date.parse(cardsEl.dataset.paintedAt) || Date.now();
// How a failed read is reported (page.js: the offline banner).
let reportError = () => {};
// Per list read in flight: the jobs pushed since it started, uid → "shown" or "gone"
// (deleted, or no longer matching the filters).
const pushedDuringReads = new Set();

function notePush(uid, state) {
  for (const pushed of pushedDuringReads) pushed.set(uid, state);
}

function cardsByUid() {
  const map = new Map();
  for (const el of cardsEl.querySelectorAll(".job-card")) map.set(el.dataset.uid, el);
  return map;
}

function showEmpty(filters) {
  const empty = cardsEl.children.length === 0;
  emptyEl.hidden = !empty;
  const filtered = Boolean(filters.status || filters.model || filters.tag || filters.q);
  emptyEl.querySelector('[data-empty="filtered"]').hidden = !filtered;
  emptyEl.querySelector('[data-empty="none"]').hidden = filtered;
  const shown = cardsEl.children.length;
  total = Math.max(total, shown);
  setText(document.getElementById("result-count"), `${total} jobs`);
  setText(document.getElementById("shown-count"), `Showing ${shown} of ${total}`);
  moreEl.hidden = shown >= total;
}

/** What a reader would notice changing on a card (its clock ticks, so not its time). */
function signature(el) {
  return ["status", "progress", "loss"].map((name) => field(el, name).textContent).join("|");
}

/** Replace the list with `cards` in their order, reusing the elements of known jobs;
 * cards in `pushed` keep what their pushes made of them (updated, added, dropped).
 * Returns how many cards are new or changed. */
function renderList(cards, filters, pushed = new Map()) {
  const known = cardsByUid();
  let changed = 0;
  const listed = new Set(cards.map((card) => card.uid));
  // Shown, pushed after the read began, not in it: a job created meanwhile, which leads a
  // list in the default order (in another order, a later read places it).
  const newestFirst = !filters.ordering || filters.ordering === "-created_at";
  const kept = newestFirst
    ? [...known.values()].filter((el) => pushed.get(el.dataset.uid) === "shown" && !listed.has(el.dataset.uid))
    : [];
  const fresh = cards.filter((card) => pushed.get(card.uid) !== "gone");
  const els = fresh.map((card) => {
    const el = known.get(card.uid);
    if (el && pushed.has(card.uid)) return el;
    if (el) {
      const before = signature(el);
      updateCard(el, card);
      if (signature(el) !== before) changed += 1;
      return el;
    }
    changed += 1;
    return newCard(card);
  });
  els.unshift(...kept);
  const same = els.length === cardsEl.children.length && els.every((el, i) => cardsEl.children[i] === el);
  if (!same) cardsEl.replaceChildren(...els);
  showEmpty(filters);
  return changed;
}

function matches(card, filters) {
  if (filters.status && card.status !== filters.status) return false;
  if (filters.model && card.model !== filters.model) return false;
  if (filters.tag && !(card.tags || []).includes(filters.tag)) return false;
  if (filters.q) {
    const q = filters.q.toLowerCase();
    const hay = [card.name, card.uid, card.model, card.dataset].join(" ").toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

let listRequest = 0;

// The project chosen in the top bar's switcher ("" for all the user's projects).
const project = document.getElementById("cards")?.dataset.project || "";

function listParams(filters, page, size) {
  const params = filtersQuery(filters);
  if (project) params.set("project", project);
  if (!params.get("ordering")) params.set("ordering", "-created_at");
  params.set("page_size", String(size));
  params.set("page", String(page));
  return params;
}

/** The first `want` jobs of the filtered list (pages fetched in parallel) and the count. */
async function fetchFirst(filters, want) {
  const size = Math.min(want, API_MAX_PAGE);
  const pages = Math.max(1, Math.ceil(Math.min(want, Math.max(total, 1)) / size));
  const answers = await Promise.all(
    Array.from({ length: pages }, (_, i) =>
      getJSON(jobsUrl(listParams(filters, i + 1, size))).catch((error) => {
        if (i === 0) throw error;
        return { results: [] }; // the list shrank below this page since we counted
      }),
    ),
  );
  return { count: answers[0].count, results: answers.flatMap((a) => a.results ?? a).slice(0, want) };
}

/** Re-read the list: the first page after a filter change (`reset`), else as many cards
 * as are shown, so cards loaded later keep being refreshed while polling. */
export async function load({ reset = false } = {}) {
  const filters = currentFilters();
  const want = reset ? PAGE_SIZE : Math.max(PAGE_SIZE, cardsEl.children.length);
  const request = ++listRequest;
  if (reset) total = 0;
  const pushed = new Map();
  pushedDuringReads.add(pushed);
  let data;
  try {
    data = await fetchFirst(filters, want);
  } finally {
    pushedDuringReads.delete(pushed);
  }
  if (request !== listRequest) return 0; // a newer filter change won
  if (typeof data.count === "number") total = data.count;
  return renderList(data.results, filters, reset ? new Map() : pushed);
}

let moreLoading = false;

/** Append the next page. Live updates may have shifted the list since the last page was
 * read, so the page is chosen from the cards shown and jobs already shown are skipped. */
export async function loadMore() {
  if (moreLoading || cardsEl.children.length >= total) return;
  moreLoading = true;
  moreButton.disabled = true;
  const request = listRequest;
  const filters = currentFilters();
  try {
    const page = Math.floor(cardsEl.children.length / PAGE_SIZE) + 1;
    const data = await getJSON(jobsUrl(listParams(filters, page, PAGE_SIZE)));
    if (request !== listRequest) return; // the filters changed meanwhile
    total = data.count;
    const known = cardsByUid();
    const fresh = data.results.filter((card) => !known.has(card.uid)).map(newCard);
    cardsEl.append(...fresh);
    showEmpty(filters);
    // On a tall screen the end of the list may still be in sight: keep filling it.
    requestAnimationFrame(() => {
      if (!moreEl.hidden && moreEl.getBoundingClientRect().top < innerHeight) loadMore().catch(() => reportError());
    });
  } finally {
    moreLoading = false;
    moreButton.disabled = false;
  }
}

/** A job card pushed (`job`): update, add or drop its card. */
export function applyJob(card) {
  const filters = currentFilters();
  notePush(card.uid, matches(card, filters) ? "shown" : "gone");
  const el = cardsByUid().get(card.uid);
  if (el) {
    const before = el.dataset.status;
    updateCard(el, card);
    if (!matches(card, filters)) {
      el.remove();
      total = Math.max(0, total - 1);
    }
    if (before !== card.status) stats.soon();
  } else {
    const complete = cardsEl.children.length >= total;
    const created = Date.parse(card.created_at);
    if (matches(card, filters) && (complete || created >= PAINTED_AT)) {
      total += 1;
      // New jobs are the newest: they lead a list in the default order. In another
      // order a job joins the end only when the whole list is loaded; otherwise a later
      // page brings it where it belongs.
      if (!filters.ordering || filters.ordering === "-created_at") cardsEl.prepend(newCard(card));
      else if (complete) cardsEl.append(newCard(card));
      stats.soon();
    } else if (!complete) {
      // A job on a page not loaded yet: it may have started or stopped matching the
      // filters, which only the server can count.
      countSoon();
    }
  }
  showEmpty(filters);
}

let countTimer = 0;
function countSoon() {
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    const request = listRequest;
    const data = await getJSON(jobsUrl(listParams(currentFilters(), 1, 1))).catch(() => null);
    if (!data || request !== listRequest) return;
    total = data.count;
    showEmpty(currentFilters());
  }, 1000);
}

/** A job's loss moved (`job_metrics`). */
export function applyMetrics(msg) {
  const el = cardsByUid().get(msg.uid);
  if (!el) return;
  notePush(msg.uid, "shown");
  setText(field(el, "loss"), metric(msg.latest_loss));
  field(el, "spark").setAttribute("points", sparkPoints(msg.loss_sparkline));
}

/** A job was deleted (`job_deleted`): drop its card. */
export function remove(uid) {
  notePush(uid, "gone");
  const el = cardsByUid().get(uid);
  if (el) {
    el.remove();
    total = Math.max(0, total - 1);
    showEmpty(currentFilters());
  } else if (cardsEl.children.length < total) countSoon();
  stats.soon();
}

/** A job's open alerts changed (`job_alerts`). */
export function applyAlerts(msg) {
  const el = cardsByUid().get(msg.uid);
  if (el) applyCardAlerts(el, msg.alerts, el.dataset.status === "failed");
}

/** Whether updates are due: a running job is shown. */
export function hasRunning() {
  return Boolean(cardsEl.querySelector('.job-card[data-status="running"]'));
}

/** Wire "Show more" and scrolling to the end; `error()` reports a failed read. */
export function setup({ error }) {
  reportError = error;
  moreButton.addEventListener("click", () => loadMore().catch(() => reportError()));
  if ("IntersectionObserver" in window) {
    // Scrolling near the end of the list loads the next page, as the button would.
    new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) loadMore().catch(() => reportError());
      },
      { rootMargin: "400px 0px" },
    ).observe(moreEl);
  }
}
