"""What a report shows, read once: the job (or the compared jobs), their charts' series
downsampled with minima and maxima kept, resource samples, findings and tables.

Every read is bounded whatever the size of the job: at most `MAX_CHARTS` metric charts,
`POINTS_PER_KEY` points a series and `POINTS_BUDGET` points in all (fewer per key when a
job has many keys), `RESOURCE_POINTS` resource samples. That is what keeps the report of
a 2-million-point job under 1 MB (bench/bench_report.py measures it).
"""

import math
from datetime import datetime

from django.utils import timezone

from jobs import selectors
from jobs.diagnostics import rules
from jobs.layout import (
    COMPARE_KEYS,
    FIXED_CHART_KEYS,
    VAL_LOSS_KEY,
    compare_final_rows,
    completed_summary,
    config_diff,
    config_rows,
    job_error,
    metric_layout,
    number_or_none,
    shared_metric_keys,
)
from jobs.models import JobStatus
from monitoring.selectors import resource_hosts, resource_samples, resource_series

POINTS_PER_KEY = 500
POINTS_BUDGET = 30_000
MIN_POINTS_PER_KEY = 60
MAX_CHARTS = 120
RESOURCE_POINTS = 300
SIGNIFICANT_DIGITS = 6
# Keys where a lower value is better; the final-metrics table names the best of these.
LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error", "wer", "cer", "mse", "mae", "rmse")

GIB = 1024**3
MB = 1e6
RESOURCE_CHARTS = (
    ("gpu_util", "GPU utilisation", "%"),
    ("gpu_temp", "GPU temperature", "°C"),
    ("vram", "VRAM", "GiB"),
    ("cpu", "CPU", "%"),
    ("cpu_temp", "CPU temperature", "°C"),
    ("ram", "RAM", "GiB"),
    ("disk", "Disk I/O", "MB/s"),
    ("net", "Network", "MB/s"),
)


def compact(value):
    """A float with `SIGNIFICANT_DIGITS` significant digits (bytes matter in the file), or
    None for NaN/±inf and anything that is not a number (the chart draws a gap)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded


def series_arrays(points):
    """`{"x": steps, "y": values, "gaps": steps of NaN/inf}` of metric_series' points."""
    xs, ys, gaps = [], [], []
    for step, value, _epoch in points:
        y = compact(value)
        xs.append(step)
        ys.append(y)
        if y is None:
            gaps.append(step)
    return {"x": xs, "y": ys, "gaps": gaps}


