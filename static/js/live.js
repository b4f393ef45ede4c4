// One live connection per page: a WebSocket while it is open, polling the JSON API
// every 3 s while it is not, and a small status indicator saying which.
//
// States: "live" (socket open), "polling" (socket down, API answering), "paused"
// (the reader stopped updates), "offline" (neither answers; a banner says so).

import { setText } from "./format.js";

const POLL_MS = 3000;
const PING_MS = 20000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

export class LiveFeed {
  /**
   * @param {object} o
   * @param {string} o.path        WebSocket path, e.g. "/ws/jobs/<uid>/"
   * @param {(msg: object) => void} o.onMessage   a pushed payload
   * @param {() => Promise<void>} o.poll   fetch what changed since the last update; throws when the API is unreachable
   */
  constructor({ path, onMessage, poll }) {
    this.path = path;
    this.onMessage = onMessage;
    this.poll = poll;
    this.state = "connecting";
    this.paused = false;
    this.socket = null;
    this.attempt = 0;
    this.lastUpdate = null;
    this.pollTimer = null;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.polling = false;
    this.everOpened = false;
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
    } catch (err) {
      this.fallback();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      // "live" only once a pong proves the socket carries messages end to end: a proxy
      // that accepts and then drops sockets must not make the indicator flicker.
      socket.send(JSON.stringify({ type: "ping" }));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_MS);
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket || this.paused) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.state !== "live") this.confirmed();
      this.touch();
      if (msg.type !== "pong") this.onMessage(msg);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
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
    this.attempt = 0;
    this.stopPolling();
    this.setState("live");
    // Whatever happened while the socket was down is fetched once.
    if (reconnected) this.refresh({ quiet: true });
  }

  send(msg) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  fallback() {
    if (this.paused) return;
    if (this.state !== "offline") this.setState("polling");
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => this.pollOnce(), POLL_MS);
      this.pollOnce();
    }
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async pollOnce() {
    if (this.polling || this.paused) return;
    this.polling = true;
    try {
      await this.poll();
      this.touch();
      if (this.state !== "live" && !this.paused) this.setState("polling");
    } catch (err) {
      if (!this.paused && this.state !== "live") this.setState("offline");
    } finally {
      this.polling = false;
    }
  }

  /** Fetch now (the Refresh button and `r`); works while paused too. */
  async refresh({ quiet = false } = {}) {
    try {
      await this.poll();
      this.touch();
      this.hideBanner();
    } catch (err) {
      if (!quiet) this.showBanner();
    }
  }

  pause() {
    this.paused = true;
    this.stopPolling();
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
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
    const text = s < 60 ? `updated ${s}s ago` : `updated ${Math.floor(s / 60)}m ago`;
    // Screen readers hear state changes, not a ticking clock.
    el.setAttribute("aria-hidden", "true");
    setText(el, text);
  }
}

/** GET a JSON resource of the API; throws on network errors and non-2xx answers. */
export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
