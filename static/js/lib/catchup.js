// Where a page's copy of a stream stands, so that what it missed is read back exactly.
//
// A stream (a job's metric series, its log lines, its resource samples) reaches the page
// two ways: reads of the API ("everything after position P") and pushes over the socket.
// Per key (a metric key; logs and samples have one), `seen` is the newest position the
// page holds and `known` the position up to which it cannot be missing anything; the
// next read asks for what comes after `known`.
//
// A read moves `known` to the newest position it returned. Pushes move it only while
// they continue the reads: pushes are not replayed, so those of a socket that has just
// connected follow a gap (whatever was stored while no socket carried it, and since the
// page's first read). They continue the reads once a read that started after the
// socket was confirmed has completed, that socket still open (LiveFeed's `ticket`):
// everything stored before that read is in it, everything stored after the socket
// joined its group was pushed. From then on `known` follows `seen`.

/** A reading position: `pos` compares (a step, a seq, a time in microseconds), `token` is
 * what the API takes back (the same number, or the time as the API wrote it). */
function bump(map, key, pos, token) {
  const current = map.get(key);
  if (!current || pos > current.pos) map.set(key, { pos, token: token ?? pos });
}

export class Cursors {
  constructor() {
    this.seen = new Map();
    this.known = new Map();
    // The socket connection (LiveFeed epoch) whose pushes continue this stream's reads.
    this.epoch = null;
  }

  /** Positions the page received in a push on socket connection `epoch`. */
  pushed(key, pos, token, epoch) {
    bump(this.seen, key, pos, token);
    if (epoch !== null && epoch !== undefined && epoch === this.epoch) bump(this.known, key, pos, token);
  }

  /** The newest position of `key` that a read returned (nothing before it is missing). */
  read(key, pos, token) {
    bump(this.seen, key, pos, token);
    bump(this.known, key, pos, token);
  }

  /** A read that started with `ticket` has completed (every part of it). */
  readDone(ticket) {
    if (!ticket || !ticket.current()) return;
    this.epoch = ticket.epoch;
    for (const [key, { pos, token }] of this.seen) bump(this.known, key, pos, token);
  }

  /** What to read `key` after (the API's `since_step`, `after_seq`, `since`); null: all. */
  from(key) {
    const known = this.known.get(key);
    return known ? known.token : null;
  }

  /** The keys read so far, grouped by the position to read them after: Map(token → keys). */
  groups() {
    const groups = new Map();
    for (const [key, { token }] of this.known) {
      if (!groups.has(token)) groups.set(token, []);
      groups.get(token).push(key);
    }
    return groups;
  }

  /** The newest position of `key` the page holds (null: none). */
  newest(key) {
    const seen = this.seen.get(key);
    return seen ? seen.pos : null;
  }

  /** Keys the page holds pushed points of but has never read. */
  unread() {
    return [...this.seen.keys()].filter((key) => !this.known.has(key));
  }

  has(key) {
    return this.known.has(key);
  }
}

/** An ISO 8601 time as microseconds since the epoch (the API writes microseconds, which
 * Date.parse drops), to compare sample times exactly. */
export function isoMicros(iso) {
  const match = /^(.*T\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(iso || "");
  if (!match) return Date.parse(iso) * 1000;
  const [, base, fraction = "", zone = "Z"] = match;
  return Date.parse(base + zone) * 1000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}
