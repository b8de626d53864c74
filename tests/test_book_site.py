"""The book in _build/html: its pages, figures, reader features, and no solution anywhere in it.

The book is built once per test session (``python -m tools.book build --if-stale``: incremental,
locked so two test workers never build at once, and skipped when no input changed since the last
build, so one worker never rewrites the site while the other reads it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from nbtools import RELEASE, ROOT, SOURCE
from test_release import all_secret_lines
from tools.leaks import find_leaks
from tools.book import render

pytestmark = pytest.mark.slow

SITE = ROOT / "_build" / "html"
CHAPTERS = ROOT / "book" / "chapters"
# Third-party assets served as they come from their packages (MathJax, the theme's scripts and fonts).
VENDORED = ("_static/mathjax/", "_static/scripts/", "_static/vendor/", "_static/styles/")


@pytest.fixture(scope="session")
def site() -> Path:
    # Build once for the whole session: the second test worker finds the site up to date.
    result = subprocess.run([sys.executable, "-m", "tools.book", "build", "--if-stale"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"the book does not build:\n{result.stdout}\n{result.stderr}"
    return SITE


def released_notebooks() -> list[Path]:
    return sorted(RELEASE.glob("*/*.ipynb"))


def chapter_html(site: Path, notebook: Path) -> Path:
    return site / "book" / "chapters" / notebook.parent.name / notebook.with_suffix(".html").name


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(), "html.parser")


def text_of(node) -> str:
    """The visible text, whitespace collapsed (highlighted code is split into many spans)."""
    return re.sub(r"\s+", " ", node.get_text(""))


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def is_secret(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution") or (cell.cell_type == "code" and meta.get("grade")))


FIGURE_TYPES = ("image/png", "image/svg+xml", "image/jpeg", "image/gif")


def has_figure(cell) -> bool:
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if any(kind in data for kind in FIGURE_TYPES) or "<img" in "".join(data.get("text/html", "")):
            return True
    return False


# --- pages -----------------------------------------------------------------------------------


def test_every_released_notebook_is_a_chapter_page(site):
    notebooks = released_notebooks()
    assert notebooks, "release/ is empty"
    front = soup(site / "book" / "intro.html")
    nav = {urlparse(a["href"]).path for a in front.select("nav a[href]")}
    for notebook in notebooks:
        page = chapter_html(site, notebook)
        assert page.is_file(), f"no page for release/{notebook.parent.name}/{notebook.name}"
        assert f"chapters/{notebook.parent.name}/{page.name}" in " ".join(nav), f"{page.name} is not in the navigation"
    generated = sorted(CHAPTERS.glob("*/*.ipynb"))
    assert [p.relative_to(CHAPTERS) for p in generated] == [p.relative_to(RELEASE) for p in notebooks], "stale chapter pages"


def test_front_page_says_what_who_how(site):
    text = text_of(soup(site / "book" / "intro.html"))
    for heading in ("What you will learn", "For whom", "How to work", "How to submit", "How grading works"):
        assert heading in text, heading
    for way in ("JupyterHub", "Binder", "Colab", "git clone"):
        assert way in text, way
    assert (site / "index.html").read_text().count("book/intro.html"), "index.html does not lead to the front page"


def test_instructors_page_gives_the_commands(site):
    page = soup(site / "book" / "instructors.html")
    commands = " ".join(text_of(block) for block in page.select("pre"))
    for command in ("make release", "make book", "nbgrader", "make test"):
        assert command in commands, command
    text = text_of(page)
    for stage in ("Generate", "Release", "Collect", "Grade", "Dashboards", "Export"):
        assert stage in text, stage
    from autograder.cli import parser

    subcommands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    lines = [line.split() for block in page.select("pre") for line in block.get_text("").replace("\\\n", " ").splitlines()]
    documented = {word for words in lines if "course-grade" in words for word in words[words.index("course-grade") + 1:]}
    for name in subcommands:  # every command of the grading CLI, as it exists, is documented
        assert name in documented, f"course-grade {name} is not documented"


def test_notation_glossary_and_references(site):
    notation = soup(site / "book" / "notation.html")
    assert notation.select("table") and notation.select("dl.glossary"), "notation table or glossary missing"
    references = text_of(soup(site / "book" / "references.html"))
    for author, year in [("Kingma", "2015"), ("Loshchilov", "2019"), ("Sutskever", "2013"), ("Goh", "2017"),
                         ("Ruder", "2016"), ("Polyak", "1964")]:
        assert re.search(rf"{author}\b.*?{year}", references, re.S), f"{author} {year} not in the references"


# --- chapters: stubs, outputs, figures ------------------------------------------------------------


@pytest.mark.parametrize("notebook", released_notebooks(), ids=lambda p: p.parent.name)
def test_chapter_shows_the_released_code_and_only_safe_outputs(site, notebook):
    released = nbformat.read(notebook, as_version=4)
    page = nbformat.read(CHAPTERS / notebook.parent.name / notebook.name, as_version=4)
    assert [c.source for c in page.cells] == [c.source for c in released.cells], "the page is not the released notebook"
    for cell in page.cells:
        if cell.cell_type == "code" and is_secret(cell):
            assert cell.outputs == [], f"an exercise or test cell carries outputs: {cell.source[:80]!r}"
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"a cell shows an error: {cell.source[:80]!r}"


@pytest.mark.parametrize("notebook", released_notebooks(), ids=lambda p: p.parent.name)
def test_every_figure_of_the_chapter_is_on_its_page(site, notebook):
    """Each figure the instructor's notebook draws (outside exercise and test cells) is an image on the page."""
    chapter = render.Chapter(notebook.parent.name, notebook.name, render.Layout(ROOT))
    source = nbformat.read(SOURCE / notebook.parent.name / notebook.name, as_version=4)
    executed_path = chapter.layout.executed / f"{render.execution_key(chapter, source)}.ipynb"
    assert executed_path.is_file(), "the build left no executed copy of the source notebook"
    executed = render.code_cells(nbformat.read(executed_path, as_version=4))
    cells = soup(chapter_html(site, notebook)).select("div.cell")
    assert len(cells) == len(executed), "the page's code cells do not match the notebook's"
    drawn = 0
    for index, (source_cell, html_cell) in enumerate(zip(executed, cells)):
        if is_secret(source_cell) or not has_figure(source_cell):
            continue
        drawn += 1
        images = html_cell.select(".cell_output img")
        assert images, f"code cell {index + 1} draws a figure that is not on the page"
        for image in images:
            src = image.get("src", "")  # an animation's frame is set by its script: no src yet
            if src and not src.startswith("data:"):
                assert (chapter_html(site, notebook).parent / src).resolve().is_file(), f"missing image {src}"
    released = nbformat.read(notebook, as_version=4)
    needs_solution = [c for c in released.cells if "uses-solution" in c.get("metadata", {}).get("tags", [])]
    page = nbformat.read(CHAPTERS / notebook.parent.name / notebook.name, as_version=4)
    with_outputs = [c for c in page.cells if "uses-solution" in c.get("metadata", {}).get("tags", []) and c.outputs]
    assert len(with_outputs) == len(needs_solution), "a figure that needs the solution was not drawn"
    if needs_solution:
        assert drawn, "no figure found on a chapter that has figures"


