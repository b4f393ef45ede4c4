// Dashboard: filters reflected in the URL, cards updated in place from /ws/dashboard/
// (or by polling /api/jobs when the socket is down). The server paints the first page
// of cards; later pages come from /api/jobs ("Show more", or scrolling to the end).
//
// The page's entry: the panels (cards, filters, stats, the compare selection) do the
// work; this is the one place that tells the pushes apart.

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";
import { onShortcut } from "../lib/shortcuts.js";
import { DASHBOARD_SOCKET_PATH } from "../lib/api.js";
import { EVENTS } from "../lib/events.js";
import { LiveFeed } from "../lib/live.js";
import * as bell from "../lib/bell.js";
import "./select.js";
import * as cards from "./cards.js";
import * as filters from "./filters.js";
import * as firing from "./firing.js";
import * as stats from "./stats.js";

const feed = new LiveFeed({
  path: DASHBOARD_SOCKET_PATH,
  onMessage(msg) {
    switch (msg.type) {
      case EVENTS.JOB:
        cards.applyJob(msg.job);
        break;
      case EVENTS.JOB_METRICS:
        cards.applyMetrics(msg);
        break;
      case EVENTS.JOB_DELETED:
        cards.remove(msg.uid);
        break;
      case EVENTS.JOB_ALERTS:
        cards.applyAlerts(msg);
        break;
      case EVENTS.ALERT_FIRED:
      case EVENTS.NOTIFICATION:
        bell.refresh();
        firing.refresh();
        break;
      default:
        break;
    }
  },
  async poll() {
    const [changed] = await Promise.all([cards.load(), stats.load(), firing.refresh()]);
    return changed;
  },
  expectActivity: () => cards.hasRunning(),
});

filters.setup({ change: () => cards.load({ reset: true }), error: () => feed.showBanner() });
cards.setup({ error: () => feed.showBanner() });

onShortcut("l", () => feed.toggle());
onShortcut("r", () => feed.refresh());

feed.start();
