// The bell in the top bar (templates/jobs/_bell.html): one list of what the signed-in
// user should see, newest first: alerts of their rules that fired (/api/alerts) and
// mentions of them in comments (/api/notifications), with one unread count and "Mark all
// read". base.html loads it on every signed-in page; pages with a socket call refresh()
// when an `alert_fired` or `notification` push arrives (the pushes say nothing of what
// the reader sees: that comes from the API), the others read it again every minute.
// Keyboard: the summary opens it (Enter or Space), arrows move between the items,
// Escape closes it and gives the focus back to the bell.

import { ago } from "./format.js";

const ALERTS_URL = "/api/alerts";
const NOTIFICATIONS_URL = "/api/notifications";
const POLL_MS = 60_000;
const SHOWN = 10;

const bell = document.getElementById("bell");
let inflight = null;

function csrfToken() {
  return document.querySelector("#bell-read input[name=csrfmiddlewaretoken]")?.value || "";
}

async function readJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** Both kinds as one list: {kind, unread, time, url, title, text}. */
function merge(alerts, notes) {
  const items = [
    ...(alerts.results || []).map((alert) => ({
      kind: "alert",
      unread: !alert.read,
      time: alert.fired_at,
      url: alert.job.url,
      title: `${alert.rule.name} ${alert.state === "resolved" ? "resolved" : "fired"} on ${alert.job.name}`,
      text: alert.message,
    })),
    ...(notes.results || []).map((note) => ({
      kind: "mention",
      unread: !note.read_at,
      time: note.created_at,
      url: note.url,
      title: `${note.actor || "Someone"} mentioned you on ${note.job_name}`,
      text: note.excerpt,
    })),
  ];
  return items.sort((a, b) => new Date(b.time) - new Date(a.time)).slice(0, SHOWN);
}

function showCount(unread) {
  const count = document.getElementById("bell-count");
  count.textContent = unread > 99 ? "99+" : String(unread);
  count.hidden = !unread;
  document.getElementById("bell-read").hidden = !unread;
  bell.querySelector("summary").setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
}

function itemElement(item) {
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = item.url;
  link.className = `bell__item${item.unread ? " bell__item--unread" : ""}`;
  link.dataset.kind = item.kind;
  const kind = Object.assign(document.createElement("span"), {
    className: "bell__kind small",
    textContent: item.kind === "alert" ? "Alert" : "Mention",
  });
  const title = Object.assign(document.createElement("strong"), { textContent: item.title });
  const text = Object.assign(document.createElement("span"), { className: "small", textContent: item.text || "" });
  const when = Object.assign(document.createElement("span"), {
    className: "muted small",
    textContent: `${item.unread ? "unread · " : ""}${ago(item.time)}`,
  });
  link.append(kind, title, text, when);
  li.append(link);
  return li;
}

function render(alerts, notes) {
  showCount((alerts.unread || 0) + (notes.unread || 0));
  const items = merge(alerts, notes);
  const list = document.getElementById("bell-items");
  if (!items.length) return;
  list.replaceChildren(...items.map(itemElement));
}

/** Read the user's alerts and mentions again (on load, on a push, every minute). */
export function refresh() {
  if (!bell) return Promise.resolve();
  inflight ??= Promise.all([readJson(ALERTS_URL), readJson(NOTIFICATIONS_URL)])
    .then(([alerts, notes]) => render(alerts, notes))
    .catch(() => {})
    .finally(() => {
      inflight = null;
    });
  return inflight;
}

async function markAllRead(event) {
  event.preventDefault();
  const post = (url) =>
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: "{}",
    });
  const answers = await Promise.all([post(`${ALERTS_URL}/read`), post(`${NOTIFICATIONS_URL}/read`)]).catch(() => null);
  if (answers?.every((response) => response.ok)) {
    await refresh();
    bell.querySelector("summary").focus();
  }
}

function onKey(event) {
  if (!bell.open) return;
  if (event.key === "Escape") {
    bell.open = false;
    bell.querySelector("summary").focus();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const links = [...bell.querySelectorAll(".bell__item")];
  if (!links.length) return;
  event.preventDefault();
  const at = links.indexOf(document.activeElement);
  const next = event.key === "ArrowDown" ? (at + 1) % links.length : (at <= 0 ? links.length : at) - 1;
  links[next].focus();
}

if (bell) {
  refresh();
  setInterval(refresh, POLL_MS);
  document.getElementById("bell-read").addEventListener("submit", markAllRead);
  bell.addEventListener("keydown", onKey);
}
