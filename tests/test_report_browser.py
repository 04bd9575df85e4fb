"""The HTML report in a real browser: headless Chromium opens it from disk (file://).

Driven through Selenium with Debian's ``chromium`` and ``chromium-driver``
(``.ci/run`` installs both). The DevTools performance log records every request
the page makes, so "no network request" is checked, not assumed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import load_run, write_html_report
from promptkit.results.compare import compare_variants
from tests.test_report_html import DISAGREE, ERRORS, FLIPPED, PWNED, hostile_run, large_run

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium
except ImportError:  # pragma: no cover - the dev extra installs it
    selenium = None

_MISSING = (
    "selenium is not installed (pip install -e '.[dev]')"
    if selenium is None
    else "Chromium is not installed (apt-get install chromium chromium-driver)"
    if CHROMIUM is None or CHROMEDRIVER is None
    else None
)
# CI sets PROMPTKIT_REQUIRE_BROWSER=1: there a missing browser fails instead of skipping.
if _MISSING and os.environ.get("PROMPTKIT_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"PROMPTKIT_REQUIRE_BROWSER=1 but {_MISSING}")
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

DASH = "\u2013"  # the pager writes ranges with an en dash
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get_log("performance")  # drop what the start page loaded before ours
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'")
    )


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call, from the DevTools log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def screenshot(driver: Any, path: Path) -> Path:
    """The whole page, not only the window."""
    driver.execute_script("window.scrollTo(0, 0)")  # the sticky header is drawn where it sits
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def visible_rows(driver: Any) -> list[str]:
    script = (
        "return [...document.querySelectorAll('#row-table tbody td.id')].map(td => td.textContent)"
    )
    rows: list[str] = driver.execute_script(script)
    return rows


def choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def search(driver: Any, text: str) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element("id", "row-search")
    box.send_keys(Keys.CONTROL + "a", Keys.DELETE)
    box.send_keys(text)
    WebDriverWait(driver, 10).until(  # the table is redrawn after a short debounce
        lambda d: d.find_element("id", "row-table").get_attribute("data-query") == text
    )


def test_report_renders_escapes_and_stays_offline(browser: Any, tmp_path: Path) -> None:
    folder = hostile_run(tmp_path / "proj")
    page = write_html_report(folder, tmp_path / "report.html")
    open_page(browser, page)

    # No request but the page itself: no CDN, font, image or beacon.
    assert requested_urls(browser) == [page.resolve().as_uri()]

    # Plots rendered: every SVG has drawn marks and a real size on screen.
    plots = browser.execute_script(
        "return [...document.querySelectorAll('figure.plot svg')].map(s => "
        "[s.getBoundingClientRect().width, s.getBoundingClientRect().height, "
        "s.querySelectorAll('path, use').length])"
    )
    assert len(plots) == 8  # score, front, shots, 4 confusion matrices, latency and cost
    assert all(w > 150 and h > 80 and marks > 5 for w, h, marks in plots)

    # Tables rendered.
    summary_rows = browser.find_elements("css selector", "#summary-table tbody tr")
    assert len(summary_rows) == 4
    assert "★" in browser.find_element("css selector", "#summary-table td.best").text
    assert visible_rows(browser) == [f"r{i}" for i in range(6)]
    assert f"rows 1{DASH}6 of 6" in browser.find_element("id", "row-status").text

    # Escaping: the hostile outputs and inputs are text on screen, and nothing ran.
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#row-table tbody td')].map(td => td.textContent)"
    )
    assert any("<script>window.__pwned=1</script>" in c for c in cells)
    assert any("<img src=x onerror=window.__pwned=1> neg" in c for c in cells)
    assert any(c.startswith("row 0 <img src=x onerror=") for c in cells)
    prompts = browser.find_element("id", "prompts").text
    assert "row 0 <img src=x onerror=window.__pwned=1> <script>window.__pwned=1</script>" in prompts
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.images.length") == 0
    assert browser.execute_script("return document.scripts.length") == 2

    screenshot(browser, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_row_filters_agree_with_the_library(browser: Any, tmp_path: Path) -> None:
    folder = hostile_run(tmp_path / "proj")
    page = write_html_report(folder, tmp_path / "report.html")
    open_page(browser, page)

    # "flipped" in the page against compare_variants in Python, on the same reference
    frame = load_run(folder)
    reference = "cls@v1 | mock/hostile | k=0"
    flipped: set[str] = set()
    for variant in frame["variant"].unique():
        if variant != reference:
            (metric,) = compare_variants(
                frame, reference, frame, variant, ["label_accuracy"]
            ).metrics
            flipped |= set(metric.fixed) | set(metric.broken)
    assert flipped == FLIPPED

    choose(browser, "row-filter", "flipped")
    assert set(visible_rows(browser)) == FLIPPED
    marks = browser.execute_script(
        "return [...document.querySelectorAll('#row-table .flip')].map(e => e.textContent)"
    )
    assert marks.count("▲ fixed") == 6 and marks.count("▼ broken") == 2  # v2 at k=0 and k=2
    choose(browser, "row-filter", "disagree")
    assert set(visible_rows(browser)) == DISAGREE
    choose(browser, "row-filter", "errors")
    assert set(visible_rows(browser)) == ERRORS
    choose(browser, "row-filter", "all")
    search(browser, "PWNED")
    assert set(visible_rows(browser)) == PWNED
    search(browser, "")
    assert len(visible_rows(browser)) == 6


def test_ten_thousand_rows_paginate(browser: Any, tmp_path: Path) -> None:
    page = write_html_report(large_run(tmp_path / "proj"), tmp_path / "large.html")
    open_page(browser, page)
    assert requested_urls(browser) == [page.resolve().as_uri()]
    status = browser.find_element("id", "row-status")
    assert status.text == f"rows 1{DASH}50 of 10,000 · page 1 of 200"
    assert visible_rows(browser)[0] == "row-00000" and len(visible_rows(browser)) == 50
    browser.find_element("css selector", "[data-page=last]").click()
    assert status.text == f"rows 9,951{DASH}10,000 of 10,000 · page 200 of 200"
    assert visible_rows(browser)[-1] == "row-09999"
    choose(browser, "row-filter", "flipped")  # cls@v2 fixes every third row
    assert status.text.startswith(f"rows 1{DASH}50 of 3,334 (filtered from 10,000)")
    choose(browser, "row-filter", "all")
    search(browser, "review number 4321:")
    assert visible_rows(browser) == ["row-04321"]
    screenshot(browser, tmp_path / "large.png")


def test_the_network_check_can_fail(browser: Any, tmp_path: Path) -> None:
    """The request log is not blind: a page that loads an image from a server shows up."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!doctype html><body data-ready="1"><img src="http://127.0.0.1:9/pixel.png"></body>'
    )
    open_page(browser, page)
    assert "http://127.0.0.1:9/pixel.png" in requested_urls(browser)
