// The log tail: lines appended as they arrive (at most MAX_LOG_LINES kept), following the
// end unless the reader scrolled up, filtered by level and text. Lines are kept in seq
// order and each seq once: a line read after a later one was pushed (the catch-up after
// a reconnect) goes to its place, and a line both pushed and read is shown once.

import { getJSON, jobLogsUrl } from "../lib/api.js";
import { Cursors } from "../lib/catchup.js";
import { clock, setText } from "../lib/format.js";
import { boot, uid } from "./boot.js";

const MAX_LOG_LINES = 3000;
const PAGE_LINES = 1000;
const LOG = "log"; // the one key of this stream

// The server painted the newest lines up to boot.lastSeq: a read of them.
const cursors = new Cursors();
if (boot.lastSeq !== null && boot.lastSeq !== undefined) cursors.read(LOG, boot.lastSeq);
let lastSeq = boot.lastSeq; // the greatest seq shown or cleared
let clearedThrough = null; // lines up to this seq were cleared by the reader

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

function lineElement(line) {
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
  return el;
}

/** Index of the first of `shown` (in seq order) whose seq is at least `seq`. */
function seqIndex(shown, seq) {
  let lo = 0;
  let hi = shown.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Number(shown[mid].dataset.seq) < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Show `lines` (in seq order) that are not shown yet; resolves to how many were new. */
function appendLogs(lines) {
  const fragment = document.createDocumentFragment();
  let shown = null; // the lines on screen, read once when a line goes between them
  let added = 0;
  for (const line of lines) {
    if (clearedThrough !== null && line.seq <= clearedThrough) continue;
    if (lastSeq === null || line.seq > lastSeq) {
      lastSeq = line.seq;
      fragment.append(lineElement(line));
      added += 1;
      continue;
    }
    // An earlier seq than the newest shown: a line read back after later ones came.
    shown ||= [...logScroll.querySelectorAll(".log")];
    const at = seqIndex(shown, line.seq);
    if (at < shown.length && Number(shown[at].dataset.seq) === line.seq) continue;
    if (at === 0 && shown.length >= MAX_LOG_LINES) continue; // older than the kept tail
    const el = lineElement(line);
    logScroll.insertBefore(el, shown[at] || logEmpty);
    shown.splice(at, 0, el);
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

/** Every line after the last one read (page after page, until the API says no more
 * follow); `ticket` is LiveFeed's, for this read. Resolves to how many were new. */
export async function poll(ticket = null) {
  let after = cursors.from(LOG);
  let added = 0;
  for (;;) {
    const from = after === null ? "" : `&after_seq=${after}`;
    const data = await getJSON(jobLogsUrl(uid, `limit=${PAGE_LINES}${from}`));
    added += appendLogs(data.lines);
    if (data.lines.length) cursors.read(LOG, data.lines[data.lines.length - 1].seq);
    if (data.next_after_seq === null || data.next_after_seq === undefined) break;
    after = data.next_after_seq;
  }
  cursors.readDone(ticket);
  return added;
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
  clearedThrough = lastSeq;
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

/** A `logs` push, carried by the socket of `epoch`. */
export function apply(msg, epoch = null) {
  appendLogs(msg.lines);
  for (const line of msg.lines) cursors.pushed(LOG, line.seq, undefined, epoch);
}
