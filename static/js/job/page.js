// Live job screen: charts fill in from the API, then follow /ws/jobs/<uid>/ (or polling).
// Pushed points are appended to the charts; nothing already drawn is fetched again, and
// whatever the socket did not carry (before it joined, while it was down) is read back
// per stream and per metric key (lib/catchup.js).
//
// The page's entry: each panel module (header, stages, metrics, resources, logs, alerts,
// notes) reads its part of the API (`load`, `poll`) and applies its pushes (`apply`);
// this is the one place that tells the pushes apart.

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";
import { onShortcut } from "../lib/shortcuts.js";
import { jobSocketPath } from "../lib/api.js";
import { EVENTS } from "../lib/events.js";
import { setText } from "../lib/format.js";
import { LiveFeed } from "../lib/live.js";
import { uid } from "./boot.js";
import * as metrics from "./metrics.js";
import * as resources from "./resources.js";
import * as stages from "./stages.js";
import * as header from "./header.js";
import * as alerts from "./alerts.js";
import * as logs from "./logs.js";
import "./downloads.js";
import * as notes from "./notes.js";
import * as rename from "./rename.js";
import * as fired from "./fired.js";
import * as bell from "../lib/bell.js";
import * as comments from "./comments.js";
import * as samples from "./samples.js";
import * as checkpoints from "./checkpoints.js";

setInterval(() => {
  header.tick();
  stages.tick();
}, 1000);

const feed = new LiveFeed({
  path: jobSocketPath(uid),
  onMessage(msg, epoch) {
    switch (msg.type) {
      case EVENTS.METRICS:
        metrics.apply(msg, epoch);
        break;
      case EVENTS.LOGS:
        logs.apply(msg, epoch);
        break;
      case EVENTS.STAGE:
        stages.apply(msg);
        break;
      case EVENTS.STATUS:
        header.apply(msg);
        // Notes and tags, the name and description follow the same push.
        notes.apply(msg);
        rename.apply(msg);
        break;
      case EVENTS.ALERTS:
        alerts.apply(msg);
        break;
      case EVENTS.RESOURCES:
        resources.apply(msg, epoch);
        break;
      case EVENTS.ALERT_FIRED:
        fired.apply(msg);
        bell.refresh();
        break;
      case EVENTS.NOTIFICATION:
        bell.refresh();
        break;
      case EVENTS.COMMENT:
      case EVENTS.COMMENT_DELETED:
        comments.apply(msg);
        break;
      case EVENTS.SAMPLES:
        samples.apply(msg);
        break;
      case EVENTS.CHECKPOINT:
        checkpoints.apply(msg);
        break;
      default:
        break;
    }
  },
  async poll(ticket) {
    const detail = header.poll();
    const counts = await Promise.all([
      detail.then((d) => d.changed),
      // Keys the page has not read yet come from the job's detail.
      metrics.poll(
        ticket,
        detail.then((d) => d.latestMetrics, () => ({})),
      ),
      logs.poll(ticket),
      resources.poll(ticket),
      comments.poll(),
      samples.poll(),
      checkpoints.poll(),
      fired.poll(),
    ]);
    return counts.reduce((a, b) => a + b, 0);
  },
  expectActivity: () => header.isActive(),
});
header.watchPause(() => feed.paused);
comments.onSteps((steps) => metrics.markComments(steps));
// Checkpoints are marked on the loss chart's x axis.
checkpoints.watch((steps, best) => metrics.markCheckpoints(steps, best));

const liveButton = document.getElementById("live-toggle");
function renderLiveButton() {
  const paused = feed.paused;
  liveButton.setAttribute("aria-pressed", String(paused));
  setText(document.getElementById("live-text"), paused ? "Live" : "Pause");
  liveButton.title = paused ? "Resume live updates (l)" : "Pause live updates (l)";
  liveButton.querySelector('[data-icon="pause"]').hidden = paused;
  liveButton.querySelector('[data-icon="play"]').hidden = !paused;
}
liveButton.addEventListener("click", () => {
  feed.toggle();
  renderLiveButton();
});
document.getElementById("refresh").addEventListener("click", () => feed.refresh());
onShortcut("l", () => {
  feed.toggle();
  renderLiveButton();
});
onShortcut("r", () => feed.refresh());

async function start() {
  // The socket opens first so nothing stored while the series load is missed; points
  // that arrive twice (pushed and loaded) replace each other by step.
  const live = new Promise((resolve) => feed.onState((state) => state === "live" && resolve()));
  feed.start();
  const results = await Promise.allSettled([metrics.load(), resources.load(), samples.load()]);
  if (results.some((r) => r.status === "rejected")) feed.showBanner();
  // The series and the painted log lines were read before the socket joined its group
  // (earlier still when the page's inline script started them): once it carries pushes,
  // read what came between.
  await live;
  if (!feed.paused) await feed.refresh({ quiet: true });
  // From here on, news reaches the page by push or by the live feed's polls only.
  document.body.dataset.synced = "true";
}

start();
