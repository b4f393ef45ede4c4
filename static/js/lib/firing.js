// The alert-rule badge (templates/jobs/_rule_badge.html): how many of the rules the
// reader sees are firing on a job, coloured by the worst severity. An `alert_fired` push
// names no rule (every viewer of the job hears it), so pages read the reader's own view
// from /api/alerts/firing and paint the badges from it.

import { setText } from "./format.js";

const FIRING_URL = "/api/alerts/firing";

/** `{uid: {count, severity, rules}}` for the reader (only `uid`'s when given); null when
 * the read failed (the badges stay as they are until the next one). */
export async function readFiring(uid) {
  const url = uid ? `${FIRING_URL}?job=${encodeURIComponent(uid)}` : FIRING_URL;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    return response.ok ? (await response.json()).jobs : null;
  } catch {
    return null;
  }
}

/** Bring one badge in line with `badge` (undefined: nothing firing, hidden). */
export function paintBadge(el, badge) {
  if (!el) return;
  const severity = badge ? badge.severity : "info";
  const className = `rule-badge rule-badge--${severity}`;
  if (el.className !== className) el.className = className;
  setText(el, badge ? String(badge.count) : "");
  const title = badge ? `Firing: ${badge.rules.join(", ")}` : "";
  if (el.title !== title) el.title = title;
  el.setAttribute("aria-label", badge ? `${badge.count} alert rule${badge.count === 1 ? "" : "s"} firing` : "");
  el.hidden = !badge;
}
