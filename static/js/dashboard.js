// Dashboard: filters reflected in the URL, cards updated in place from /ws/dashboard/
// (or by polling /api/jobs when the socket is down). The server paints the first page
// of cards; later pages come from /api/jobs ("Show more", or scrolling to the end).

import "./lib/theme.js";
import "./lib/shortcuts.js";
import "./lib/menus.js";
import { onShortcut } from "./lib/shortcuts.js";
import { duration, metric, setText, steps, toNumber } from "./lib/format.js";
import { getJSON } from "./lib/api.js";
import { LiveFeed } from "./lib/live.js";
import { syncSelectBox } from "./compare_select.js";

const form = document.getElementById("filters");
const cardsEl = document.getElementById("cards");
const emptyEl = document.getElementById("empty");
const template = document.getElementById("card-template");
const search = document.getElementById("q");
const moreEl = document.getElementById("more");
const moreButton = document.getElementById("more-button");
const FILTER_KEYS = ["status", "model", "tag", "q", "ordering"];
const PAGE_SIZE = Number(cardsEl.dataset.pageSize) || 48;
const API_MAX_PAGE = 200; // /api/jobs's largest page_size
// Jobs matching the current filters, loaded or not (the API's `count`).
let total = Number(cardsEl.dataset.total) || 0;
// When the server painted the page: jobs created later are new, not on an unloaded page.
const PAINTED_AT = Date.parse(cardsEl.dataset.paintedAt) || Date.now();

function currentFilters() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const key of FILTER_KEYS) filters[key] = params.get(key) || "";
  return filters;
}

function filtersQuery(filters) {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filters[key]) params.set(key, filters[key]);
  return params;
}

function formFilters() {
  return {
    status: form.elements.status.value,
    model: form.elements.model.value,
    tag: form.elements.tag.value,
    q: search.value.trim(),
    ordering: form.elements.ordering.value === "-created_at" ? "" : form.elements.ordering.value,
  };
}

