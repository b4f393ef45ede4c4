// The comments thread below the logs, and the editors' share links. Comment bodies are
// rendered on the server (jobs/core/markdown.py, escaping); this module inserts only the
// `html` the API answers or the socket pushes, and builds everything else as text.
//
// Absent on a share link's page (no #comments-boot): apply and poll then do nothing.

import { getJSON, jobCommentUrl, jobCommentsUrl, jobShareLinksUrl, shareLinkUrl } from "../lib/api.js";
import { absolute, ago, steps } from "../lib/format.js";

const bootEl = document.getElementById("comments-boot");
const boot = bootEl ? JSON.parse(bootEl.textContent) : null;
const list = document.getElementById("comment-list");
const form = document.getElementById("comment-form");
const byId = new Map(); // id -> comment payload, as last drawn
const stepListeners = [];

/** Call `listener(steps)` with the steps of the thread's comments, now and on change. */
export function onSteps(listener) {
  stepListeners.push(listener);
  listener(commentSteps());
}

function commentSteps() {
  return [...new Set([...byId.values()].map((c) => c.step).filter((s) => s !== null))].sort((a, b) => a - b);
}

function csrfToken() {
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

async function send(url, method, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({ detail: `The server answered ${response.status}.` }));
  return { ok: response.ok, data };
}

function errorText(value) {
  if (Array.isArray(value)) return value.map(errorText).join(" ");
  if (value && typeof value === "object") return Object.values(value).map(errorText).join(" ");
  return String(value ?? "");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function mayEdit(comment) {
  return boot.mayComment && comment.author !== null && comment.author === boot.me;
}

function mayDelete(comment) {
  return mayEdit(comment) || boot.isAdmin;
}

function render(comment) {
  const item = el("li", "comment");
  item.id = `comment-${comment.id}`;
  item.dataset.id = comment.id;
  const name = comment.author ?? "deleted user";
  item.append(el("span", "comment__avatar", name.slice(0, 1).toUpperCase()));
  item.firstChild.setAttribute("aria-hidden", "true");
  const main = el("div", "comment__main");
  const head = el("div", "comment__head");
  head.append(el("strong", "comment__author", name));
  const time = el("time", "comment__time muted small", ago(comment.created_at));
  time.dateTime = comment.created_at;
  time.title = absolute(comment.created_at);
  head.append(time);
  if (comment.step !== null) head.append(el("span", "comment__step small", `at step ${steps(comment.step)}`));
  if (comment.edited_at) head.append(el("span", "muted small", "edited"));
  const actions = el("span", "comment__actions");
  if (mayEdit(comment)) actions.append(Object.assign(el("button", "link-btn", "Edit"), { type: "button", value: "edit" }));
  if (mayDelete(comment)) actions.append(Object.assign(el("button", "link-btn", "Delete"), { type: "button", value: "delete" }));
  head.append(actions);
  const body = el("div", "comment__body notes");
  // `html` is the server's escaped markdown: only fixed tags, never input markup.
  body.innerHTML = comment.html;
  main.append(head, body);
  item.append(main);
  return item;
}

function showCount() {
  const steps = commentSteps();
  for (const listener of stepListeners) listener(steps);
  const count = byId.size;
  document.getElementById("comments-count").textContent = count ? `${count}` : "";
  document.getElementById("comments-empty").hidden = count > 0;
}

function upsert(comment) {
  const old = byId.get(comment.id);
  if (old && old.edited_at === comment.edited_at && old.body === comment.body) return false;
  byId.set(comment.id, comment);
  const node = render(comment);
  const existing = document.getElementById(`comment-${comment.id}`);
  if (existing) {
    if (existing.querySelector(".comment-edit")) return true; // being edited here: keep the form
    existing.replaceWith(node);
  } else {
    // Keep the thread in creation order (a late push may arrive after a newer one).
    const after = [...list.children].find((li) => Number(li.dataset.id) > comment.id);
    list.insertBefore(node, after ?? null);
  }
  showCount();
  return true;
}

function remove(id) {
  if (!byId.delete(id)) return false;
  document.getElementById(`comment-${id}`)?.remove();
  showCount();
  return true;
}

function openEditor(item) {
  const comment = byId.get(Number(item.dataset.id));
  const body = item.querySelector(".comment__body");
  const editor = el("form", "comment-edit");
  const area = el("textarea");
  area.value = comment.body;
  area.setAttribute("aria-label", "Edit the comment");
  area.maxLength = 10000;
  const error = el("span", "field-error");
  error.setAttribute("role", "alert");
  const save = Object.assign(el("button", "btn btn--primary", "Save"), { type: "submit" });
  const cancel = Object.assign(el("button", "btn", "Cancel"), { type: "button" });
  const row = el("div", "comment-form__row");
  row.append(save, cancel, error);
  editor.append(area, row);
  body.hidden = true;
  body.after(editor);
  area.focus();
  const close = () => {
    editor.remove();
    body.hidden = false;
    const latest = byId.get(comment.id);
    if (latest) item.replaceWith(render(latest));
  };
  cancel.addEventListener("click", close);
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      const { ok, data } = await send(jobCommentUrl(boot.uid, comment.id), "PATCH", { body: area.value });
      if (!ok) {
        error.textContent = errorText(data);
        return;
      }
      byId.set(data.id, data);
      close();
    } catch {
      error.textContent = "Could not reach the server; your text is still here, try again.";
    } finally {
      save.disabled = false;
    }
  });
}

