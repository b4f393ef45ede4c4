// The samples panel: what the model generated on fixed prompts as it learned. It opens
// on the prompt list (one row per prompt) and reads only the selected prompt's outputs;
// "All prompts" reads one step's outputs a page at a time. A step slider walks through
// the outputs, a word diff compares any two steps (first and latest by default), the
// reference sits beside the output, scores are charted by step. `samples` pushes say
// which prompts got outputs at which steps; the panel reads the new ones it shows.

import { LineChart } from "../charts/line.js";
import { getJSON, jobUrl } from "../lib/api.js";
import { setText, steps as fmtSteps } from "../lib/format.js";
import { diffStats, wordDiff } from "../lib/worddiff.js";
import { uid } from "./boot.js";

const panel = document.getElementById("samples-panel");
const $ = (id) => document.getElementById(id);
const PAGE = 200; // outputs of one prompt per read
const ALL_PAGE = 50; // prompts' outputs per read in the "all prompts" view
const PREVIEW = 90; // characters of a prompt in the picker

const state = {
  prompts: new Map(), // prompt_hash -> {prompt_hash, prompt, samples, first_step, last_step, scored, has_reference}
  steps: [], // every step with samples, ascending
  meanScores: [], // [[step, mean]], read only for "All prompts"
  scoresStale: true,
  selected: null, // a prompt_hash, or "" for all prompts
  outputs: new Map(), // prompt_hash -> samples in step order (those read)
  stepIndex: 0, // position of the slider
  allNext: null, // the "all prompts" view's next page
  diffChosen: false, // the reader picked the diff's steps
};
let scoreChart = null;
let meanChart = null;
let refreshTimer = 0;
let refreshing = null;

const samplesUrl = (query) => `${jobUrl(uid)}/samples?${query}`;

function preview(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > PREVIEW ? `${line.slice(0, PREVIEW - 1)}…` : line;
}

// --- reads --------------------------------------------------------------------------

async function readPrompts() {
  const data = await getJSON(`${jobUrl(uid)}/samples/prompts`);
  state.prompts = new Map(data.prompts.map((p) => [p.prompt_hash, p]));
  state.steps = data.steps;
  state.scoresStale = true; // read again when "All prompts" shows them
}

async function readMeanScores() {
  state.scoresStale = false;
  state.meanScores = (await getJSON(`${jobUrl(uid)}/samples/scores`)).scores;
}

/** The selected prompt's outputs after the last one read (all of them the first time). */
async function readOutputs(hash) {
  const known = state.outputs.get(hash) || [];
  const since = known.length ? `&since_step=${known[known.length - 1].step}` : "";
  let url = samplesUrl(`prompt_hash=${hash}&limit=${PAGE}${since}`);
  const added = [];
  while (url) {
    const page = await getJSON(url);
    added.push(...page.results);
    url = page.next;
  }
  state.outputs.set(hash, [...known, ...added]);
  return added.length;
}

// --- rendering ----------------------------------------------------------------------

function renderPicker() {
  const select = $("samples-prompt");
  const wanted = ["", ...state.prompts.keys()];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join("\n") !== have.join("\n")) {
    const options = [new Option(`All prompts (${state.prompts.size})`, "")];
    for (const p of state.prompts.values()) options.push(new Option(preview(p.prompt), p.prompt_hash));
    select.replaceChildren(...options);
  } else {
    setText(select.options[0], `All prompts (${state.prompts.size})`);
  }
  select.value = state.selected ?? "";
}

function sliderSteps() {
  if (state.selected) return (state.outputs.get(state.selected) || []).map((s) => s.step);
  return state.steps;
}

function renderSlider(follow) {
  const list = sliderSteps();
  const slider = $("samples-step");
  const wasLast = Number(slider.value) >= Number(slider.max);
  slider.max = String(Math.max(0, list.length - 1));
  if (follow && wasLast) state.stepIndex = list.length - 1;
  state.stepIndex = Math.min(Math.max(0, state.stepIndex), Math.max(0, list.length - 1));
  slider.value = String(state.stepIndex);
  slider.disabled = list.length < 2;
  $("samples-steps").hidden = list.length === 0;
  const step = list[state.stepIndex];
  setText($("samples-step-label"), step === undefined ? "—" : fmtSteps(step));
  slider.setAttribute("aria-valuetext", step === undefined ? "" : `step ${step}`);
  setText($("samples-step-range"), list.length ? `${list.length} step${list.length === 1 ? "" : "s"} · ${fmtSteps(list[0])}–${fmtSteps(list[list.length - 1])}` : "");
}

