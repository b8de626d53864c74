"""Cell outputs fit their column in the built book (headless Chromium at the browser tests' 1280 px).

A printed line wider than the text column is cut off on the right: the reader sees a scroll bar at
best, and misses the column the text discusses. Chapters 4 and 5 print their results as tables
(courseplots.tables) and keep every other output line short; this test holds them to it.
Other chapters join the list once their outputs fit too.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from browser import chromium, static_server
from nbtools import ROOT

pytestmark = pytest.mark.slow

SITE = ROOT / "_build" / "html"
CHAPTERS = ["ch4_schedules/schedules", "ch5_training_loop/training_loop"]
# Every output element wider than its box, or reaching past the right edge of the page's main column.
OVERFLOWING = """() => {
  const right = document.querySelector("main").getBoundingClientRect().right;
  return Array.from(document.querySelectorAll(".cell_output pre, .cell_output table, .cell_output img"))
    .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > right + 1)
    .map(e => `${e.tagName} ${e.scrollWidth}px in ${e.clientWidth}px: ${(e.innerText || e.alt || "").slice(0, 60)}`);
}"""


@pytest.fixture(scope="module")
def server():
    # The same build as the other book tests (a lock lets one worker build while the other waits).
    result = subprocess.run([sys.executable, "-m", "tools.book", "build", "--if-stale"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"the book does not build:\n{result.stdout}\n{result.stderr}"
    with static_server(SITE) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_output_fits_the_column(browser, server, chapter):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{server}book/chapters/{chapter}.html", wait_until="load")
        assert page.locator(".cell_output").count() > 0
        assert page.evaluate(OVERFLOWING) == []
        # the result tables are real tables, each with its header and every row
        tables = page.locator(".cell_output table.course-table")
        assert tables.count() == {"ch4_schedules/schedules": 3, "ch5_training_loop/training_loop": 1}[chapter]
        for i in range(tables.count()):
            assert tables.nth(i).locator("thead th").count() >= 3 and tables.nth(i).locator("tbody tr").count() >= 3
    finally:
        page.close()


def test_the_tables_show_the_columns_the_text_discusses(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{server}book/chapters/ch4_schedules/schedules.html", wait_until="load")
        training = page.locator(".cell_output table.course-table").first
        assert training.locator("thead th").all_inner_texts()[-1] == "after 40 epochs"
        last = training.locator("th").last
        assert last.is_visible() and last.bounding_box()["x"] + last.bounding_box()["width"] <= 1280
        page.goto(f"{server}book/chapters/ch5_training_loop/training_loop.html", wait_until="load")
        sweep = page.locator(".cell_output table.course-table").first
        headers = sweep.locator("thead th").all_inner_texts()
        assert headers[0] == "lr" and headers[-1].split() == ["accuracy", "Adam"]
        assert sweep.locator("tbody tr").count() == 7
    finally:
        page.close()
