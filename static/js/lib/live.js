// One live connection per page: a WebSocket while it carries updates, polling the JSON
// API every 3 s while it does not, and a small status indicator saying which.
//
// States: "live" (pushes arrive over the socket), "polling" (the API is read every 3 s:
// the socket is down, or open but silent while polls keep finding news, as when a
// writer runs in another process without a shared channel layer), "paused" (the reader
// stopped updates), "offline" (nothing answers; a banner says so).
//
// Pushes are not replayed: each socket confirmed after the first is followed by a read of
// what the page missed (`refresh`). Each confirmation starts a new `epoch`; reads get a
// `ticket` that tells, once they complete, whether the socket confirmed before they
// started is still open, i.e. whether its pushes continue what they read (lib/catchup.js).

import { EVENTS } from "./events.js";
import { setText } from "./format.js";

const POLL_MS = 3000;
const PING_MS = 20000;
const MAX_CHECK_MS = 30000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

export class LiveFeed {
  /**
   * @param {object} o
   * @param {string} o.path  WebSocket path, e.g. "/ws/jobs/<uid>/"
   * @param {(msg: object, epoch: number) => void} o.onMessage  a pushed payload, and the
   *   epoch of the socket that carried it
   * @param {(ticket: object) => Promise<number>} o.poll  fetch and apply what changed
   *   since the last update (a read started with `ticket`); resolves to how many things
   *   were new; throws when the API is unreachable
   * @param {() => boolean} [o.expectActivity]  whether updates are due (e.g. a job is
   *   running); while true, an open socket that stays silent is checked by polling
   */
  constructor({ path, onMessage, poll, expectActivity = () => false }) {
    this.path = path;
    this.onMessage = onMessage;
    this.poll = poll;
    this.expectActivity = expectActivity;
    this.state = "connecting";
    this.paused = false;
    this.socket = null;
    this.attempt = 0;
    this.lastUpdate = null;
    this.lastPush = 0;
    this.checkDelay = POLL_MS;
    this.nextCheck = 0;
    this.pollTimer = null;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.polling = false;
    this.everOpened = false;
    this.socketOpen = false;
    this.epoch = 0; // one per confirmed socket
    this.listeners = new Set();
    const params = new URLSearchParams(location.search);
    // ?transport=poll forces the fallback, to check it (and for proxies without WebSockets).
    this.socketAllowed = params.get("transport") !== "poll" && "WebSocket" in window;
    this.indicator = document.getElementById("conn");
    this.banner = document.getElementById("banner");
    setInterval(() => this.renderAgo(), 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !this.paused && this.state !== "live") this.refresh();
    });
  }

  start() {
    this.lastUpdate = Date.now();
    if (this.socketAllowed) this.connect();
    else this.fallback();
    this.startPolling();
    this.render();
  }

  onState(fn) {
    this.listeners.add(fn);
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    if (this.paused) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}${this.path}`);
    } catch {
      this.fallback();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      // "live" only once a pong proves the socket carries messages end to end: a proxy
      // that accepts and then drops sockets must not make the indicator flicker.
      socket.send(JSON.stringify({ type: EVENTS.PING }));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: EVENTS.PING }), PING_MS);
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket || this.paused) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!this.socketOpen) this.confirmed();
      this.touch();
      if (msg.type === EVENTS.PONG) return;
      this.lastPush = Date.now();
      this.checkDelay = POLL_MS;
      this.nextCheck = 0;
      if (this.state !== "live") this.setState("live");
      this.onMessage(msg, this.epoch);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.socketOpen = false;
      clearInterval(this.pingTimer);
      if (this.paused) return;
      this.fallback();
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      this.reconnectTimer = setTimeout(() => this.connect(), delay * (0.8 + Math.random() * 0.4));
    });
  }

  confirmed() {
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.socketOpen = true;
    this.epoch += 1;
    this.attempt = 0;
    this.lastPush = Date.now();
    this.setState("live");
    // Whatever happened while the socket was down is fetched once.
    if (reconnected) this.refresh({ quiet: true });
  }

  /** For a read about to start: `epoch` is the open socket's (null when none), and
   * `current()` says, when the read has completed, whether that socket is still open, so
   * that its pushes continue what the read returned. */
  ticket() {
    const epoch = this.socketOpen ? this.epoch : null;
    return { epoch, current: () => epoch !== null && this.socketOpen && this.epoch === epoch };
  }

  send(msg) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  fallback() {
    if (this.paused) return;
    if (this.state !== "offline") this.setState("polling");
    this.startPolling();
    this.pollOnce();
  }

  startPolling() {
    if (!this.pollTimer) this.pollTimer = setInterval(() => this.tick(), POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  tick() {
    if (this.paused) return;
    if (!this.socketOpen) {
      this.pollOnce();
      return;
    }
    // An open socket that has been silent while updates are due: check by polling. If
    // the poll finds news the socket did not bring, pushes are not reaching this page.
    const now = Date.now();
    if (this.expectActivity() && now - this.lastPush >= POLL_MS && now >= this.nextCheck) {
      this.pollOnce({ checkingSocket: true });
    }
  }

  async pollOnce({ checkingSocket = false } = {}) {
    if (this.polling || this.paused) return;
    this.polling = true;
    try {
      const news = await this.poll(this.ticket());
      this.touch();
      if (this.paused) return;
      if (checkingSocket) {
        // Checks that find nothing new back off (to 30 s), so an idle job costs little.
        this.checkDelay = news > 0 ? POLL_MS : Math.min(this.checkDelay * 2, MAX_CHECK_MS);
        this.nextCheck = Date.now() + this.checkDelay - 100;
        if (news > 0 && this.state === "live") this.setState("polling");
      } else if (this.state !== "live") {
        this.setState("polling");
      }
    } catch {
      if (!this.paused && !this.socketOpen) this.setState("offline");
    } finally {
      this.polling = false;
    }
  }

  /** Fetch now (the Refresh button and `r`); works while paused too. */
  async refresh({ quiet = false } = {}) {
    try {
      await this.poll(this.ticket());
      this.touch();
      this.hideBanner();
    } catch {
      if (!quiet) this.showBanner();
    }
  }

  pause() {
    this.paused = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
    this.socketOpen = false;
    if (socket) socket.close();
    this.setState("paused");
  }

  resume() {
    this.paused = false;
    this.setState("polling");
    this.refresh({ quiet: true });
    if (this.socketAllowed) this.connect();
    else this.fallback();
  }

  toggle() {
    if (this.paused) this.resume();
    else this.pause();
  }

  touch() {
    this.lastUpdate = Date.now();
    this.renderAgo();
    if (this.state !== "offline") this.hideBanner();
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    if (state === "offline") this.showBanner();
    else this.hideBanner();
    this.render();
    for (const fn of this.listeners) fn(state);
  }

  showBanner() {
    if (this.banner) this.banner.hidden = false;
  }

  hideBanner() {
    if (this.banner) this.banner.hidden = true;
  }

  render() {
    if (!this.indicator) return;
    this.indicator.dataset.state = this.state;
    setText(document.getElementById("conn-label"), this.state);
    this.renderAgo();
  }

  renderAgo() {
    const el = document.getElementById("conn-ago");
    if (!el || !this.lastUpdate) return;
    const s = Math.max(0, Math.round((Date.now() - this.lastUpdate) / 1000));
    setText(el, s < 60 ? `updated ${s}s ago` : `updated ${Math.floor(s / 60)}m ago`);
  }
}
