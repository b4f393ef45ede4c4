// The job's name and description: edited inline by the project's editors
// (PATCH /api/jobs/{uid}), and kept live when someone else changes them (the status push
// carries the job card's name and the description).

import { jobUrl } from "../lib/api.js";
import { setText } from "../lib/format.js";
import { uid } from "./boot.js";

const nameEl = document.getElementById("job-name");
const descriptionEl = document.getElementById("job-description");
const form = document.getElementById("rename-form");
const editButton = document.getElementById("rename-edit");

function show(name, description) {
  if (typeof name === "string" && nameEl.textContent !== name) {
    setText(nameEl, name);
    document.title = `${name} · Tuneboard`;
  }
  if (typeof description === "string") {
    if (descriptionEl.textContent !== description) setText(descriptionEl, description);
    descriptionEl.hidden = description === "";
  }
}

function open(on) {
  form.hidden = !on;
  editButton.setAttribute("aria-expanded", String(on));
  if (on) {
    form.elements.name.value = nameEl.textContent;
    form.elements.description.value = descriptionEl.textContent;
    form.elements.name.focus();
    form.elements.name.select();
  }
}

async function save(event) {
  event.preventDefault();
  const error = document.getElementById("rename-error");
  setText(error, "");
  const response = await fetch(jobUrl(uid), {
    method: "PATCH",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "X-CSRFToken": form.elements.csrfmiddlewaretoken?.value || "",
    },
    body: JSON.stringify({ name: form.elements.name.value, description: form.elements.description.value }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const first = Object.entries(answer)[0];
    setText(error, first ? (first[0] === "detail" ? first[1] : `${first[0]}: ${[].concat(first[1])[0]}`) : `HTTP ${response.status}`);
    return;
  }
  show(answer.name, answer.description);
  open(false);
  editButton.focus();
}

if (form) {
  editButton.addEventListener("click", () => open(form.hidden));
  document.getElementById("rename-cancel").addEventListener("click", () => {
    open(false);
    editButton.focus();
  });
  form.addEventListener("submit", save);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      open(false);
      editButton.focus();
    }
  });
}

/** A status push: the name (in its job card) and the description may have changed. */
export function apply(msg) {
  show(msg.job?.name, msg.description);
}
