"""report: the run's report.html (fabricx.pages.run_page), written at the end of every run.

It runs after the record is complete, whatever the run's status, and it never fails a run:
a page that cannot be written is a warning on the console and a note in metrics.json.
A classification task's test confusion matrix is saved first as confusion.json, so the page
(and `fabricx report run=<dir>` later) reads it from the run directory like every other file.
"""

from __future__ import annotations

import logging

from fabricx.runs import directory
from fabricx.stages.context import RunContext

log = logging.getLogger(__name__)


def run(ctx: RunContext, status: str) -> None:
    """Write confusion.json (when the task kept one) and report.html; warn, never raise."""
    from fabricx.pages.run_page import CONFUSION_FILE, REPORT_FILE, write_run_report

    try:
        confusion = getattr(ctx.task, "test_confusion", None)
        if confusion and ctx.stages.get("test") == "ok":
            labels = getattr(ctx.datamodule, "class_names", None) or [
                str(i) for i in range(len(confusion))
            ]
            ctx.artifacts["confusion_json"] = directory.write_json(
                ctx.out_dir / CONFUSION_FILE, {"labels": list(labels), "matrix": confusion}
            )
        ctx.artifacts["report_html"] = ctx.out_dir / REPORT_FILE  # the record names it
        write_run_report(ctx.out_dir, ctx.record(status))
    except Exception as err:  # the page is a view of the run: never the run's failure
        ctx.artifacts.pop("report_html", None)
        ctx.notes["report"] = f"report.html not written: {type(err).__name__}: {err}"
        log.warning("report.html not written: %s: %s", type(err).__name__, err)
