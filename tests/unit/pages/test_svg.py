"""The SVG line charts of the run pages: scales, ticks, what cannot be drawn."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fabricx.pages.svg import line_chart, nice_ticks


def test_a_chart_is_well_formed_svg_with_a_line_per_series():
    svg = line_chart(
        {"train/loss": [(0, 2.0), (1, 1.0), (2, 0.5)], "val/loss": [(0, 2.2), (2, 0.7)]},
        x_label="epoch", y_label="loss & <more>", colors={"val/loss": "#ff7f0e"},
    )  # fmt: skip
    root = ET.fromstring(svg)  # parses: escaped text, closed elements
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 2
    assert len(root.findall(f"{ns}circle")) == 5  # few points: markers on each
    assert "loss &amp; &lt;more&gt;" in svg and "stroke='#ff7f0e'" in svg


def test_log_axes_tick_at_powers_of_ten_and_drop_what_they_cannot_show():
    svg = line_chart(
        {"eager": [(1, 2.0), (8, 0.2), (64, 0.002)], "bad": [(0, 1.0), (8, -1.0)]},
        x_log=True, y_log=True, x_ticks=[1, 8, 64],
    )  # fmt: skip
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert {"1", "8", "64", "0.01", "0.1"} <= set(labels)
    assert svg.count("<polyline") == 1  # "bad" has no point a log axis can show
    assert line_chart({"empty": []}) == ""


def test_nice_ticks_are_round_and_inside_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3.0, 397.0) == [100.0, 200.0, 300.0]
    ticks = nice_ticks(0.0312, 0.0874)
    assert all(0.0312 <= t <= 0.0874 for t in ticks) and len(ticks) >= 3
