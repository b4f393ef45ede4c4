// Open alerts: the diagnostic findings the server raised for this job, critical first.

import { setText } from "../lib/format.js";

function renderAlerts(findings) {
  const panel = document.getElementById("alerts-panel");
  if (!panel) return;
  const list = document.getElementById("alerts-list");
  const sorted = [...findings].sort((a, b) => (a.severity === "critical" ? 0 : 1) - (b.severity === "critical" ? 0 : 1));
  list.replaceChildren(
    ...sorted.map((finding) => {
      const details = document.createElement("details");
      details.className = "alert";
      details.dataset.code = finding.code;
      details.dataset.severity = finding.severity;
      const summary = document.createElement("summary");
      const severity = Object.assign(document.createElement("span"), { className: "severity", textContent: finding.severity });
      const title = Object.assign(document.createElement("strong"), { textContent: finding.title });
      const text = Object.assign(document.createElement("span"), { className: "muted small", textContent: finding.summary || "" });
      summary.append(severity, title, text);
      details.append(summary);
      if (finding.suggested_fixes?.length) {
        const ul = document.createElement("ul");
        ul.className = "checklist";
        for (const fix of finding.suggested_fixes) ul.append(Object.assign(document.createElement("li"), { textContent: fix }));
        details.append(ul);
      }
      return details;
    }),
  );
  setText(document.getElementById("alerts-count"), `${sorted.length} open alert${sorted.length === 1 ? "" : "s"}`);
  panel.hidden = sorted.length === 0;
}

/** An `alerts` push. */
export function apply(msg) {
  renderAlerts(msg.findings || []);
}