function renderDiffSelects(outputs, follow) {
  const from = $("samples-diff-from");
  const to = $("samples-diff-to");
  const values = outputs.map((s) => String(s.step));
  const toWasLast = to.value === "" || to.selectedIndex === to.options.length - 1;
  if ([...from.options].map((o) => o.value).join(",") !== values.join(",")) {
    const keepFrom = from.value;
    const keepTo = to.value;
    from.replaceChildren(...outputs.map((s) => new Option(fmtSteps(s.step), String(s.step))));
    to.replaceChildren(...outputs.map((s) => new Option(fmtSteps(s.step), String(s.step))));
    from.value = state.diffChosen && values.includes(keepFrom) ? keepFrom : values[0] ?? "";
    to.value = state.diffChosen && values.includes(keepTo) && !(follow && toWasLast) ? keepTo : values[values.length - 1] ?? "";
  }
}

function renderDiff(outputs) {
  const byStep = new Map(outputs.map((s) => [String(s.step), s]));
  const a = byStep.get($("samples-diff-from").value);
  const b = byStep.get($("samples-diff-to").value);
  const box = $("samples-diff");
  if (!a || !b) {
    box.replaceChildren();
    setText($("samples-diff-stats"), "");
    return;
  }
  const ops = wordDiff(a.output, b.output);
  box.replaceChildren(
    ...ops.map(({ op, text }) => {
      if (op === "eq") return document.createTextNode(text);
      const el = document.createElement(op === "del" ? "del" : "ins");
      el.className = op === "del" ? "diff-del" : "diff-ins";
      el.textContent = text;
      return el;
    }),
  );
  const { removed, added } = diffStats(ops);
  setText($("samples-diff-stats"), a === b ? "the same step" : `−${removed} +${added} words`);
}

function chartScores(which, canvasId, boxId, points) {
  const box = $(boxId);
  box.hidden = points.length === 0;
  if (!points.length) return which;
  let chart = which;
  if (!chart) {
    chart = new LineChart($(canvasId), { series: [{ id: "score", label: "score", color: "accent" }] });
  }
  chart.setPoints("score", points);
  return chart;
}

function renderOne(follow) {
  const outputs = state.outputs.get(state.selected) || [];
  const prompt = state.prompts.get(state.selected);
  $("samples-one").hidden = false;
  $("samples-all").hidden = true;
  renderSlider(follow);
  const current = outputs[state.stepIndex];
  setText($("samples-prompt-text"), current ? current.prompt : prompt?.prompt ?? "");
  setText($("samples-output-step"), current ? fmtSteps(current.step) : "—");
  setText($("samples-output"), current ? current.output : "");
  const reference = current?.reference ?? outputs.find((s) => s.reference)?.reference ?? null;
  $("samples-reference-box").hidden = !reference;
  setText($("samples-reference"), reference ?? "");
  renderDiffSelects(outputs, follow);
  renderDiff(outputs);
  const scored = outputs.filter((s) => s.score !== null && s.score !== undefined).map((s) => [s.step, s.score]);
  scoreChart = chartScores(scoreChart, "samples-score-chart", "samples-score", scored);
}

function sampleItem(sample) {
  const li = document.createElement("li");
  li.className = "samples-item";
  li.dataset.prompt = sample.prompt_hash;
  const head = document.createElement("button");
  head.type = "button";
  head.className = "link-btn samples-item__prompt";
  head.textContent = preview(sample.prompt);
  head.title = "Show this prompt's outputs over the steps";
  head.addEventListener("click", () => select(sample.prompt_hash));
  const output = document.createElement("pre");
  output.className = "samples-text";
  output.textContent = sample.output;
  li.append(head, output);
  if (sample.score !== null && sample.score !== undefined) {
    const score = document.createElement("span");
    score.className = "muted small num";
    score.textContent = `score ${sample.score}`;
    li.append(score);
  }
  return li;
}

