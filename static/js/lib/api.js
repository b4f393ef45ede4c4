// Reading the JSON API: getJSON and the URLs the pages read and listen on.

/** GET a JSON resource of the API; throws on network errors and non-2xx answers. */
export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The JSON of `url`: from the request the page's inline script started early, if it
 * started one (each is used once; refreshes fetch anew), else fetched now. */
export async function firstJSON(url) {
  const early = window.tbPrefetch?.get(url);
  if (!early) return getJSON(url);
  window.tbPrefetch.delete(url);
  const response = await early;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// URLs. `query` is the query string without its "?", written by the caller in the order
// the server (and the job page's early requests, matched by URL) expect.

/** On a share link's page, "/s/<secret>": its data is read through the link's mirrors
 * of the job's read endpoints (and its socket is /ws/s/<secret>/); "" elsewhere. */
export const SHARE_BASE = document.querySelector('meta[name="tb-base"]')?.content ?? "";

/** `/api/jobs?<query>`: the job list. */
export const jobsUrl = (query) => `/api/jobs?${query}`;

export const STATISTICS_URL = "/api/jobs/statistics";

/** `/api/jobs/<uid>`: a job's detail. */
export const jobUrl = (uid) => `${SHARE_BASE}/api/jobs/${encodeURIComponent(uid)}`;

export const jobMetricsUrl = (uid, query) => `${jobUrl(uid)}/metrics?${query}`;

export const jobLogsUrl = (uid, query) => `${jobUrl(uid)}/logs?${query}`;

/** `/api/training/resources?job=<uid>&<query>`: a job's resource samples. */
export const jobResourcesUrl = (uid, query) => `${SHARE_BASE}/api/training/resources?job=${encodeURIComponent(uid)}&${query}`;

/** The job page's notes and tags (read and written as JSON). */
export const jobDetailsUrl = (uid) => (SHARE_BASE ? `${SHARE_BASE}/details` : `/job/${encodeURIComponent(uid)}/details`);

/** The compare page for `uids`. */
export const compareUrl = (uids) => `/compare?jobs=${uids.map(encodeURIComponent).join(",")}`;

// WebSocket paths (lib/live.js adds the scheme and host).

export const jobSocketPath = (uid) => (SHARE_BASE ? `/ws${SHARE_BASE}/` : `/ws/jobs/${encodeURIComponent(uid)}/`);

export const DASHBOARD_SOCKET_PATH = "/ws/dashboard/";

/** A job's comments thread (GET, POST) and one comment (PATCH, DELETE). */
export const jobCommentsUrl = (uid) => `/api/jobs/${encodeURIComponent(uid)}/comments`;
export const jobCommentUrl = (uid, id) => `${jobCommentsUrl(uid)}/${encodeURIComponent(id)}`;

/** A job's share links (GET, POST) and one link (DELETE revokes it). */
export const jobShareLinksUrl = (uid) => `/api/jobs/${encodeURIComponent(uid)}/share-links`;
export const shareLinkUrl = (id) => `/api/share-links/${encodeURIComponent(id)}`;
