// "Your alerts on this job": the reader's alert rules that fired here. An `alert_fired`
// push says that some rule fired; which of them are the reader's comes from the API.

import { paintBadge, readFiring } from "../lib/firing.js";
import { uid } from "./boot.js";

function render(results) {
  const panel = document.getElementById("fired-panel");
  if (!panel) return;
  const list = document.getElementById("fired-panel-list");
  list.replaceChildren(
    ...results.map((alert) => {
      const item = document.createElement("li");
      item.className = "alerts-row";
      item.dataset.alert = alert.id;
      const state = document.createElement("span");
      state.className = `fired-state fired-state--${alert.state}`;
      state.setAttribute("aria-hidden", "true");
      const main = document.createElement("div");
      main.className = "alerts-row__main";
      main.append(Object.assign(document.createElement("strong"), { textContent: alert.rule.name }), " ", Object.assign(document.createElement("span"), { className: "small", textContent: alert.message }));
      item.append(state, main);
      return item;
    }),
  );
  panel.hidden = results.length === 0;
}

/** The header's badge: the rules the reader sees firing on this job now. */
async function refreshBadge() {
  const badge = document.getElementById("job-firing");
  if (!badge) return;
  const jobs = await readFiring(uid);
  if (jobs) paintBadge(badge, jobs[uid]);
}

/** A poll or a catch-up after a reconnect (pushes may have been missed): the badge is
 * read again; nothing here counts as a change. */
export async function poll() {
  await refreshBadge();
  return 0;
}

/** An `alert_fired` push. */
export async function apply() {
  refreshBadge();
  if (!document.getElementById("fired-panel")) return;
  try {
    const response = await fetch(`/api/alerts?job=${encodeURIComponent(uid)}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.ok) render((await response.json()).results || []);
  } catch {
    // The next push or a reload reads them again.
  }
}
