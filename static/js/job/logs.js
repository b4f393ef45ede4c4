// The log tail: lines appended as they arrive (at most MAX_LOG_LINES kept), following the
// end unless the reader scrolled up, filtered by level and text.

import { getJSON, jobLogsUrl } from "../lib/api.js";
import { clock, setText } from "../lib/format.js";
import { boot, uid } from "./boot.js";

const MAX_LOG_LINES = 3000;

let lastSeq = boot.lastSeq;

const logScroll = document.getElementById("log-scroll");
const logEmpty = document.getElementById("logs-empty");
const jumpButton = document.getElementById("log-jump");
const levelSelect = document.getElementById("log-level");
const logSearch = document.getElementById("log-search");
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
let stickToBottom = true;

function lineVisible(el) {
  const min = levelSelect.value;
  if (min && LEVELS.indexOf(el.dataset.level) < LEVELS.indexOf(min)) return false;
  const q = logSearch.value.trim().toLowerCase();
  return !q || el.querySelector(".log__msg").textContent.toLowerCase().includes(q);
}

function filterLogs() {
  for (const el of logScroll.querySelectorAll(".log")) el.hidden = !lineVisible(el);
  scrollLogsToEnd();
}

function logCount() {
  setText(document.getElementById("logs-count"), String(logScroll.querySelectorAll(".log").length));
}

function scrollLogsToEnd() {
  logScroll.scrollTop = logScroll.scrollHeight;
  stickToBottom = true;
  jumpButton.hidden = true;
}

function appendLogs(lines) {
  const fragment = document.createDocumentFragment();
  let added = 0;
  for (const line of lines) {
    if (lastSeq !== null && line.seq <= lastSeq) continue;
    lastSeq = line.seq;
    const el = document.createElement("div");
    el.className = "log";
    el.dataset.seq = line.seq;
    el.dataset.level = line.level;
    const time = document.createElement("span");
    time.className = "log__time";
    time.textContent = clock(line.time);
    time.title = line.time;
    const level = document.createElement("span");
    level.className = "log__level";
    level.textContent = line.level.slice(0, 4);
    const message = document.createElement("span");
    message.className = "log__msg";
    message.textContent = line.message;
    el.append(time, level, message);
    el.hidden = !lineVisible(el);
    fragment.append(el);
    added += 1;
  }
  if (!added) return 0;
  logScroll.insertBefore(fragment, logEmpty);
  logEmpty.hidden = true;
  const all = logScroll.querySelectorAll(".log");
  for (let i = 0; i < all.length - MAX_LOG_LINES; i += 1) all[i].remove();
  logCount();
  if (stickToBottom) logScroll.scrollTop = logScroll.scrollHeight;
  else jumpButton.hidden = false;
  return added;
}

/** The lines after the last one shown; resolves to how many there were. */
export async function poll() {
  const after = lastSeq === null ? "" : `&after_seq=${lastSeq}`;
  const data = await getJSON(jobLogsUrl(uid, `limit=1000${after}`));
  return appendLogs(data.lines);
}

logScroll.addEventListener("scroll", () => {
  const atBottom = logScroll.scrollHeight - logScroll.scrollTop - logScroll.clientHeight < 24;
  stickToBottom = atBottom;
  if (atBottom) jumpButton.hidden = true;
});
jumpButton.addEventListener("click", scrollLogsToEnd);
levelSelect.addEventListener("change", filterLogs);
logSearch.addEventListener("input", filterLogs);
document.getElementById("log-clear").addEventListener("click", () => {
  for (const el of logScroll.querySelectorAll(".log")) el.remove();
  logEmpty.hidden = false;
  logEmpty.textContent = "Cleared. New lines appear here.";
  logCount();
});
const logsToggle = document.getElementById("logs-toggle");
logsToggle.addEventListener("click", () => {
  const panel = document.getElementById("logs-panel");
  const collapsed = panel.dataset.collapsed !== "true";
  panel.dataset.collapsed = String(collapsed);
  logsToggle.setAttribute("aria-expanded", String(!collapsed));
  if (!collapsed) scrollLogsToEnd();
});
for (const el of logScroll.querySelectorAll(".log__time")) el.textContent = clock(el.dataset.time);
scrollLogsToEnd();

/** A `logs` push. */
export function apply(msg) {
  appendLogs(msg.lines);
}
