// The header's Stop button (editors, a job that has not ended) and the "Stop requested"
// badge shown until the training script ends the job, and the "synced later" mark.

import { setText } from "../lib/format.js";
import { uid } from "./boot.js";

const form = document.getElementById("stop-form");
const badge = document.getElementById("job-stop-requested");
const synced = document.getElementById("job-synced");

function csrfToken() {
  return form?.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

/** The job card (a status push or a poll): show what is true of the stop request now. */
export function render(card) {
  const ended = !["running", "queued"].includes(card.status);
  const requested = Boolean(card.stop_requested) && !ended;
  if (badge) badge.hidden = !requested;
  if (form) form.hidden = ended || requested;
  if (synced && card.synced_at) synced.hidden = false;
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    const error = document.getElementById("stop-error");
    button.disabled = true;
    setText(error, "");
    try {
      const response = await fetch(`/api/jobs/${encodeURIComponent(uid)}/stop`, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.detail || `The server answered ${response.status}.`);
      render(data.job);
    } catch (exc) {
      setText(error, exc.message);
    } finally {
      button.disabled = false;
    }
  });
}