def points_per_key(series_count):
    """Points each series gets so that the report's total stays within the budget."""
    if not series_count:
        return POINTS_PER_KEY
    return max(MIN_POINTS_PER_KEY, min(POINTS_PER_KEY, POINTS_BUDGET // series_count))


def lower_is_better(key):
    name = key.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def series_extremes(arrays):
    """`(min, step of min, max, step of max)` of a downsampled series (whose buckets keep
    their extremes, so these are the series' own), or Nones when it has no finite value."""
    finite = [(y, x) for x, y in zip(arrays["x"], arrays["y"], strict=True) if y is not None]
    if not finite:
        return None, None, None, None
    low = min(finite, key=lambda pair: (pair[0], pair[1]))
    high = max(finite, key=lambda pair: (pair[0], -pair[1]))
    return low[0], low[1], high[0], high[1]


def chart(chart_id, title, series, *, x="step", unit=""):
    return {"id": chart_id, "title": title, "x": x, "unit": unit, "series": series}


def figure(spec, number, total=None):
    """What the template shows of one chart: its number, title and a caption saying how
    much of the series the file holds (`total`: points stored on the server)."""
    drawn = max((len(line["x"]) for line in spec["series"]), default=0)
    if spec["x"] == "time":
        caption = f"{drawn:,} resource samples over time, peaks kept"
    elif total is not None and total > drawn:
        caption = f"{drawn:,} of {total:,} points, the minimum and maximum of each stretch kept"
    else:
        caption = f"{drawn:,} point{'s' if drawn != 1 else ''}, every one stored"
    return {"id": spec["id"], "number": number, "title": spec["title"], "caption": caption}


def job_header(job, stages):
    """Name, uid, model, dataset, tags, host, project, times and status of one job."""
    return {
        "job": job,
        "project": job.project.name if job.project_id else "",
        "duration": job.duration,
        "stages": [
            {
                "name": stage.get_name_display(),
                "status": stage.status,
                "status_label": stage.get_status_display(),
                "started_at": stage.started_at,
                "finished_at": stage.finished_at,
                "duration": stage.duration if stage.status != "skipped" else None,
                "message": stage.message,
            }
            for stage in stages
        ],
    }


def final_metric_rows(job, series_by_key):
    """Per key: the final value and step, and (for charted keys) the minimum and maximum
    with their steps, which key-specific best is which (`better`: "min", "max" or "")."""
    rows = []
    for key, point in sorted((job.latest_metrics or {}).items()):
        arrays = series_by_key.get(key)
        low, low_step, high, high_step = series_extremes(arrays) if arrays else (None,) * 4
        rows.append(
            {
                "key": key,
                "value": number_or_none(point.get("value")),
                "step": point.get("step"),
                "min": low,
                "min_step": low_step,
                "max": high,
                "max_step": high_step,
                "better": "min" if lower_is_better(key) else "",
            }
        )
    return rows


def resource_charts(job):
    """The resource charts of a job (time on x, seconds after the first sample), from at
    most `RESOURCE_POINTS` samples with every bucket's peaks kept; [] without samples.

    A multi-node job's charts are those of its own host (global rank 0's), as the job
    page shows first; without samples from it, those of the first host that sent some.
    """
    hosts = [h["host"] for h in resource_hosts(resource_samples(job=job))]
    if len(hosts) > 1:
        host = job.host if job.host in hosts else hosts[0]
        samples = resource_series(job=job, host=host, max_points=RESOURCE_POINTS)["samples"]
    else:
        samples = resource_series(job=job, max_points=RESOURCE_POINTS)["samples"]
    if not samples:
        return [], None
    times = [datetime.fromisoformat(s["time"]) for s in samples]
    origin = times[0]
    xs = [round((t - origin).total_seconds(), 1) for t in times]
    lines = {}

    def put(chart_id, series_id, label, color, index, value):
        if value is None:
            return
        line = lines.setdefault(chart_id, {}).setdefault(
            series_id, {"label": label, "color": color, "x": [], "y": []}
        )
        line["x"].append(xs[index])
        line["y"].append(compact(value))

    for i, sample in enumerate(samples):
        for n, gpu in enumerate(sample.get("gpus") or []):
            index = gpu.get("index", n)
            label = f"GPU {index}"
            put("gpu_util", f"gpu{index}", label, index, i, gpu.get("util"))
            put("gpu_temp", f"gpu{index}", label, index, i, gpu.get("temp"))
            used = gpu.get("mem_used")
            put("vram", f"gpu{index}", label, index, i, used / GIB if used is not None else None)
        put("cpu", "cpu", "CPU", 0, i, sample.get("cpu_percent"))
        put("cpu_temp", "cpu", "CPU", 1, i, sample.get("cpu_temp"))
        ram = sample.get("ram_used")
        put("ram", "ram", "used", 0, i, ram / GIB if ram is not None else None)
        for chart_id, field, label, color in (
            ("disk", "disk_read_rate", "read", 0),
            ("disk", "disk_write_rate", "write", 1),
            ("net", "net_rx_rate", "rx", 0),
            ("net", "net_tx_rate", "tx", 1),
        ):
            rate = sample.get(field)
            put(chart_id, field, label, color, i, rate / MB if rate is not None else None)
    charts = [
        chart(f"res-{chart_id}", title, list(lines[chart_id].values()), x="time", unit=unit)
        for chart_id, title, unit in RESOURCE_CHARTS
        if chart_id in lines
    ]
    return charts, origin


def job_report(job, *, notes=False, now=None):
    """The context of `templates/reports/job.html` for `job` (read by the caller through
    a project-scoped selector), with the chart data the report's script draws."""
    stages = list(job.stages.all())
    has_metrics = job.status != JobStatus.QUEUED and bool(job.latest_metrics)
    counts = selectors.metric_key_counts(job) if has_metrics else {}
    layout = metric_layout(job, counts)
    loss_keys = [key for key in FIXED_CHART_KEYS if key in (job.latest_metrics or {})]
    section_keys = [c["key"] for section in layout["sections"] for c in section["charts"]]
    drawn = section_keys[: max(0, MAX_CHARTS - (1 if loss_keys else 0))]
    keys = loss_keys + drawn
    per_key = points_per_key(len(keys))
    series = selectors.metric_series(job=job, keys=keys, max_points=per_key) if keys else {}
    arrays = {key: series_arrays(entry["points"]) for key, entry in series.items()}
    totals = {key: entry["total"] for key, entry in series.items()}

    charts = []
    loss_figure = None
    if loss_keys:
        lines = [{"label": key, "color": n, **arrays[key]} for n, key in enumerate(loss_keys)]
        charts.append(chart("loss", "Loss", lines))
        loss_figure = figure(charts[0], 1, max(totals.get(key, 0) for key in loss_keys))
    sections = []
    drawn_set = set(drawn)
    for section in layout["sections"]:
        figures = []
        for key in (c["key"] for c in section["charts"] if c["key"] in drawn_set):
            charts.append(
                chart(f"m{len(charts)}", key, [{"label": key, "color": 0, **arrays[key]}])
            )
            figures.append(figure(charts[-1], len(charts), totals.get(key, 0)))
        if figures:
            sections.append({"id": section["id"], "label": section["label"], "charts": figures})

    resources, origin = resource_charts(job) if job.status != JobStatus.QUEUED else ([], None)
    resource_figures = [figure(spec, len(charts) + n) for n, spec in enumerate(resources, 1)]
    failed = job.status == JobStatus.FAILED
    best_val = selectors.metric_best_point(job=job, key=VAL_LOSS_KEY) if has_metrics else None
    return {
        "kind": "job",
        "title": job.name,
        "generated_at": now or timezone.now(),
        **job_header(job, stages),
        "error": job_error(job) if failed else None,
        "findings": rules.job_findings_shown(job) if failed else [],
        "summary": completed_summary(job, best_val),
        "final_rows": final_metric_rows(job, arrays),
        "summary_rows": layout["summary"],
        "loss_figure": loss_figure,
        "sections": sections,
        "not_drawn": len(section_keys) - len(drawn),
        "resource_figures": resource_figures,
        "config_rows": config_rows(job.config),
        "deployment": job.deployment or None,
        "notes": job.notes if notes else "",
        "with_notes": notes,
        "data": {
            "charts": charts + resources,
            "timeOrigin": origin.timestamp() * 1000 if origin else None,
        },
    }


def compare_report(jobs, *, now=None):
    """The context of `templates/reports/compare.html` for `jobs` (2–8, in order): one
    overlaid chart per shared key, the final-metrics table and the config diff."""
    shared = shared_metric_keys(jobs)
    keys = shared[:MAX_CHARTS]
    per_key = points_per_key(len(keys) * len(jobs))
    by_job = [
        selectors.metric_series(job=job, keys=keys, max_points=per_key) if keys else {}
        for job in jobs
    ]
    charts, figures = [], []
    for key in keys:
        lines = [
            {"label": job.name, "color": index, **series_arrays(by_job[index][key]["points"])}
            for index, job in enumerate(jobs)
        ]
        charts.append(chart(f"c{len(charts)}", key, lines))
        total = max(series[key]["total"] for series in by_job)
        figures.append(figure(charts[-1], len(charts), total))
    best = {job.pk: selectors.metric_best_point(job=job, key=VAL_LOSS_KEY) for job in jobs}
    final_rows = compare_final_rows(jobs, best)
    columns = [
        (index, label)
        for index, (_, label) in enumerate(COMPARE_KEYS)
        if any(row["values"][index] is not None for row in final_rows)
    ]
    for n, row in enumerate(final_rows):
        row["shown_values"] = [row["values"][index] for index, _ in columns]
        row["color"] = n
    diff = config_diff([job.config or {} for job in jobs])
    return {
        "kind": "compare",
        "title": f"Compare {len(jobs)} jobs",
        "generated_at": now or timezone.now(),
        "jobs": jobs,
        "figures": figures,
        "not_drawn": len(shared) - len(keys),
        "final_rows": final_rows,
        "key_columns": [label for _, label in columns],
        "diff_rows": diff,
        "diff_count": sum(row["differs"] for row in diff),
        "data": {"charts": charts, "timeOrigin": None},
    }
