"""report.html: one run's page, built from its run directory's files alone.

    curves        metrics.csv: loss and the metric, train and val, by step and by epoch
    metrics       metrics.json: status, the headline metric, final metrics, stages, notes
    parity        export/verify.json: per exported artifact, parity per shape, metric change
    latency       bench.json: the chart by runtime and batch size, and its table
    test split    confusion.json (classification) or test_predictions.conll (per-entity F1)
    provenance    provenance.json, command.txt, overrides.yaml

A file that is absent drops its section; the page never needs the checkpoints, torch or the
network. Written at the end of every run (fabricx.stages.report) and by
`fabricx report run=<dir>` for older runs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from fabricx.pages import entities
from fabricx.pages.curves import curves_html
from fabricx.pages.figures import latency_figure
from fabricx.pages.html import cards, esc, figure, fmt, page, section, svg_of, table, write_page
from fabricx.runs.directory import TEST_PREDICTIONS_FILE, read_json_object

REPORT_FILE = "report.html"
CONFUSION_FILE = "confusion.json"
CURVES_PNG = "curves.png"  # the page's curves as a picture too (the design: plots as PNG too)
_GROUPS = ("test", "val", "train", "verify", "bench", "fit", "time")


def write_run_report(run_dir: Path, record: dict[str, Any] | None = None) -> Path:
    """Write `run_dir`/report.html; `record` replaces metrics.json (the run writing it now)."""
    return write_page(run_dir / REPORT_FILE, build_run_page(run_dir, record))


def build_run_page(run_dir: Path, record: dict[str, Any] | None = None) -> str:
    record = record if record is not None else read_json_object(run_dir / "metrics.json")
    metric = record.get("metric") or {}
    metric_name = str(metric.get("name") or "")
    short = metric_name.split("/", 1)[-1] if metric_name else None
    status = str(record.get("status") or "unknown")
    title = f"{run_dir.parent.name} / {run_dir.name}"
    headline = [(metric_name, metric.get("value"))] if metric_name else []
    duration = (record.get("metrics") or {}).get("time/total_s")
    badge = f"<p><span class='badge {esc(status)}'>{esc(status)}</span></p>"
    return page(
        f"fabricx run {title}",
        str(run_dir),
        [
            badge + cards([*headline, *([("seconds", duration)] if duration else [])]),
            _curves(run_dir, short),
            _metrics(record, metric_name),
            _test_split(run_dir),
            _parity(run_dir),
            _latency(run_dir),
            _provenance(run_dir),
        ],
    )


def read_metrics_csv(run_dir: Path) -> list[dict[str, str]]:
    try:
        with open(run_dir / "metrics.csv", newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _curves(run_dir: Path, metric: str | None) -> str:
    rows = read_metrics_csv(run_dir)
    if not rows:
        return ""
    names = list(dict.fromkeys(["loss", *([metric] if metric else [])]))
    return section("Curves", curves_html(rows, names, png=run_dir / CURVES_PNG))


def _metrics(record: dict[str, Any], metric_name: str) -> str:
    metrics = record.get("metrics") or {}
    if not record:
        return section("Metrics", "<p class='note'>No metrics.json: the run has not finished.</p>")
    keys = sorted(metrics, key=lambda k: (_group_order(k), k))
    rows = [(k, metrics[k]) for k in keys]
    highlight = {i for i, k in enumerate(keys) if k == metric_name}
    stages = record.get("stages") or {}
    stage_line = ", ".join(f"{esc(k)}: {esc(v)}" for k, v in stages.items())
    extra = []
    if stage_line:
        extra.append(f"<p>stages: {stage_line}</p>")
    for key in ("error",):
        if record.get(key):
            extra.append(f"<p class='bad'>{esc(key)}: {esc(record[key])}</p>")
    for what, text in {**(record.get("skipped") or {}), **(record.get("notes") or {})}.items():
        extra.append(f"<p class='note'>{esc(what)}: {esc(text)}</p>")
    if record.get("weights"):
        extra.append(f"<p class='note'>weights: {esc(record['weights'])}</p>")
    return section("Final metrics", *extra, table(["metric", "value"], rows, highlight))


def _group_order(key: str) -> int:
    prefix = key.split("/", 1)[0]
    return _GROUPS.index(prefix) if prefix in _GROUPS else len(_GROUPS)


def _parity(run_dir: Path) -> str:
    report = read_json_object(run_dir / "export" / "verify.json")
    artifacts = report.get("artifacts") or {}
    if not artifacts:
        return ""
    summary, details = [], []
    for name, art in artifacts.items():
        tolerance = art.get("tolerance") or {}
        summary.append(
            [
                name, art.get("file"), art.get("runtime"), _passed(art.get("passed")),
                art.get("metric"), art.get("metric_change"), tolerance.get("atol"),
                tolerance.get("rtol"), tolerance.get("max_metric_drop"),
            ]
        )  # fmt: skip
        rows = [
            [
                p.get("batch_size"), "x".join(map(str, p.get("shape") or [])),
                p.get("max_abs_diff"), p.get("max_rel_diff"), _passed(p.get("passed")),
            ]
            for p in art.get("parity") or []
        ]  # fmt: skip
        if rows:
            details.append(f"<h3>{esc(name)}: parity against eager, per input shape</h3>")
            details.append(
                table(["batch", "shape", "max abs diff", "max rel diff", "ok"], rows, raw=True)
            )
    headers = ["artifact", "file", "runtime", "passed", report.get("metric") or "metric",
               "change vs eager", "atol", "rtol", "max metric drop"]  # fmt: skip
    return section("Exported artifacts: parity", table(headers, summary, raw=True), *details)


def _passed(value: Any) -> str:
    if value is None:
        return ""
    return "yes" if value else "<span class='bad'>no</span>"


def _latency(run_dir: Path) -> str:
    bench = read_json_object(run_dir / "bench.json")
    rows = [r for r in bench.get("rows") or [] if r.get("p50_ms") and r.get("batch_size")]
    if not rows:
        return ""
    fig = latency_figure(rows, f"latency by runtime ({bench.get('device', '')})", tight=False)
    table_rows = [
        [r["runtime"], r["batch_size"], r["p50_ms"], r.get("p90_ms"), r.get("p99_ms"),
         r.get("throughput"), r.get("speedup_vs_eager_fp32")]
        for r in rows
    ]  # fmt: skip
    headers = ["runtime", "batch", "p50 ms", "p90 ms", "p99 ms", "samples/s", "vs eager x"]
    return section("Latency", figure(svg_of(fig)), table(headers, table_rows))


def _test_split(run_dir: Path) -> str:
    confusion = read_json_object(run_dir / CONFUSION_FILE)
    if confusion.get("matrix"):
        return section("Test split: confusion matrix", confusion_table(confusion))
    path = run_dir / TEST_PREDICTIONS_FILE
    if path.is_file():
        scores = entities.per_type_f1(path)
        if scores:
            rows = [
                [t, s["precision"], s["recall"], s["f1"], s["support"]] for t, s in scores.items()
            ]
            highlight = {len(rows) - 1} if "micro avg" in scores else None
            return section(
                "Test split: F1 per entity type",
                table(["entity type", "precision", "recall", "F1", "support"], rows, highlight),
                f"<p class='note'>seqeval on {esc(TEST_PREDICTIONS_FILE)} "
                "(word, gold, predicted).</p>",
            )
    return ""


def confusion_table(confusion: dict[str, Any]) -> str:
    """Rows: the true class; columns: the predicted one; shaded by the share of the row."""
    matrix = confusion["matrix"]
    labels = confusion.get("labels") or [str(i) for i in range(len(matrix))]
    cells = []
    for i, (label, row) in enumerate(zip(labels, matrix, strict=False)):
        total = sum(row) or 1
        tds = []
        for j, count in enumerate(row):
            hue = "21,128,61" if i == j else "185,28,28"  # green: right; red: mistaken
            share = count / total
            ink = ";color:#fff" if share > 0.6 else ""  # legible on the darkest cells
            tds.append(f"<td style='background:rgba({hue},{share:.2f}){ink}'>{count}</td>")
        recall = row[i] / total if i < len(row) else 0.0
        cells.append(f"<tr><th>{esc(label)}</th>{''.join(tds)}<td>{fmt(recall)}</td></tr>")
    head = "".join(f"<th>{esc(lbl)}</th>" for lbl in labels)
    caption = "<p class='note'>rows: true class; columns: predicted; last column: recall.</p>"
    return (
        f"{caption}<table class='cm'><tr><th>true \\ predicted</th>{head}<th>recall</th></tr>"
        f"{''.join(cells)}</table>"
    )


def _provenance(run_dir: Path) -> str:
    prov = read_json_object(run_dir / "provenance.json")
    parts = []
    command = _text(run_dir / "command.txt")
    if command:
        parts.append(f"<h3>command</h3><pre>{esc(command.strip())}</pre>")
    overrides = _text(run_dir / "overrides.yaml")
    if overrides and overrides.strip() != "[]":
        parts.append(f"<h3>overrides</h3><pre>{esc(overrides.strip())}</pre>")
    if prov:
        rows = []
        for which in ("git", "fabricx_git"):
            git = prov.get(which) or {}
            if git.get("sha"):
                dirty = " (uncommitted changes)" if git.get("dirty") else ""
                rows.append([which.replace("_", " "), f"{git['sha']}{dirty}"])
        for key in ("host", "python", "platform", "seed"):
            if prov.get(key) is not None:
                rows.append([key, prov[key]])
        device = prov.get("device") or {}
        gpus = ", ".join(device.get("gpus") or []) or "none"
        rows.append(["device", f"GPUs: {gpus}; CPUs: {device.get('cpu_count')}"])
        packages = prov.get("packages") or {}
        rows.append(["packages", " ".join(f"{k}=={v}" for k, v in packages.items())])
        parts.append(table(["", ""], [[k, str(v)] for k, v in rows]))
    return section("Provenance", *parts)


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
