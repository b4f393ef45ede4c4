// The notes and tags editor. Notes are rendered on the server (jobs/markdown.py,
// escaping); this module only inserts the HTML it answers.

import { jobDetailsUrl } from "../lib/api.js";
import { uid } from "./boot.js";

const detailsUrl = jobDetailsUrl(uid);

const form = document.getElementById("details-form");
const editButton = document.getElementById("details-edit");
const notesView = document.getElementById("notes-view");
const tagsEl = document.getElementById("job-tags");
let current = null; // {notes, tags} as last stored

function showDetails(data) {
  current = { notes: data.notes, tags: data.tags };
  // notes_html is the server's escaped rendering: only fixed tags, never input markup.
  notesView.innerHTML = data.notes_html;
  notesView.hidden = !data.notes_html;
  tagsEl.replaceChildren(
    ...data.tags.map((tag) => Object.assign(document.createElement("span"), { className: "tag", textContent: `#${tag}` })),
  );
  tagsEl.hidden = !data.tags.length;
  if (editButton) editButton.textContent = data.notes ? "Edit notes and tags" : "Add a note or tags";
}

function parseTags(text) {
  return text
    .split(/[,\n]/)
    .map((tag) => tag.trim().replace(/^#/, ""))
    .filter(Boolean);
}

function errorText(value) {
  if (Array.isArray(value)) return value.map(errorText).join(" ");
  if (value && typeof value === "object") return Object.values(value).map(errorText).join(" ");
  return String(value ?? "");
}

function setErrors(errors = {}) {
  document.getElementById("notes-error").textContent = errorText(errors.notes);
  document.getElementById("tags-error").textContent = errorText(errors.tags);
  document.getElementById("details-error").textContent = errorText(errors.detail);
  form.elements.notes.setAttribute("aria-invalid", String(Boolean(errors.notes)));
  form.elements.tags.setAttribute("aria-invalid", String(Boolean(errors.tags)));
}

function openEditor(open) {
  form.hidden = !open;
  editButton.setAttribute("aria-expanded", String(open));
  editButton.parentElement.hidden = open;
  if (open) {
    if (current) {
      form.elements.notes.value = current.notes;
      form.elements.tags.value = current.tags.join(", ");
    }
    setErrors();
    form.elements.notes.focus();
  } else {
    editButton.focus();
  }
}

if (form) {
  editButton.addEventListener("click", () => openEditor(true));
  editButton.dataset.ready = "true"; // for tests: the click now opens the editor
  document.getElementById("details-cancel").addEventListener("click", () => openEditor(false));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") openEditor(false);
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    setErrors();
    try {
      const response = await fetch(detailsUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
        },
        body: JSON.stringify({ notes: form.elements.notes.value, tags: parseTags(form.elements.tags.value) }),
      });
      const data = await response.json().catch(() => ({ detail: `The server answered ${response.status}.` }));
      if (!response.ok) {
        setErrors(data);
        return;
      }
      showDetails(data);
      openEditor(false);
    } catch {
      setErrors({ detail: "Could not reach the server; your text is still here, try again." });
    } finally {
      submit.disabled = false;
    }
  });
}

current = {
  notes: form ? form.elements.notes.value : null,
  tags: [...tagsEl.querySelectorAll(".tag")].map((el) => el.textContent.slice(1)),
};

/** A `status` push: someone else may have edited the job; it carries its notes and tags. */
export async function apply(msg) {
  const { job, notes } = msg;
  if (!current || notes === undefined) return;
  const tagsChanged = JSON.stringify(job.tags || []) !== JSON.stringify(current.tags);
  if (notes === current.notes && !tagsChanged) return;
  const response = await fetch(detailsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.ok) showDetails(await response.json());
}
