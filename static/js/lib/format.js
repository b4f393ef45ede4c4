// Display formats shared by every page; the same as jobs/templatetags/tuneboard.py.

const NON_FINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** A metric value from JSON: numbers as they are, "NaN"/"Infinity" strings as floats. */
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value in NON_FINITE) return NON_FINITE[value];
  if (value === null || value === undefined) return NaN;
  return Number(value);
}

export function metric(value) {
  if (value === null || value === undefined || value === "") return "—";
  const v = toNumber(value);
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v === 0) return "0";
  const m = Math.abs(v);
  if (m >= 1e5 || m < 1e-3) return v.toExponential(2).replace("e+", "e+").replace(/e([+-])(\d)$/, "e$10$2");
  if (m >= 1) return String(Number(v.toPrecision(4)));
  return v.toFixed(4).replace(/\.?0+$/, "");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${pad(m)}m`;
  if (m) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

export function compact(value) {
  if (value === null || value === undefined) return "—";
  for (const [limit, suffix] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (Math.abs(value) >= limit) return `${Number((value / limit).toFixed(1))}${suffix}`;
  }
  return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(1);
}

// Formatters are built once: toLocaleString/toLocaleTimeString build one per call, which
// showed in the job page's profile (chart ticks format dozens of values per redraw).
const STEPS_FORMAT = new Intl.NumberFormat("en-US");
const CLOCK_FORMAT = new Intl.DateTimeFormat("en-GB", { hour12: false, hour: "numeric", minute: "numeric", second: "numeric" });

export function steps(value) {
  if (value === null || value === undefined) return "—";
  return STEPS_FORMAT.format(Math.round(value)).replaceAll(",", "\u2009");
}

export function ago(time, now = Date.now()) {
  if (!time) return "—";
  const seconds = (now - new Date(time).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function clock(time) {
  if (!time) return "";
  const d = time instanceof Date ? time : new Date(time);
  return CLOCK_FORMAT.format(d);
}

export function absolute(time) {
  return time ? new Date(time).toLocaleString() : "";
}

export function percent(value, digits = 0) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}%`;
}

/** `el.textContent = text` only when it changed, so live updates never thrash layout. */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}
