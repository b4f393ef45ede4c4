// Grouped compare charts: the jobs of each group (same model, same tags or the same value
// of a config key) drawn as one mean line with a band of ± one standard deviation.
// Jobs log at different steps (and downsampled series keep different ones), so each
// job's series is read at every x any job of the group logged, interpolated linearly
// between its own points and not at all outside its first and last x.

/** `{label, uids}` per group of `grouping` (`{uid: [label, ...]}`: a job with several
 * tags is in each tag's group), in the jobs' order. */
export function groupsOf(grouping, uids) {
  const groups = new Map();
  for (const uid of uids) {
    for (const label of grouping[uid] || []) {
      if (!groups.has(label)) groups.set(label, { label, uids: [] });
      groups.get(label).uids.push(uid);
    }
  }
  return [...groups.values()];
}

/** The finite `[x, value]` rows of `rows` ([x, value, ...], x ascending). */
function finite(rows) {
  const out = [];
  for (const row of rows) {
    const value = Number(row[1]);
    if (Number.isFinite(value)) out.push([row[0], value]);
  }
  return out;
}

/** `rows` read at `x`: exact, interpolated between neighbours, or null outside them. */
export function valueAt(rows, x) {
  if (!rows.length || x < rows[0][0] || x > rows[rows.length - 1][0]) return null;
  let lo = 0;
  let hi = rows.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (rows[mid][0] <= x) lo = mid;
    else hi = mid;
  }
  const [x0, y0] = rows[lo];
  if (x0 === x) return y0;
  const [x1, y1] = rows[hi];
  if (x1 === x) return y1;
  return y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
}

/**
 * One group's band: `[{x, mean, std, n}]` at every x any of `seriesList` logged, over
 * the jobs whose series covers that x. `std` is the sample standard deviation (n − 1;
 * 0 where a single job covers the x).
 */
export function bandRows(seriesList) {
  const all = seriesList.map(finite).filter((rows) => rows.length);
  const xs = [...new Set(all.flatMap((rows) => rows.map((row) => row[0])))].sort((a, b) => a - b);
  const out = [];
  for (const x of xs) {
    const values = [];
    for (const rows of all) {
      const value = valueAt(rows, x);
      if (value !== null) values.push(value);
    }
    const n = values.length;
    const mean = values.reduce((sum, v) => sum + v, 0) / n;
    const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
    out.push({ x, mean, std: Math.sqrt(variance), n });
  }
  return out;
}
