// Bulk actions on the selected rows, or on every job the query matches: add or remove a
// tag, move to a project, archive, unarchive, delete (to the trash). One request
// (POST /api/jobs/bulk); the table is read again afterwards.

import { boot } from "./state.js";
import { clearSelection, onSelection, selection } from "./table.js";

const BULK_URL = "/api/jobs/bulk";
const bar = document.getElementById("bulk-bar");
let allMatching = false;

function csrf() {
  return bar.elements.csrfmiddlewaretoken?.value || "";
}

function render(uids) {
  const count = document.getElementById("bulk-count");
  const all = document.getElementById("bulk-all");
  bar.hidden = uids.length === 0 && !allMatching;
  if (allMatching) {
    count.textContent = `All ${boot.total} job${boot.total === 1 ? "" : "s"} matching the query selected`;
  } else {
    count.textContent = `${uids.length} selected`;
  }
  all.hidden = allMatching || boot.error || boot.total <= uids.length;
}

function showError(text) {
  const error = document.getElementById("bulk-error");
  error.textContent = text;
  error.hidden = !text;
}

async function run(action) {
  const body = { action };
  if (allMatching) body.query = boot.query;
  else body.uids = selection();
  if (action === "add_tag" || action === "remove_tag") body.tag = document.getElementById("bulk-tag").value.trim();
  if (action === "move") body.project = document.getElementById("bulk-project").value;
  if (action === "delete") {
    const n = allMatching ? boot.total : body.uids.length;
    if (!window.confirm(`Move ${n} job${n === 1 ? "" : "s"} to the trash? They can be restored for 30 days.`)) return;
  }
  showError("");
  const response = await fetch(BULK_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const first = Object.entries(answer).find(([key]) => key !== "position");
    showError(first ? (first[0] === "detail" ? first[1] : `${first[0]}: ${[].concat(first[1])[0]}`) : `HTTP ${response.status}`);
    return;
  }
  if (action === "delete" || action === "archive" || action === "move") clearSelection();
  location.reload();
}

export function setup() {
  if (!bar) return;
  onSelection(render);
  bar.addEventListener("submit", (event) => event.preventDefault());
  bar.addEventListener("click", (event) => {
    const button = event.target.closest("[data-bulk]");
    if (button) run(button.dataset.bulk);
  });
  document.getElementById("bulk-all").addEventListener("click", () => {
    allMatching = true;
    render(selection());
  });
  document.getElementById("bulk-clear").addEventListener("click", () => {
    allMatching = false;
    clearSelection();
  });
}
