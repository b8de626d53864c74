"""The book in a real browser, offline: Debian's headless Chromium driven by Playwright.

Every request that does not go to the local test server is blocked (and recorded: there must be
none). Each page must typeset its math with the site's own MathJax, load every image, and log no
error; the momentum animation's controls and explorer must work; search must find the chapters. Screenshots
of the front page and of one chapter are saved in _build/test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from browser import LOCAL_HOSTS, chromium, static_server
from nbtools import RELEASE, ROOT

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "_build" / "test-artifacts"
# Text outside code that still holds TeX delimiters: math that MathJax did not typeset.
RAW_MATH_SCRIPT = r"""() => {
  const skip = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA", "MJX-CONTAINER", "MJX-ASSISTIVE-MML"]);
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let parent = node.parentElement, skipped = false;
    while (parent) { if (skip.has(parent.tagName)) { skipped = true; break; } parent = parent.parentElement; }
    if (skipped) continue;
    const text = node.textContent;
    if (/\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/.test(text)) found.push(text.trim().slice(0, 80));
  }
  return found;
}"""
IMAGES_SCRIPT = """async () => {
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); })));
  return images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.currentSrc || img.src || img.id);
}"""


def released_notebooks() -> list[Path]:
    return sorted(RELEASE.glob("*/*.ipynb"))


def chapter_path(notebook: Path) -> str:
    return f"book/chapters/{notebook.parent.name}/{notebook.stem}.html"


@pytest.fixture(scope="module")
def server(site):
    with static_server(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium() as browser:
        yield browser


class Visit:
    """One page load in a fresh context, with every non-local request blocked and recorded."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(f"console: {message.text}"))
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.errors.append(f"failed: {request.url} {request.failure}"))
        self.page.on("response", lambda response: response.status >= 400 and self.errors.append(f"{response.status}: {response.url}"))
        self.page.goto(url, wait_until="load")
        if url.endswith("/index.html"):  # the root page redirects to the front page
            self.page.wait_for_url(re.compile(r".*/book/intro\.html$"))
            self.page.wait_for_load_state("load")
        # Sphinx loads MathJax on pages that have math; it typesets after load: wait until it is done.
        self.has_mathjax = self.page.locator("script[src*='mathjax']").count() > 0
        if self.has_mathjax:
            self.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
            self.page.evaluate("() => MathJax.startup.promise")

    def _route(self, route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


def book_pages() -> list[str]:
    return ["index.html", *(chapter_path(nb) for nb in released_notebooks()),
            "book/instructors.html", "book/notation.html", "book/references.html"]


@pytest.mark.parametrize("path", book_pages())
def test_page_renders_offline(browser, server, path):
    visit = Visit(browser, server + path)
    try:
        page = visit.page
        assert visit.blocked == [], f"the page asked for outside resources: {visit.blocked}"
        assert page.evaluate(RAW_MATH_SCRIPT) == [], "math left untypeset"
        if path not in ("book/references.html", "book/instructors.html"):
            assert visit.has_mathjax and page.locator("mjx-container").count() > 0, "no typeset math on the page"
        assert page.evaluate(IMAGES_SCRIPT) == [], "images that did not load"
        page.wait_for_timeout(200)  # late errors (fonts, deferred scripts)
        assert visit.errors == [], visit.errors
        assert "Traceback" not in page.inner_text("main")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = {"index.html": "front-page.png"}.get(path)
        chapters = [chapter_path(nb) for nb in released_notebooks()]
        preferred = next((c for c in chapters if "momentum" in c), chapters[0] if chapters else None)
        if path == preferred:
            shot = f"chapter-{Path(path).parent.name}.png"
        if shot:
            page.screenshot(path=str(ARTIFACTS / shot), full_page=path == "index.html")
    finally:
        visit.close()


def test_momentum_animation_plays_offline(browser, server):
    chapters = [chapter_path(nb) for nb in released_notebooks() if "momentum" in nb.parent.name]
    assert chapters, "the momentum chapter is not released"
    visit = Visit(browser, server + chapters[0])
    try:
        page = visit.page
        animation = page.locator(".cell_output .animation").first
        animation.scroll_into_view_if_needed()
        image, slider = animation.locator("img").first, animation.locator("input.anim-slider")
        # The theme's own FontAwesome draws the control icons (the CDN stylesheet was removed).
        assert animation.locator(".anim-buttons svg").count() >= 9, "control icons not drawn"
        first = image.get_attribute("src")
        assert first and first.startswith("data:image"), "the first frame is not embedded"
        animation.get_by_role("button", name="Next frame", exact=True).click()
        assert slider.input_value() == "1" and image.get_attribute("src") != first, "Next frame did nothing"
        animation.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_timeout(1200)
        animation.get_by_role("button", name="Pause", exact=True).click()
        paused_at = int(slider.input_value())
        assert paused_at > 1, "Play did not advance the animation"
        page.wait_for_timeout(600)
        assert int(slider.input_value()) == paused_at, "Pause did not stop the animation"
        animation.get_by_role("button", name="First frame", exact=True).click()
        assert slider.input_value() == "0" and image.get_attribute("src") == first
        assert visit.blocked == [] and visit.errors == [], (visit.blocked, visit.errors)
        animation.screenshot(path=str(ARTIFACTS / "momentum-animation.png"))
    finally:
        visit.close()


def test_momentum_explorer_responds_on_the_chapter_page(browser, server):
    """The explorer's script runs on the built page: a slider redraws the path (its numbers are
    compared with the chapter's Python in tests/test_ch2_momentum.py)."""
    chapters = [chapter_path(nb) for nb in released_notebooks() if "momentum" in nb.parent.name]
    assert chapters, "the momentum chapter is not in the book"
    visit = Visit(browser, server + chapters[0])
    try:
        page = visit.page
        explorer = page.locator(".momentum-explorer")
        assert explorer.count() == 1 and explorer.get_attribute("data-ready") == "1", "the explorer's script did not run"
        explorer.scroll_into_view_if_needed()
        drawn = page.locator(".momentum-explorer polyline.mx-path")
        before, path = drawn.get_attribute("points"), explorer.get_attribute("data-path")
        assert len(before.split()) == 61 and path.startswith("[[-5,-2],")
        page.locator(".momentum-explorer input[name=beta]").focus()
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        assert explorer.get_attribute("data-beta") == "0.423"
        assert drawn.get_attribute("points") != before and explorer.get_attribute("data-path") != path
        assert visit.blocked == [] and visit.errors == [], (visit.blocked, visit.errors)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        explorer.screenshot(path=str(ARTIFACTS / "momentum-explorer.png"))
    finally:
        visit.close()


# Display equations whose typeset width exceeds their box: the page cuts them off on the right.
OVERFULL_EQUATIONS = """() => Array.from(document.querySelectorAll('main mjx-container[display="true"]')).map(c => {
  const math = c.querySelector('mjx-math');
  return [Math.round(math.getBoundingClientRect().width), c.clientWidth, c.textContent.slice(0, 40)];
}).filter(([width, room]) => width > room)"""


def test_momentum_equations_fit_the_column(browser, server):
    chapters = [chapter_path(nb) for nb in released_notebooks() if "momentum" in nb.parent.name]
    assert chapters, "the momentum chapter is not in the book"
    visit = Visit(browser, server + chapters[0])
    try:
        assert visit.page.locator("main mjx-container[display='true']").count() > 10
        assert visit.page.evaluate(OVERFULL_EQUATIONS) == [], "display equations cut off on the right"
    finally:
        visit.close()


def test_search_finds_the_chapters(browser, server):
    visit = Visit(browser, server + "search.html?q=momentum")
    try:
        results = visit.page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=15000)
        links = " ".join(results.locator("a").evaluate_all("links => links.map(a => a.href)"))
        chapters = [chapter_path(nb) for nb in released_notebooks() if "momentum" in nb.parent.name]
        assert all(chapter in links for chapter in chapters), links
        assert re.search(r"book/chapters/", links), links
        assert visit.blocked == [] and visit.errors == [], (visit.blocked, visit.errors)
    finally:
        visit.close()


# The text MathJax gives screen readers for each typeset formula: a backslash in it is TeX shown raw
# (``\text{max\_norm}`` keeps its backslash in text mode; ``\mathrm{max\_norm}`` does not).
TEX_SHOWN_RAW_SCRIPT = """() => Array.from(document.querySelectorAll('mjx-assistive-mml'))
  .map(e => e.textContent).filter(t => t.includes('\\\\'))"""


@pytest.mark.parametrize("path", [chapter_path(nb) for nb in released_notebooks()])
def test_typeset_math_shows_no_tex_backslash(browser, server, path):
    visit = Visit(browser, server + path)
    try:
        assert visit.page.locator("mjx-assistive-mml").count() > 0, "MathJax gave no assistive MathML to inspect"
        assert visit.page.evaluate(TEX_SHOWN_RAW_SCRIPT) == []
        planted = visit.page.evaluate("() => MathJax.tex2mml('\\\\text{max\\\\_norm}')")
        assert "max\\_norm" in planted  # the check would see the defect it looks for
    finally:
        visit.close()
