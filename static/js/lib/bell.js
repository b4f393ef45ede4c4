// The alerts bell in the top bar (templates/jobs/_bell.html): the signed-in user's
// fired alerts from /api/alerts, an unread count, and a menu of the newest. Opening the
// menu marks them read. Pages call refresh() when an `alert_fired` push arrives (the
// push names the job, not the reader: what the reader sees comes from the API).

import { ago } from "./format.js";

const ALERTS_URL = "/api/alerts";
const POLL_MS = 60_000;
const SHOWN = 8;

const bell = document.getElementById("alert-bell");
let latest = [];
let inflight = null;

function csrfToken() {
  return document.querySelector("#alert-bell-csrf input[name=csrfmiddlewaretoken]")?.value || "";
}

function render(page) {
  latest = page.results || [];
  const count = document.getElementById("alert-bell-count");
  count.textContent = page.unread > 99 ? "99+" : String(page.unread);
  count.hidden = !page.unread;
  bell.querySelector("summary").setAttribute("aria-label", page.unread ? `Alerts, ${page.unread} unread` : "Alerts");
  const items = document.getElementById("alert-bell-items");
  if (!latest.length) return;
  items.replaceChildren(
    ...latest.slice(0, SHOWN).map((alert) => {
      const link = document.createElement("a");
      link.href = alert.job.url;
      link.className = `bell__item${alert.read ? "" : " bell__item--unread"}`;
      const title = Object.assign(document.createElement("strong"), { textContent: `${alert.rule.name} · ${alert.job.name}` });
      const text = Object.assign(document.createElement("span"), { className: "small", textContent: alert.message });
      const when = Object.assign(document.createElement("span"), { className: "muted small", textContent: `${alert.state === "resolved" ? "resolved · " : ""}${ago(alert.fired_at)}` });
      link.append(title, text, when);
      return link;
    }),
  );
}

/** Read the user's alerts again (on load, on a push, every minute). */
export function refresh() {
  if (!bell) return Promise.resolve();
  inflight ??= fetch(ALERTS_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((page) => page && render(page))
    .catch(() => {})
    .finally(() => {
      inflight = null;
    });
  return inflight;
}

async function markRead() {
  if (!latest.some((alert) => !alert.read)) return;
  const response = await fetch(`${ALERTS_URL}/read`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ ids: latest.map((alert) => alert.id) }),
  }).catch(() => null);
  if (response?.ok) {
    const count = document.getElementById("alert-bell-count");
    count.hidden = true;
    bell.querySelector("summary").setAttribute("aria-label", "Alerts");
  }
}

if (bell) {
  refresh();
  setInterval(refresh, POLL_MS);
  bell.addEventListener("toggle", () => {
    if (bell.open) markRead();
  });
}