function syncForm(filters) {
  form.elements.status.value = filters.status;
  form.elements.model.value = filters.model;
  form.elements.tag.value = filters.tag;
  form.elements.ordering.value = filters.ordering || "-created_at";
  if (document.activeElement !== search) search.value = filters.q;
  for (const link of form.querySelectorAll(".segmented a")) {
    if (link.dataset.status === filters.status) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

// --- cards --------------------------------------------------------------------------

function sparkPoints(pairs, width = 120, height = 28) {
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

function field(el, name) {
  return el.querySelector(`[data-f="${name}"]`);
}

/** Bring one card's DOM in line with a job card payload; only changed text is touched. */
function updateCard(el, card) {
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

function applyAlerts(el, alerts, failed) {
  const line = field(el, "alert");
  const list = alerts || [];
  const more = list.length > 1 ? ` +${list.length - 1}` : "";
  setText(line, list.length ? `⚠ ${list[0].title}${more}` : "");
  line.hidden = failed || !list.length;
}

function newCard(card) {
  const el = template.content.firstElementChild.cloneNode(true);
  updateCard(el, card);
  return el;
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

/** Replace the list with `cards` in their order, reusing the elements of known jobs.
 * Returns how many cards are new or changed. */
function renderList(cards, filters) {
  const known = cardsByUid();
  let changed = 0;
  const els = cards.map((card) => {
    const el = known.get(card.uid);
    if (el) {
      const before = signature(el);
      updateCard(el, card);
      if (signature(el) !== before) changed += 1;
      return el;
    }
    changed += 1;
    return newCard(card);
  });
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

// --- data ---------------------------------------------------------------------------

let listRequest = 0;

function listParams(filters, page, size) {
  const params = filtersQuery(filters);
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
      getJSON(`/api/jobs?${listParams(filters, i + 1, size)}`).catch((error) => {
        if (i === 0) throw error;
        return { results: [] }; // the list shrank below this page since we counted
      }),
    ),
  );
  return { count: answers[0].count, results: answers.flatMap((a) => a.results ?? a).slice(0, want) };
}

/** Re-read the list: the first page after a filter change (`reset`), else as many cards
 * as are shown, so cards loaded later keep being refreshed while polling. */
async function loadList({ reset = false } = {}) {
  const filters = currentFilters();
  const want = reset ? PAGE_SIZE : Math.max(PAGE_SIZE, cardsEl.children.length);
  const request = ++listRequest;
  if (reset) total = 0;
  const data = await fetchFirst(filters, want);
  if (request !== listRequest) return 0; // a newer filter change won
  if (typeof data.count === "number") total = data.count;
  return renderList(data.results, filters);
}

let moreLoading = false;

/** Append the next page. Live updates may have shifted the list since the last page was
 * read, so the page is chosen from the cards shown and jobs already shown are skipped. */
async function loadMore() {
  if (moreLoading || cardsEl.children.length >= total) return;
  moreLoading = true;
  moreButton.disabled = true;
  const request = listRequest;
  const filters = currentFilters();
  try {
    const page = Math.floor(cardsEl.children.length / PAGE_SIZE) + 1;
    const data = await getJSON(`/api/jobs?${listParams(filters, page, PAGE_SIZE)}`);
    if (request !== listRequest) return; // the filters changed meanwhile
    total = data.count;
    const known = cardsByUid();
    const fresh = data.results.filter((card) => !known.has(card.uid)).map(newCard);
    cardsEl.append(...fresh);
    showEmpty(filters);
    // On a tall screen the end of the list may still be in sight: keep filling it.
    requestAnimationFrame(() => {
      if (!moreEl.hidden && moreEl.getBoundingClientRect().top < innerHeight) loadMore().catch(() => feed.showBanner());
    });
  } finally {
    moreLoading = false;
    moreButton.disabled = false;
  }
}

async function loadStats() {
  const stats = await getJSON("/api/jobs/statistics");
  const set = (key, text) => setText(document.querySelector(`[data-stat="${key}"]`), text);
  set("total", String(stats.total));
  for (const status of ["running", "queued", "completed", "failed"]) set(status, String(stats.counts?.[status] ?? 0));
  set("success_rate", stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 100)}%`);
  set("gpu_hours", String(Math.round(stats.gpu_hours)));
}

let statsTimer = 0;
function statsSoon() {
  // Many jobs may change at once; one statistics read covers them all.
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => loadStats().catch(() => {}), 800);
}

function applyJob(card) {
  const filters = currentFilters();
  const el = cardsByUid().get(card.uid);
  if (el) {
    const before = el.dataset.status;
    updateCard(el, card);
    if (!matches(card, filters)) {
      el.remove();
      total = Math.max(0, total - 1);
    }
    if (before !== card.status) statsSoon();
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
      statsSoon();
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
    const data = await getJSON(`/api/jobs?${listParams(currentFilters(), 1, 1)}`).catch(() => null);
    if (!data || request !== listRequest) return;
    total = data.count;
    showEmpty(currentFilters());
  }, 1000);
}

function applyJobMetrics(msg) {
  const el = cardsByUid().get(msg.uid);
  if (!el) return;
  setText(field(el, "loss"), metric(msg.latest_loss));
  field(el, "spark").setAttribute("points", sparkPoints(msg.loss_sparkline));
}

const feed = new LiveFeed({
  path: "/ws/dashboard/",
  onMessage(msg) {
    if (msg.type === "job") applyJob(msg.job);
    else if (msg.type === "job_metrics") applyJobMetrics(msg);
    else if (msg.type === "job_deleted") {
      const el = cardsByUid().get(msg.uid);
      if (el) {
        el.remove();
        total = Math.max(0, total - 1);
        showEmpty(currentFilters());
      } else if (cardsEl.children.length < total) countSoon();
      statsSoon();
    }
    else if (msg.type === "job_alerts") {
      const el = cardsByUid().get(msg.uid);
      if (el) applyAlerts(el, msg.alerts, el.dataset.status === "failed");
    }
  },
  async poll() {
    const [changed] = await Promise.all([loadList(), loadStats()]);
    return changed;
  },
  expectActivity: () => Boolean(cardsEl.querySelector('.job-card[data-status="running"]')),
});

// --- filters ------------------------------------------------------------------------

function navigate(filters, { replace = false } = {}) {
  const query = filtersQuery(filters).toString();
  const url = query ? `?${query}` : location.pathname;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  syncForm(filters);
  loadList({ reset: true }).catch(() => feed.showBanner());
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  navigate(formFilters());
});
form.addEventListener("change", (event) => {
  if (event.target === search) return;
  navigate(formFilters());
});
for (const link of form.querySelectorAll(".segmented a")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    form.elements.status.value = link.dataset.status;
    navigate(formFilters());
  });
}
let typingTimer = 0;
search.addEventListener("input", () => {
  clearTimeout(typingTimer);
  // Typing refines one history entry instead of adding one per key.
  typingTimer = setTimeout(() => navigate(formFilters(), { replace: true }), 150);
});
search.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    clearTimeout(typingTimer);
    navigate(formFilters());
  }
});
addEventListener("popstate", () => {
  syncForm(currentFilters());
  loadList({ reset: true }).catch(() => feed.showBanner());
});

moreButton.addEventListener("click", () => loadMore().catch(() => feed.showBanner()));
if ("IntersectionObserver" in window) {
  // Scrolling near the end of the list loads the next page, as the button would.
  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore().catch(() => feed.showBanner());
    },
    { rootMargin: "400px 0px" },
  ).observe(moreEl);
}

onShortcut("l", () => feed.toggle());
onShortcut("r", () => feed.refresh());

feed.start();
