// The pipeline: one row per stage with its status, time and, while active, progress.

import { duration, setText } from "../lib/format.js";
import { boot } from "./boot.js";

const stageInfo = new Map(boot.stages.map((s) => [s.name, s]));

const STAGE_ICONS = {
  completed:
    '<svg viewBox="0 0 12 12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M2.5 6.2l2.3 2.3 4.7-5"/></svg>',
  failed:
    '<svg viewBox="0 0 12 12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M3.5 3.5l5 5M8.5 3.5l-5 5"/></svg>',
};

function stageDuration(stage) {
  if (!stage.started_at) return null;
  const end = stage.finished_at ? new Date(stage.finished_at) : new Date();
  return Math.max(0, (end - new Date(stage.started_at)) / 1000);
}

/** Show `stage` (a stage payload) in its row of the pipeline. */
export function render(stage) {
  stageInfo.set(stage.name, stage);
  const li = document.querySelector(`.stage[data-stage="${stage.name}"]`);
  if (!li) return;
  if (li.dataset.status !== stage.status) {
    li.dataset.status = stage.status;
    li.querySelector(".stage__icon").innerHTML = STAGE_ICONS[stage.status] || "";
    setText(li.querySelector('[data-f="status-text"]'), `(${stage.status})`);
  }
  const d = stageDuration(stage);
  setText(li.querySelector('[data-f="time"]'), stage.status === "skipped" ? "skipped" : d === null ? "" : duration(d));
  const detail = li.querySelector('[data-f="detail"]');
  if (stage.status === "active") {
    let bar = detail.querySelector(".progress__bar");
    if (!bar) {
      detail.innerHTML = '<span class="num"></span><div class="progress"><div class="progress__bar"></div></div>';
      bar = detail.querySelector(".progress__bar");
    }
    const text = `${Math.round(stage.progress)}%${stage.message ? ` · ${stage.message}` : ""}`;
    setText(detail.querySelector("span"), text);
    bar.style.width = `${stage.progress}%`;
  } else if (stage.status === "failed" && stage.message) {
    const text = stage.message.length > 90 ? `${stage.message.slice(0, 89)}…` : stage.message;
    detail.replaceChildren(Object.assign(document.createElement("span"), { textContent: text, title: stage.message }));
  } else {
    detail.replaceChildren();
  }
}

/** A `stage` push. */
export function apply(msg) {
  render(msg.stage);
}

/** Once a second: the running time of active stages. */
export function tick() {
  for (const stage of stageInfo.values()) if (stage.status === "active") render(stage);
}
