// Compare page: the charts, configuration diff and final-metrics table of the jobs
// picked on the dashboard. The page's entry.

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";

// Without jobs to compare (none or one picked, or unknown ones) the page has no charts
// and no Chart.js: only the modules every page shares run.
if (document.getElementById("compare-boot")) import("./view.js");
