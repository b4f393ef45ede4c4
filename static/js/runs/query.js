// The query box: submitting reopens the table; while typing, the query is checked by the
// API (/api/query/check, debounced) and a syntax error is underlined where it starts, with
// the server's message below, before the reader submits.

import { getJSON } from "../lib/api.js";
import { navigate } from "./state.js";

const input = document.getElementById("query");
const box = document.getElementById("query-error");
const text = document.getElementById("query-error-text");
const message = document.getElementById("query-error-message");

function showError(query, detail) {
  const position = Number.isInteger(detail.position) ? detail.position : null;
  message.textContent = (detail.query || [])[0] || "This query cannot be read.";
  text.replaceChildren();
  if (position !== null) {
    let end = position;
    while (end < query.length && !/\s/.test(query[end])) end += 1;
    const at = document.createElement("span");
    at.className = "query-error__at";
    at.textContent = end > position ? query.slice(position, end) : "\u00a0";
    text.append(query.slice(0, position), at, query.slice(end));
    text.hidden = false;
  } else {
    text.hidden = true;
  }
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", "query-error");
}

function clearError() {
  box.hidden = true;
  input.removeAttribute("aria-invalid");
  input.removeAttribute("aria-describedby");
}

let checking = 0;

async function check() {
  const query = input.value;
  const mine = ++checking;
  if (!query.trim()) {
    clearError();
    return;
  }
  try {
    const answer = await getJSON(`/api/query/check?${new URLSearchParams({ query })}`);
    if (mine !== checking) return;
    if (answer.valid) clearError();
    else showError(query, answer);
  } catch {
    /* offline: the server checks it on submit */
  }
}

export function setup() {
  const form = document.getElementById("runs-form");
  let timer = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate({ query: input.value.trim(), group: form.elements.group.value });
  });
  form.elements.group.addEventListener("change", () => {
    navigate({ query: input.value.trim(), group: form.elements.group.value });
  });
}