def test_the_momentum_chapter_has_its_animation(site):
    pages = [chapter_html(site, nb) for nb in released_notebooks() if "momentum" in nb.parent.name]
    if not pages:
        pytest.skip("the momentum chapter is not released yet")
    animation = soup(pages[0]).select(".cell_output .animation")
    assert animation, "no animation on the momentum page"
    assert "http" not in str(animation[0].find("link") or ""), "the animation fetches a stylesheet"


def test_no_page_shows_a_traceback(site):
    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        assert "Traceback (most recent call last)" not in html, page
        assert not soup(page).select(".cell_output .error, .cell_output .traceback"), page


# --- offline ---------------------------------------------------------------------------------------

FETCHED = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src", "audio": "src",
           "embed": "src", "link": "href", "object": "data"}


def test_every_asset_comes_from_the_site(site):
    pages = sorted(site.rglob("*.html"))
    mathjax = set()
    for page in pages:
        for tag in soup(page).find_all(list(FETCHED)):
            url = tag.get(FETCHED[tag.name]) or ""
            assert not re.match(r"^(https?:)?//", url.strip()), f"{page.relative_to(site)}: <{tag.name}> loads {url}"
            if tag.name == "script" and "mathjax" in url.lower():
                mathjax.add(urljoin(page.relative_to(site).as_posix(), url.split("?")[0]))
    assert mathjax == {"_static/mathjax/tex-mml-chtml.js"}, mathjax
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    for sheet in site.rglob("*.css"):
        assert not re.search(r"(@import\s+|url\(\s*)[\"']?(https?:)?//", sheet.read_text()), sheet


