"""The sweep's report.html: trials, the best trial, Optuna's plots, each trial's page."""

from __future__ import annotations

import re
from pathlib import Path

from fabricx.sweep.page import write_sweep_page
from fabricx.sweep.report import best_summary
from tests.helpers.sweeps import finished_sweep


def test_the_sweep_page_holds_trials_best_plots_and_links(tmp_path: Path):
    study, plan = finished_sweep(tmp_path, n_trials=8)
    best = best_summary(study, plan)
    html = write_sweep_page(study, plan, best).read_text()
    assert html.count("<svg") == 3, re.findall(r"not drawn \([^)]*\)", html)
    for title in ("optimization history", "parameter importances", "parallel coordinate"):
        assert title in html
    assert f"<b>trial {best['best']['trial']}</b>" in html
    assert html.count("<tr>") == 1 + 8  # header + every trial
    assert "pruned" in html
    links = re.findall(r"href='([^']+)'", html)
    assert len(links) >= 8 + 1  # every trial, and the best one again
    for link in links:  # relative: the sweep folder can move as a whole
        assert not link.startswith("/") and (plan.dir / link).resolve().is_file()
    assert "<script" not in html
