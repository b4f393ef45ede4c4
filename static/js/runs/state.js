// The table's state — query, columns, sort, grouping — lives in the URL (shareable) and
// the reader's last choice in localStorage: /runs opened bare shows it again.

const STORE_KEY = "tb-runs";
const KEYS = ["query", "columns", "sort", "group"];

export const boot = JSON.parse(document.getElementById("runs-boot").textContent);

/** The URL of the table with `changes` applied (empty parts left out, page reset). */
export function tableUrl(changes = {}) {
  const state = {
    query: boot.query,
    columns: boot.columns.join(","),
    sort: boot.sort,
    group: boot.group,
    ...changes,
  };
  const params = new URLSearchParams();
  for (const key of [...KEYS, "page"]) if (state[key]) params.set(key, state[key]);
  const text = params.toString();
  return text ? `${location.pathname}?${text}` : location.pathname;
}

/** Open the table for `changes` (a full page load: the server renders the rows). */
export function navigate(changes) {
  location.assign(tableUrl(changes));
}

function remember() {
  const params = new URLSearchParams(location.search);
  const kept = new URLSearchParams();
  for (const key of [...KEYS, "view"]) if (params.get(key)) kept.set(key, params.get(key));
  try {
    localStorage.setItem(STORE_KEY, kept.toString());
  } catch {
    /* private mode: nothing remembered */
  }
}

/** A bare /runs reopens the reader's last table (true when it navigates away). */
export function restoreOrRemember() {
  if (!location.search) {
    let saved = "";
    try {
      saved = localStorage.getItem(STORE_KEY) || "";
    } catch {
      saved = "";
    }
    if (saved) {
      location.replace(`${location.pathname}?${saved}`);
      return true;
    }
  }
  remember();
  return false;
}
