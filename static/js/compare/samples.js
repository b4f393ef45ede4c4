// The same prompt's outputs side by side across the compared jobs, at a chosen step:
// each job shows its output at the latest step at or before it (jobs evaluate at their
// own steps). Prompts come from each job's prompt list, those every job has first; a
// job's outputs of a prompt are read when the prompt is picked.

import { getJSON, jobUrl } from "../lib/api.js";
import { steps as fmtSteps } from "../lib/format.js";
import { boot } from "./boot.js";

const section = document.getElementById("compare-samples");
const promptSelect = document.getElementById("cmp-sample-prompt");
const stepSelect = document.getElementById("cmp-sample-step");
const columns = document.getElementById("cmp-samples");
const LATEST = "latest";
const outputs = new Map(); // `${uid} ${hash}` -> samples in step order
let prompts = []; // [{prompt_hash, prompt, jobs: Set(uid)}]

async function readOutputs(uid, hash) {
  const key = `${uid} ${hash}`;
  if (outputs.has(key)) return outputs.get(key);
  const found = [];
  let url = `${jobUrl(uid)}/samples?prompt_hash=${hash}&limit=1000`;
  while (url) {
    const page = await getJSON(url);
    found.push(...page.results);
    url = page.next;
  }
  outputs.set(key, found);
  return found;
}

/** The sample of `list` (in step order) at the greatest step at or before `step`. */
function atStep(list, step) {
  if (step === LATEST) return list[list.length - 1] ?? null;
  let chosen = null;
  for (const sample of list) {
    if (sample.step > Number(step)) break;
    chosen = sample;
  }
  return chosen;
}

function column(job, index, sample) {
  const div = document.createElement("div");
  div.className = "cmp-sample";
  div.dataset.job = job.uid;
  const head = document.createElement("div");
  head.className = "swatch-name";
  head.dataset.cmp = String(index + 1);
  const swatch = document.createElement("i");
  swatch.className = "swatch";
  swatch.setAttribute("aria-hidden", "true");
  const name = document.createElement("a");
  name.href = job.url;
  name.textContent = job.name;
  head.append(swatch, name);
  const step = document.createElement("span");
  step.className = "muted small num cmp-sample__step";
  step.textContent = sample ? `step ${fmtSteps(sample.step)}` : "no output yet";
  const text = document.createElement("pre");
  text.className = "samples-text";
  text.textContent = sample ? sample.output : "";
  div.append(head, step, text);
  return div;
}

async function render() {
  const hash = promptSelect.value;
  if (!hash) return;
  const lists = await Promise.all(boot.jobs.map((job) => readOutputs(job.uid, hash)));
  if (promptSelect.value !== hash) return; // another prompt was picked meanwhile
  const allSteps = [...new Set(lists.flat().map((s) => s.step))].sort((a, b) => a - b);
  const chosen = stepSelect.value || LATEST;
  stepSelect.replaceChildren(new Option("Latest of each", LATEST), ...allSteps.map((s) => new Option(fmtSteps(s), String(s))));
  stepSelect.value = allSteps.map(String).includes(chosen) ? chosen : LATEST;
  columns.replaceChildren(...boot.jobs.map((job, index) => column(job, index, atStep(lists[index], stepSelect.value))));
}

export async function load() {
  if (!section) return;
  const lists = await Promise.all(
    boot.jobs.map((job) => getJSON(`${jobUrl(job.uid)}/samples/prompts`).then((d) => d.prompts, () => [])),
  );
  const byHash = new Map();
  lists.forEach((list, index) => {
    for (const p of list) {
      if (!byHash.has(p.prompt_hash)) byHash.set(p.prompt_hash, { ...p, jobs: new Set() });
      byHash.get(p.prompt_hash).jobs.add(boot.jobs[index].uid);
    }
  });
  // Prompts every job answered first, then the others, each in first-logged order.
  const everyone = boot.jobs.length;
  prompts = [...byHash.values()].sort((a, b) => (b.jobs.size === everyone) - (a.jobs.size === everyone));
  if (!prompts.length) return;
  promptSelect.replaceChildren(
    ...prompts.map((p) => {
      const text = p.prompt.replace(/\s+/g, " ").trim();
      const label = `${text.length > 90 ? `${text.slice(0, 89)}…` : text}${p.jobs.size < everyone ? ` (${p.jobs.size} of ${everyone} jobs)` : ""}`;
      return new Option(label, p.prompt_hash);
    }),
  );
  section.hidden = false;
  await render();
  section.dataset.state = "ready";
}

if (section) {
  promptSelect.addEventListener("change", () => render());
  stepSelect.addEventListener("change", () => render());
}
