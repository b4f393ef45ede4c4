// Runs table: one row per job, the columns, sort, grouping and query in the URL. The
// server renders the page; this wires the query box, the Columns menu, saved views, the
// selection and keyboard, and keeps the visible rows live from /ws/dashboard/ (or by
// polling /api/jobs for the same page when the socket is down).
//
// The page's entry: the one place that tells the pushes apart.

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";
import { DASHBOARD_SOCKET_PATH, getJSON, jobsUrl } from "../lib/api.js";
import { EVENTS } from "../lib/events.js";
import { LiveFeed } from "../lib/live.js";
import { onShortcut } from "../lib/shortcuts.js";
import * as bulk from "./bulk.js";
import * as columns from "./columns.js";
import * as query from "./query.js";
import { boot, restoreOrRemember } from "./state.js";
import * as table from "./table.js";
import * as views from "./views.js";

if (!restoreOrRemember()) {
  columns.setup();
  query.setup();
  table.setup();
  bulk.setup();
  views.setup();

  const feed = new LiveFeed({
    path: DASHBOARD_SOCKET_PATH,
    onMessage(msg) {
      switch (msg.type) {
        case EVENTS.JOB:
          table.applyJob(msg.job);
          break;
        case EVENTS.JOB_DELETED:
          table.removeJob(msg.uid);
          break;
        default:
          break;
      }
    },
    async poll() {
      const params = new URLSearchParams({ page_size: "50", page: String(boot.page) });
      if (boot.query) params.set("query", boot.query);
      if (boot.sort) params.set("sort", boot.sort);
      const page = await getJSON(jobsUrl(params.toString()));
      let changed = 0;
      for (const card of page.results) if (table.applyJob(card)) changed += 1;
      return changed;
    },
    expectActivity: () => table.hasRunning(),
  });
  onShortcut("l", () => feed.toggle());
  onShortcut("r", () => feed.refresh());
  // A query the server could not read shows no rows: nothing to keep live.
  if (!boot.error) feed.start();
}