# --- reader features ---------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", released_notebooks(), ids=lambda p: p.parent.name)
def test_launch_and_download_buttons_give_the_released_notebook(site, notebook):
    page = chapter_html(site, notebook)
    links = {a.get_text(strip=True): a["href"] for a in soup(page).select("a[href]")}
    repo = repository_url()
    org_repo = urlparse(repo).path.strip("/")
    released = f"release/{notebook.parent.name}/{notebook.name}"
    assert links["Binder"].endswith(f"/v2/gh/{org_repo}/main?urlpath=lab/tree/{released}")
    hub = urlparse(links["JupyterHub"])
    assert hub.path.endswith("/hub/user-redirect/git-pull"), "not an nbgitpuller link"
    assert f"urlpath=lab/tree/{org_repo.split('/')[-1]}/{released}" in hub.query and "repo=https" in hub.query
    assert links["Colab"].endswith(f"/github/{org_repo}/blob/main/{released}")
    assert links["Repository"] == repo
    download = (page.parent / links[".ipynb"]).resolve()
    assert download.read_bytes() == notebook.read_bytes(), "the download is not the released notebook"


def test_every_page_links_the_repository(site):
    repo = repository_url()
    for page in [site / "book" / "intro.html", *sorted((site / "book").rglob("*.html"))]:
        assert soup(page).select(f'a[href="{repo}"]'), f"{page.relative_to(site)} has no repository link"


def test_search_index_covers_every_page(site):
    text = (site / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    docnames = set(index["docnames"])
    for notebook in released_notebooks():
        assert f"book/chapters/{notebook.parent.name}/{notebook.stem}" in docnames
    for word in ("momentum", "gradient", "glossari"):
        assert word in index["terms"], word


# --- leaks -------------------------------------------------------------------------------------------


def site_leaks(folder: Path, secrets: set[str]) -> list[str]:
    return [hit for hit in find_leaks(folder, secrets) if not hit.startswith(VENDORED)]


def test_no_solution_or_hidden_test_line_reaches_the_site_or_release(site):
    secrets = all_secret_lines()
    assert len(secrets) > 20, "the secret regions were not found: is the parser broken?"
    for part in ("_sources", "notebooks", "searchindex.js", "book", "_images"):
        assert (site / part).exists(), f"the leak search would miss {part}"
    assert site_leaks(site, secrets) == []
    assert find_leaks(RELEASE, secrets) == []
    assert find_leaks(CHAPTERS, secrets) == []


@pytest.mark.parametrize("where", ["page", "page source", "search index", "download"])
def test_the_leak_search_finds_a_planted_line(site, tmp_path, where):
    scratch = tmp_path / "html"
    shutil.copytree(site, scratch, ignore=shutil.ignore_patterns("_static", "_images"))
    chapter = released_notebooks()[0]
    victim = {
        "page": scratch / chapter_html(site, chapter).relative_to(site),
        "page source": scratch / "_sources" / "book" / "chapters" / chapter.parent.name / chapter.name,
        "search index": scratch / "searchindex.js",
        "download": scratch / "notebooks" / chapter.parent.name / chapter.name,
    }[where]
    secrets = all_secret_lines()
    text = victim.read_text()
    planted = next(line for line in sorted(secrets, key=len, reverse=True) if line not in text)
    name = str(victim.relative_to(scratch))
    assert not any(hit.startswith(f"{name}: {planted}") for hit in site_leaks(scratch, secrets))
    victim.write_text(text[: len(text) // 2] + planted + text[len(text) // 2 :])
    assert f"{name}: {planted}" in site_leaks(scratch, secrets)
