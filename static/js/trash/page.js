// The trash page: Restore takes a job out of the trash (POST /api/jobs/{uid}/restore,
// admins of its project); its row then leaves the table.

import "../lib/theme.js";

const form = document.getElementById("trash-form");
const error = document.getElementById("trash-error");

document.getElementById("trash-table")?.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-restore]");
  if (!button) return;
  button.disabled = true;
  error.hidden = true;
  const uid = button.dataset.restore;
  const response = await fetch(`/api/jobs/${encodeURIComponent(uid)}/restore`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken?.value || "" },
  });
  if (response.ok) {
    button.closest("tr").remove();
    return;
  }
  const answer = await response.json().catch(() => ({}));
  error.textContent = answer.detail || `HTTP ${response.status}`;
  error.hidden = false;
  button.disabled = false;
});
