"""A page opened in headless Chromium (Debian's chromium + chromium-driver, selenium): what
it drew, what it loaded, and what its console said.

`browser_missing()` names what a machine lacks, for a skip with that reason.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@functools.cache
def browser_missing() -> str | None:
    """None when a headless Chromium can be driven here; otherwise what is missing."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install 'fabricx[dev]')")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing.append("chromium (apt-get install chromium)")
    if not shutil.which("chromedriver"):
        missing.append("chromedriver (apt-get install chromium-driver)")
    return "; ".join(missing) or None


@dataclass
class Rendered:
    title: str
    svgs: int  # inline SVG plots drawn, each with a nonzero size
    tables: int
    console: list[dict[str, Any]]  # the browser console's entries
    resources: list[str]  # every URL the page fetched besides itself
    height: int


def render(page: Path, screenshot: Path | None = None, width: int = 1200) -> Rendered:
    """Open `page` from disk in headless Chromium; optionally save a full-page screenshot."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    options.binary_location = binary or ""
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(page.resolve().as_uri())
        svgs = driver.execute_script(
            "return [...document.querySelectorAll('figure svg')]"
            ".filter(s => s.getBoundingClientRect().width > 50"
            " && s.getBoundingClientRect().height > 50).length"
        )
        tables = driver.execute_script("return document.querySelectorAll('table').length")
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        height = driver.execute_script("return document.documentElement.scrollHeight")
        if screenshot is not None:
            driver.set_window_size(width, min(height + 40, 2600))
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
            _shrink(screenshot)
        return Rendered(driver.title, svgs, tables, driver.get_log("browser"), resources, height)
    finally:
        driver.quit()


def _shrink(png: Path, width: int = 820) -> None:
    """A screenshot small enough for the docs: 820 px wide, a 128-colour palette."""
    from PIL import Image

    with Image.open(png) as image:
        ratio = width / image.width
        small = image.convert("RGB").resize((width, round(image.height * ratio)), Image.LANCZOS)
    small.quantize(colors=128).save(png, optimize=True)
