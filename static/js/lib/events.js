// Every message type of the live sockets, named once. The server builds these messages
// (jobs/services.py, monitoring/services.py, jobs/consumers.py); docs/api.md, "Live
// messages", lists each one's socket and fields.

export const EVENTS = Object.freeze({
  // /ws/jobs/<uid>/
  METRICS: "metrics", // new points: {job, series: {key: [[step, value, epoch]]}}
  LOGS: "logs", // new log lines: {job, lines: [{seq, time, level, message}]}
  STAGE: "stage", // one pipeline stage changed: {stage}
  STATUS: "status", // the job card changed: {job, notes?}
  ALERTS: "alerts", // open diagnostic findings changed: {job, alerts, findings}
  RESOURCES: "resources", // a resource sample (also on /ws/dashboard/): {sample}
  SAMPLES: "samples", // new generations: {job, samples: [{prompt_hash, prompt, step, score, has_reference}]}
  CHECKPOINT: "checkpoint", // a checkpoint recorded or updated: {job, checkpoint: {step, path, size, metrics, time}}
  // /ws/dashboard/
  JOB: "job", // a job card changed or was created: {job}
  JOB_METRICS: "job_metrics", // a job's loss moved: {uid, latest_loss, loss_sparkline}
  JOB_ALERTS: "job_alerts", // a job's open alerts changed: {uid, alerts}
  JOB_DELETED: "job_deleted", // a job was deleted: {uid}
  // both sockets: a user's alert rule fired or resolved on a job: {job, alert, state}
  ALERT_FIRED: "alert_fired",
  // /ws/jobs/<uid>/ (members only; a share link's socket does not carry them)
  COMMENT: "comment", // a comment was written or edited: {comment}
  COMMENT_DELETED: "comment_deleted", // a comment was deleted: {job, id}
  // both sockets, a signed-in user's own: they have a new notification (a mention): {id, kind}
  NOTIFICATION: "notification",
  // both sockets: the page's liveness check and the server's answer
  PING: "ping",
  PONG: "pong",
});
