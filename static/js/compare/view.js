// The comparison (loaded by page.js only when there are jobs to compare): the charts,
// the configuration diff and the CSV download, then the series.

import * as charts from "./charts.js";
import "./diff.js";
import "./csv.js";
import * as samples from "./samples.js";

charts.load();
samples.load();
