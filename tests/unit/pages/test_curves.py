"""The curves of the run and compare pages: one matplotlib figure each, text kept as text,
one colour per key on every panel, the legend below."""

from __future__ import annotations

import re

from fabricx.pages.curves import curves_html, overlay_html, split_series

TRAIN, VAL, STEP = "#1f77b4", "#ff7f0e", "#9ecae1"


def _rows(epochs: int = 3, steps_per_epoch: int = 30) -> list[dict[str, str]]:
    rows = []
    for epoch in range(epochs):
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            rows.append({"epoch": str(epoch), "step": str(step),
                         "train/loss_step": f"{10.0 / (step + 1):.4f}"})  # fmt: skip
        last = str((epoch + 1) * steps_per_epoch - 1)
        rows.append({"epoch": str(epoch), "step": last, "val/loss": str(1.0 / (epoch + 1)),
                     "val/acc": str(0.5 + 0.1 * epoch), "train/loss": str(2.0 / (epoch + 1)),
                     "train/acc": "", "junk": "x"})  # fmt: skip
    return rows


def test_series_split_by_step_and_epoch_skipping_empty_and_unreadable_cells():
    by_step, by_epoch = split_series(_rows(), "acc")
    assert list(by_step) == ["val/acc"] and list(by_epoch) == ["val/acc"]
    assert by_epoch["val/acc"] == [(0.0, 0.5), (1.0, 0.6), (2.0, 0.7)]
    by_step, by_epoch = split_series(_rows(), "loss")
    assert len(by_step["train/loss_step"]) == 90 and "train/loss_step" not in by_epoch


def test_one_figure_for_every_curve_with_a_colour_per_key_and_text_as_text():
    html = curves_html(_rows(), ["loss", "acc"])
    assert html.count("<svg") == 1 and html.count('<g id="axes_') == 4
    # The same key, the same colour, on the by-step and the by-epoch panel.
    colors = re.findall(r"stroke: (#[0-9a-f]{6})", html)
    assert colors.count(VAL) >= 4 and colors.count(STEP) >= 1 and TRAIN in colors
    # svg.fonttype none: labels are <text>, not glyph paths; one legend, below the panels.
    for label in ("train, per step", "train", "val", "step", "epoch"):
        assert f">{label}</text>" in html, label
    assert html.count(">val</text>") == 1
    assert "<script" not in html and "<?xml" not in html


def test_nothing_to_draw_draws_nothing():
    assert curves_html([{"epoch": "0", "step": "1", "other": "1"}], ["loss"]) == ""
    assert overlay_html({"a": []}, ["val/loss"]) == ""


def test_overlay_has_a_panel_per_key_and_a_colour_per_run():
    runs = {"A": _rows(epochs=2), "B": _rows(epochs=3), "C": []}
    html = overlay_html(runs, ["val/loss", "val/acc", "absent"])
    assert html.count("<svg") == 1 and html.count('<g id="axes_') == 2
    assert ">A</text>" in html and ">B</text>" in html and ">C</text>" not in html
    colors = set(re.findall(r"stroke: (#[0-9a-f]{6})", html))
    assert {TRAIN, VAL} <= colors  # run A blue, run B orange, on both panels
