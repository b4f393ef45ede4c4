// The cards' alert-rule badges: read on load, when an `alert_fired` push arrives, on
// each poll, and painted on every card, those that arrive later included.

import { paintBadge, readFiring } from "../lib/firing.js";
import { field } from "./card.js";

const cardsEl = document.getElementById("cards");
let latest = {};

/** Whether the reader is signed in (the bell is shown): only then are there badges. */
export const enabled = Boolean(cardsEl && document.getElementById("bell"));

function paint(el) {
  paintBadge(field(el, "firing"), latest[el.dataset.uid]);
}

/** Read the reader's firing rules again and repaint every card. */
export async function refresh() {
  if (!enabled) return;
  const jobs = await readFiring();
  if (!jobs) return;
  latest = jobs;
  for (const el of cardsEl?.querySelectorAll(".job-card") || []) paint(el);
}

if (enabled) {
  // The server painted the first cards' badges; the cards that come later need the map.
  refresh();
  // Cards added by "Show more", filters or a push get their badge as they arrive.
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType === 1 && node.classList.contains("job-card")) paint(node);
      }
    }
  }).observe(cardsEl, { childList: true });
}
