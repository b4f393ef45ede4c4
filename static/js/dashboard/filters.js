// The filters form (status, model, tag, search, order), reflected in the URL: a change
// navigates (history), Back/Forward restore the form, typing refines one entry.

const form = document.getElementById("filters");
const search = document.getElementById("q");
const FILTER_KEYS = ["status", "model", "tag", "q", "ordering"];

export function currentFilters() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const key of FILTER_KEYS) filters[key] = params.get(key) || "";
  return filters;
}

export function filtersQuery(filters) {
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

// What a change does (page.js: re-read the list) and how a failed read is reported.
let reload = () => Promise.resolve();
let reportError = () => {};

function navigate(filters, { replace = false } = {}) {
  const query = filtersQuery(filters).toString();
  const url = query ? `?${query}` : location.pathname;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  syncForm(filters);
  reload().catch(() => reportError());
}

/** Wire the form: `change()` re-reads the list for the new filters (a promise), `error()`
 * reports that it failed. */
export function setup({ change, error }) {
  reload = change;
  reportError = error;
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
    reload().catch(() => reportError());
  });
}
