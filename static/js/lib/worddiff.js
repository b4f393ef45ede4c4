// A word-level diff of two texts: the longest common subsequence of their words (with
// the whitespace after each), common head and tail trimmed first so that long, mostly
// equal outputs stay cheap. Beyond MAX_CELLS of the LCS table the changed middle is
// shown as one deletion and one insertion rather than freezing the page.

const MAX_CELLS = 4_000_000;

/** The words (and runs of punctuation) of `text`, each with the whitespace after it. */
export function words(text) {
  return String(text ?? "").match(/\s+|[\p{L}\p{N}_'’-]+\s*|[^\p{L}\p{N}_\s]+\s*/gu) ?? [];
}

function push(ops, op, text) {
  const last = ops[ops.length - 1];
  if (last && last.op === op) last.text += text;
  else ops.push({ op, text });
}

/**
 * `[{op: "eq"|"del"|"ins", text}]` turning `before` into `after`, word by word.
 * Adjacent pieces of one kind are merged.
 */
export function wordDiff(before, after) {
  const a = words(before);
  const b = words(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const ops = [];
  if (head) push(ops, "eq", a.slice(0, head).join(""));
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const n = x.length;
  const m = y.length;
  if (n * m > MAX_CELLS) {
    if (n) push(ops, "del", x.join(""));
    if (m) push(ops, "ins", y.join(""));
  } else if (n || m) {
    // lengths[i * (m + 1) + j]: LCS of x[i:] and y[j:].
    const width = m + 1;
    const lengths = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        lengths[i * width + j] =
          x[i] === y[j] ? lengths[(i + 1) * width + j + 1] + 1 : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) {
        push(ops, "eq", x[i]);
        i += 1;
        j += 1;
      } else if (lengths[(i + 1) * width + j] >= lengths[i * width + j + 1]) {
        push(ops, "del", x[i]);
        i += 1;
      } else {
        push(ops, "ins", y[j]);
        j += 1;
      }
    }
    while (i < n) push(ops, "del", x[i++]);
    while (j < m) push(ops, "ins", y[j++]);
  }
  if (tail) push(ops, "eq", a.slice(a.length - tail).join(""));
  return ops;
}

/** Words removed and added in `ops` (punctuation not counted). */
export function diffStats(ops) {
  let removed = 0;
  let added = 0;
  for (const { op, text } of ops) {
    const count = words(text).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
    if (op === "del") removed += count;
    if (op === "ins") added += count;
  }
  return { removed, added };
}
