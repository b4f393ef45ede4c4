// /settings/alerts: the rule form shows the inputs of the chosen condition type and
// previews the rule as a sentence ("val/loss > 2 for 3 points"), as the server words it
// (jobs/models/rules.py condition_words).

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";

const form = document.getElementById("rule-form");

function value(name) {
  return (form.elements[name]?.value || "").trim();
}

function sentence(type) {
  const key = value("key") || "…";
  switch (type) {
    case "event": {
      const events = [...form.querySelectorAll("input[name=events]:checked")].map((input) => input.value);
      return `job ${events.join(" or ") || "…"}`;
    }
    case "threshold": {
      const points = Number(value("for_points") || 1);
      return `${key} ${value("op")} ${value("value") || "…"}${points > 1 ? ` for ${points} points` : ""}`;
    }
    case "stall":
      return `no heartbeat for ${value("minutes") || "…"} min`;
    case "no_improvement":
      return `${key} not ${value("mode") === "max" ? "higher" : "lower"} than its best for ${value("evaluations") || "…"} evaluations`;
    case "nan":
      return `${key} is NaN or infinite`;
    case "throughput":
      return `throughput below ${value("below") || "…"} steps/s for ${value("minutes") || "…"} min`;
    case "finding":
      return `finding: ${value("kinds") || "…"}`;
    default:
      return "";
  }
}

function update() {
  const type = value("type");
  for (const el of form.querySelectorAll("[data-for]")) {
    el.hidden = !el.dataset.for.split(" ").includes(type);
  }
  const scope = [value("scope_job") && `job ${value("scope_job")}`, value("scope_tag") && `#${value("scope_tag")}`, value("scope_model") && `model ${value("scope_model")}`].filter(Boolean);
  const action = value("action_kind") === "stop" ? ", then stop the job" : "";
  document.getElementById("rule-preview").textContent = `${sentence(type)} on ${scope.join(", ") || "any of your jobs"}${action}`;
}

if (form) {
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
  const sheet = document.getElementById("rule-sheet");
  document.getElementById("new-rule-link")?.addEventListener("click", (event) => {
    event.preventDefault();
    sheet.dataset.open = "true";
    form.elements.name.focus();
  });
}