async function renderAll(follow) {
  $("samples-one").hidden = true;
  $("samples-all").hidden = false;
  renderSlider(follow);
  if (state.scoresStale) await readMeanScores();
  if (state.selected !== "") return; // another prompt was picked meanwhile
  meanChart = chartScores(meanChart, "samples-mean-chart", "samples-mean-score", state.meanScores);
  const step = state.steps[state.stepIndex];
  const list = $("samples-list");
  if (step === undefined) {
    list.replaceChildren();
    $("samples-more").hidden = true;
    return;
  }
  if (list.dataset.step === String(step) && !follow) return;
  const page = await getJSON(samplesUrl(`step=${step}&limit=${ALL_PAGE}`));
  if (state.selected !== "" || state.steps[state.stepIndex] !== step) return; // moved on meanwhile
  list.dataset.step = String(step);
  list.replaceChildren(...page.results.map(sampleItem));
  state.allNext = page.next;
  $("samples-more").hidden = !page.next;
}

async function render(follow = false) {
  const empty = state.prompts.size === 0;
  $("samples-empty").hidden = !empty;
  renderPicker();
  setText($("samples-hint"), empty ? "" : `${state.prompts.size} prompt${state.prompts.size === 1 ? "" : "s"} · ${state.steps.length} step${state.steps.length === 1 ? "" : "s"}`);
  if (empty) {
    $("samples-one").hidden = true;
    $("samples-all").hidden = true;
    $("samples-steps").hidden = true;
    return;
  }
  if (state.selected) renderOne(follow);
  else await renderAll(follow);
}

async function select(hash) {
  state.selected = hash;
  state.diffChosen = false;
  if (hash && !state.outputs.has(hash)) await readOutputs(hash);
  state.stepIndex = sliderSteps().length - 1; // a prompt opens on its latest output
  await render();
}

// --- events -------------------------------------------------------------------------

if (panel) {
  $("samples-prompt").addEventListener("change", (event) => select(event.target.value));
  $("samples-step").addEventListener("input", (event) => {
    state.stepIndex = Number(event.target.value);
    render();
  });
  for (const id of ["samples-diff-from", "samples-diff-to"]) {
    $(id).addEventListener("change", () => {
      state.diffChosen = true;
      renderDiff(state.outputs.get(state.selected) || []);
    });
  }
  $("samples-more").addEventListener("click", async () => {
    if (!state.allNext) return;
    const page = await getJSON(state.allNext);
    $("samples-list").append(...page.results.map(sampleItem));
    state.allNext = page.next;
    $("samples-more").hidden = !page.next;
  });
}

/** The first read: the prompt list, then the first prompt's outputs. */
export async function load() {
  if (!panel) return;
  try {
    await readPrompts();
    const first = state.prompts.keys().next().value;
    state.selected = first ?? "";
    if (first) await readOutputs(first);
    state.stepIndex = sliderSteps().length - 1;
    await render();
  } finally {
    panel.dataset.state = "ready";
    performance.mark("tb:samples-ready"); // for profiles and bench/bench_samples.py
  }
}

/** Read what changed: the prompt list and the selected prompt's new outputs. Returns
 * the number of new outputs of the selected prompt (or of new steps in "all"). */
async function refresh() {
  const stepsBefore = state.steps.length;
  await readPrompts();
  let added = state.steps.length - stepsBefore;
  if (state.selected === null || (state.selected === "" && state.prompts.size && stepsBefore === 0)) {
    state.selected = state.prompts.keys().next().value ?? "";
  }
  if (state.selected) added = await readOutputs(state.selected);
  await render(true);
  return added;
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshing = (refreshing || Promise.resolve()).then(refresh).catch(() => 0);
  }, 50);
}

/** A `samples` push: new outputs exist; read those the panel shows. */
export function apply(msg) {
  if (!panel || !msg.samples?.length) return;
  refreshSoon();
}

/** Polling (no socket): the same reads as after a push. */
export async function poll() {
  if (!panel || panel.dataset.state !== "ready") return 0;
  return refresh();
}
