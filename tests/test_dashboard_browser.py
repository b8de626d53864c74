"""The demo class's dashboard in a real browser, offline: Debian's headless Chromium driven by Playwright.

The course folder is served on 127.0.0.1; every other request is blocked and recorded (there must be
none). Every figure must load; the students' table must sort and filter from the keyboard; a
feedback link must lead to that student's feedback page; the console must stay free of errors; the
page must fit a phone's width (tables scroll inside their own region). Screenshots at 1280 px and
at phone width, and of the feedback page reached, are saved in _build/test-artifacts/.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from browser import LOCAL_HOSTS, chromium, static_server
from test_dashboard_data import ROOT

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "_build" / "test-artifacts"
IMAGES_LOADED = """() => Array.from(document.images).map(img => ({
  key: img.dataset.figure, ok: img.complete && img.naturalWidth > 0, alt: img.alt }))"""
ROW_KEYS = """(column) => Array.from(document.querySelectorAll('#students-table tbody tr')).map(row => {
  const cell = row.cells[column]; return cell.hasAttribute('data-sort') ? cell.dataset.sort : cell.textContent.trim(); })"""


@pytest.fixture(scope="module")
def server(demo_course):
    with static_server(demo_course) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium() as browser:
        yield browser


class Visit:
    """A browser context with every non-local request blocked and every error recorded."""

    def __init__(self, browser, width: int, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"{r.status}: {r.url}"))

    def _route(self, route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def clean(self) -> None:
        self.page.wait_for_timeout(200)  # late errors
        assert self.blocked == [], f"requests that left the machine: {self.blocked}"
        assert self.errors == [], self.errors

    def close(self):
        self.context.close()


def figures_loaded(page) -> list[dict]:
    images = page.evaluate(IMAGES_LOADED)
    assert images, "no figure on the page"
    assert all(img["ok"] for img in images), [img["key"] for img in images if not img["ok"]]
    assert all(img["alt"] for img in images), "a figure without alt text"
    return images


def test_dashboard_figures_sorting_filtering_and_feedback(browser, server, demo_course):
    from autograder.dashboard import data

    found = data.load(f"sqlite:///{demo_course / 'gradebook.db'}", demo_course)
    students = [s.id for s in found.students]
    visit = Visit(browser, 1280)
    try:
        page = visit.page
        page.goto(server + "dashboard/index.html", wait_until="load")
        keys = {img["key"] for img in figures_loaded(page)}
        names = [a.name for a in found.assignments]
        assert keys == {"overall"} | {f"scores-{n}" for n in names} | {f"items-{n}" for n in names}
        rows = page.locator("#students-table tbody tr")
        assert rows.count() == len(students)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-1280.png"), full_page=True)

        # Sort by the total, from the keyboard: focus the header's button, press Enter (twice: descending).
        total = page.get_by_role("button", name="Total", exact=True)
        column = total.evaluate("b => b.closest('th').cellIndex")
        total.focus()
        page.keyboard.press("Enter")
        header = page.locator("#students-table thead th").nth(column)
        assert header.get_attribute("aria-sort") == "ascending"
        values = [float(v) for v in page.evaluate(ROW_KEYS, column)]
        assert values == sorted(values) and values[0] < values[-1]
        page.keyboard.press("Enter")
        assert header.get_attribute("aria-sort") == "descending"
        values = [float(v) for v in page.evaluate(ROW_KEYS, column)]
        assert values == sorted(values, reverse=True)
        assert "Sorted by Total, descending" in page.locator("#students-sort").inner_text()
        page.get_by_role("button", name="Student", exact=True).click()
        assert page.evaluate(ROW_KEYS, 0) == sorted(students, key=str.lower)

        # Filter: the labelled field narrows the rows and says how many are shown.
        field = page.get_by_label("Filter students")
        field.focus()
        target = max(students, key=len)
        field.press_sequentially(target)
        visible = page.locator("#students-table tbody tr:not([hidden])")
        matching = [s for s in students if target.lower() in s.lower()]
        assert visible.count() == len(matching)
        assert page.locator("#students-count").inner_text() == f"{len(matching)} of {len(students)} students shown."
        field.fill("")
        assert visible.count() == len(students)
        page.get_by_label("Show", exact=True).select_option("needs_review")
        needing = {s.student for s in found.submissions if s.needs_review}
        assert needing, "the demo class has no submission that needs review"
        assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.student)")) == needing
        page.get_by_label("Show", exact=True).select_option("all")
        assert visible.count() == len(students)
        visit.clean()

        # Follow a feedback link: the student's own page for that assignment.
        submission = next(s for s in found.submissions if s.feedback and s.score)
        row = page.locator(f'#students-table tbody tr[data-student="{submission.student}"]')
        link = row.get_by_role("link", name=f"{submission.score:g}/{submission.max_score:g}", exact=True)
        link.first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == server + submission.feedback[0]
        assert page.title().startswith(f"Feedback: {submission.assignment}")
        assert submission.student in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "dashboard-feedback.png"))
        visit.clean()
    finally:
        visit.close()


def test_dashboard_reads_at_phone_width(browser, server, demo_course):
    visit = Visit(browser, 390, 844)
    try:
        page = visit.page
        page.goto(server + "dashboard/index.html", wait_until="load")
        figures_loaded(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the phone's screen"
        widths = page.evaluate("() => Array.from(document.images).map(img => img.getBoundingClientRect().width)")
        assert all(0 < w <= 390 for w in widths), widths
        font = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 14
        # The students' table scrolls inside its own region, reachable from the keyboard.
        region = page.get_by_role("region", name=re.compile("^Students:"))
        assert region.get_attribute("tabindex") == "0"
        assert region.evaluate("r => r.scrollWidth > r.clientWidth")
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=False)
        page.locator("#students").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone-students.png"))
        visit.clean()
    finally:
        visit.close()