async function deleteComment(item) {
  const id = Number(item.dataset.id);
  if (!window.confirm("Delete this comment?")) return;
  const { ok, data } = await send(jobCommentUrl(boot.uid, id), "DELETE");
  if (ok || data.detail?.startsWith?.("No comment")) remove(id);
}

/** A `comment` or `comment_deleted` push. */
export function apply(msg) {
  if (!boot) return;
  if (msg.type === "comment") upsert(msg.comment);
  else remove(msg.id);
}

/** Read the thread again (polling, and after the socket was down): how many changed. */
export async function poll() {
  if (!boot) return 0;
  const comments = await getJSON(jobCommentsUrl(boot.uid));
  let changed = 0;
  const seen = new Set();
  for (const comment of comments) {
    seen.add(comment.id);
    if (upsert(comment)) changed += 1;
  }
  for (const id of [...byId.keys()]) if (!seen.has(id) && remove(id)) changed += 1;
  return changed;
}

// --- share links (editors) -----------------------------------------------------------

const shareForm = document.getElementById("share-form");

function shareRow(link) {
  const row = el("tr");
  row.dataset.id = link.id;
  if (!link.active) row.className = "is-inactive";
  const created = el("td", "", ago(link.created_at));
  created.title = absolute(link.created_at);
  const expires = el("td", "", link.active ? absolute(link.expires_at) : "ended");
  row.append(el("td", "", link.created_by ?? "—"), created, expires, el("td", "", link.last_used_at ? ago(link.last_used_at) : "never"));
  const actions = el("td");
  if (link.active) {
    const revoke = Object.assign(el("button", "btn btn--ghost", "Revoke"), { type: "button" });
    revoke.dataset.revoke = link.id;
    actions.append(revoke);
  }
  row.append(actions);
  return row;
}

async function reloadShareLinks() {
  const links = await getJSON(jobShareLinksUrl(boot.uid));
  const rows = document.getElementById("share-rows");
  if (!links.length) {
    const empty = el("tr", "share-table__empty");
    const cell = el("td", "muted", "No links yet.");
    cell.colSpan = 5;
    empty.append(cell);
    rows.replaceChildren(empty);
  } else {
    rows.replaceChildren(...links.map(shareRow));
  }
}

if (shareForm) {
  shareForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("share-error");
    error.textContent = "";
    const days = Number(shareForm.elements.expires_in_days.value);
    const { ok, data } = await send(jobShareLinksUrl(boot.uid), "POST", { expires_in_days: days });
    if (!ok) {
      error.textContent = errorText(data);
      return;
    }
    const input = document.getElementById("share-url");
    input.value = new URL(data.url, location.origin).href;
    document.getElementById("share-created").hidden = false;
    input.select();
    await reloadShareLinks();
  });
  document.getElementById("share-rows").addEventListener("click", async (event) => {
    const button = event.target.closest("[data-revoke]");
    if (!button) return;
    button.disabled = true;
    await send(shareLinkUrl(button.dataset.revoke), "DELETE");
    await reloadShareLinks();
  });
  shareForm.dataset.ready = "true";
}

// --- the thread ------------------------------------------------------------------------

if (boot) {
  for (const comment of boot.comments) upsert(comment);
  showCount();
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[value]");
    if (!button) return;
    const item = button.closest(".comment");
    if (button.value === "edit") openEditor(item);
    else if (button.value === "delete") deleteComment(item);
  });
  if (location.hash.startsWith("#comment-")) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

if (form) {
  const bodyError = document.getElementById("comment-body-error");
  const stepError = document.getElementById("comment-step-error");
  const formError = document.getElementById("comment-error");
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    bodyError.textContent = stepError.textContent = formError.textContent = "";
    const body = { body: form.elements.body.value };
    const stepText = form.elements.step.value.trim();
    if (stepText) body.step = Number(stepText);
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const { ok, data } = await send(jobCommentsUrl(boot.uid), "POST", body);
      if (!ok) {
        bodyError.textContent = errorText(data.body);
        stepError.textContent = errorText(data.step);
        formError.textContent = errorText(data.detail);
        return;
      }
      upsert(data);
      form.reset();
    } catch {
      formError.textContent = "Could not reach the server; your text is still here, try again.";
    } finally {
      submit.disabled = false;
    }
  });
  form.dataset.ready = "true";
}
