// Saved views in the sidebar: save the table's query, columns, sort and grouping under a
// name (POST /api/views), delete one (DELETE /api/views/{id}).

import { boot } from "./state.js";

const VIEWS_URL = "/api/views";

function csrf(form) {
  return form?.elements.csrfmiddlewaretoken?.value || "";
}

export function setup() {
  const form = document.getElementById("save-view");
  const error = document.getElementById("save-view-error");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {
      name: form.elements.name.value.trim(),
      query: boot.query,
      columns: boot.columns,
      sort: boot.sort,
      group_by: boot.group,
    };
    const response = await fetch(VIEWS_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(form) },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const first = Object.entries(answer).find(([key]) => key !== "position");
      error.textContent = first ? `${first[0]}: ${[].concat(first[1])[0]}` : `HTTP ${response.status}`;
      error.hidden = false;
      return;
    }
    location.assign(`${location.pathname}?view=${answer.id}`);
  });
  document.getElementById("view-list")?.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-delete-view]");
    if (!button) return;
    const id = button.dataset.deleteView;
    const response = await fetch(`${VIEWS_URL}/${encodeURIComponent(id)}`, {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(form) },
    });
    if (response.ok || response.status === 404) button.closest("li").remove();
  });
}
