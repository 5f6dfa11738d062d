"""One self-contained HTML page: inline CSS, plots as inline SVG, no JavaScript, no network.

Why matplotlib's SVG inside plain HTML (and not plotly, bokeh or vega): the page must open
from disk on a cluster without internet, stay small enough to keep in every run directory,
and still open in ten years. A plotly page carries megabytes of JavaScript (or fetches it
from a CDN); inline SVG is text the browser draws itself, with no script. matplotlib is
already what fabricx draws bench.png and Optuna's sweep plots with: one plotting library.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid
#d8dce3;padding-bottom:4px}h3{font-size:14px;margin:14px 0 6px}
.sub{color:#5b6474;margin:0 0 10px;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-weight:600;font-size:12px;
color:#fff;background:#6b7280}.ok{background:#15803d}.failed,.lost{background:#b91c1c}
.running{background:#0369a1}.pruned,.preempted,.terminated,.interrupted{background:#a16207}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#5b6474;font-size:12px}
table{border-collapse:collapse;background:#fff;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #d8dce3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.hl td{font-weight:600;background:#ecfdf5}.bad{color:#b91c1c;font-weight:600}
figure{margin:8px 0 14px;background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:6px}
figure svg{max-width:100%;height:auto;display:inline-block;vertical-align:top;margin:0 6px}
figcaption{color:#5b6474;font-size:12px}
.note{color:#5b6474}pre{background:#fff;border:1px solid #d8dce3;padding:8px;overflow-x:auto;
font-size:12px}a{color:#1d4ed8}.cm td{text-align:right;min-width:28px}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """The whole document: a title, a subtitle line, then the sections' HTML in order."""
    body = "\n".join(s for s in sections if s)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        # No script, no remote resource: the page draws from disk, offline, as it is.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        f"<h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p>\n{body}\n"
        "<p class='note'>Written by fabricx; opens from disk with no network.</p>"
        "</main></body></html>\n"
    )


def section(title: str, *parts: str) -> str:
    content = "\n".join(p for p in parts if p)
    return f"<section><h2>{esc(title)}</h2>\n{content}\n</section>" if content else ""


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    highlight: set[int] | None = None,
    raw: bool = False,
    css_class: str = "",
) -> str:
    """A table; numbers right-aligned with 4 significant decimals. `raw`: cells are HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(_cell(v, raw) for v in row)
        body.append(
            f"<tr class='hl'>{cells}</tr>" if highlight and i in highlight else f"<tr>{cells}</tr>"
        )
    cls = f" class='{css_class}'" if css_class else ""
    return f"<table{cls}><tr>{head}</tr>{''.join(body)}</table>"


def _cell(value: Any, raw: bool) -> str:
    if isinstance(value, float):
        return f"<td class='n'>{fmt(value)}</td>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"<td class='n'>{value}</td>"
    return f"<td>{value if raw else esc('' if value is None else value)}</td>"


def fmt(value: Any) -> str:
    if not isinstance(value, float):
        return "" if value is None else str(value)
    if value != value:  # nan
        return "nan"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


def cards(items: Iterable[tuple[str, Any]]) -> str:
    """Big numbers with a caption: the headline of a page."""
    out = "".join(
        f"<div class='card'><b>{esc(fmt(v))}</b><span>{esc(k)}</span></div>" for k, v in items
    )
    return f"<div class='cards'>{out}</div>"


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def svg_of(fig: Any) -> str:
    """A matplotlib figure as inline SVG markup (text kept as text: small and searchable)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return _smaller(buffer.getvalue())


def _smaller(svg: str) -> str:
    """The same picture in about half the bytes: no XML header or metadata, coordinates to
    0.01 pt, one short font list, no indentation (a report is kept in every run directory)."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"font-family: [^;\"]+", "font-family: sans-serif", svg)
    svg = re.sub(r'( (?:d|x|y|transform)=")([^"]*)"', _round_numbers, svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    return re.sub(r">\s+<", "><", svg)


def _round_numbers(match: re.Match[str]) -> str:
    rounded = re.sub(r"(\d+\.\d\d)\d+", r"\1", match.group(2))
    return f'{match.group(1)}{rounded}"'


def write_page(path: Path, text: str) -> Path:
    """Write a page whole or not at all (a temporary file, renamed): a run killed meanwhile
    leaves its previous page, never half of one."""
    with atomic_open(path) as f:
        f.write(text)
    return path
