"""Students never reach the dashboard or anyone's feedback through what is published for them.

The built book (``_build/html``, when it has been built) and ``release/`` hold no dashboard page and
no feedback page, and no page of the book links to a dashboard, a feedback folder, or the course's
state (``.state/``, where the demo class is graded). The leak search itself is checked on a planted
link and a planted page, so a test that passes has looked.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from test_dashboard_data import ROOT, parse

from autograder.dashboard.html import GENERATOR

RELEASE = ROOT / "release"
FORBIDDEN_SEGMENTS = {"dashboard", "dashboards", "feedback", ".state", "demo-course", "autograded", "submitted",
                      "formgrader"}
TEXT_SUFFIXES = {".html", ".htm", ".txt", ".md", ".ipynb", ".js", ".json", ".xml", ".svg"}


def private_link(link: str) -> bool:
    """A link into a dashboard, feedback, or the course's grading state (fragments such as #feedback are fine)."""
    parsed = urlparse(link)
    if parsed.netloc and parsed.hostname not in ("127.0.0.1", "localhost"):
        return False  # another site's page (nbgrader's documentation, say): not this course's files
    segments = {s.lower() for s in unquote(parsed.path).split("/") if s}
    return bool(segments & FORBIDDEN_SEGMENTS) or parsed.path.lower().endswith("gradebook.db")


def private_page(path: Path) -> str | None:
    """Why ``path`` is a dashboard or a feedback page, or ``None``."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return None
    text = path.read_text(errors="replace")
    if f'name="generator" content="{GENERATOR}"' in text:
        return "a class dashboard"
    if "<title>Feedback:" in text or 'class="total">Score:' in text:
        return "a student's feedback page"
    return None


def leaks(folder: Path) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if {s.lower() for s in Path(relative).parts} & {"dashboard", "feedback"}:
            found.append(f"{relative}: a dashboard or feedback folder")
        why = private_page(path)
        if why:
            found.append(f"{relative}: {why}")
        if path.suffix.lower() in (".html", ".htm"):
            page = parse(path)
            found += [f"{relative}: links {link}" for _, link in page.urls if private_link(link)]
    return found


def test_the_built_book_has_no_dashboard_and_no_feedback(site):
    assert (site / "index.html").is_file()
    assert leaks(site) == []


def test_release_has_no_dashboard_and_no_feedback():
    assert RELEASE.is_dir(), "release/ is committed: it must exist"
    assert leaks(RELEASE) == []


def test_the_leak_search_finds_planted_links_and_pages(tmp_path, toy_class):
    from autograder.dashboard import build_dashboard

    course, url = toy_class
    planted = tmp_path / "site"
    planted.mkdir()
    (planted / "ok.html").write_text('<a href="#feedback">Feedback</a> <a href="book/instructors.html#dashboards">x</a>')
    assert leaks(planted) == []
    (planted / "linked.html").write_text('<a href="../.state/demo-course/dashboard/index.html">grades</a>')
    (planted / "copied.html").write_text(build_dashboard(url, course).read_text())
    (planted / "fb.html").write_text((course / "feedback" / "alice" / "a1" / "nb.html").read_text())
    found = leaks(planted)
    assert any(f.startswith("linked.html: links") for f in found)
    assert "copied.html: a class dashboard" in found
    assert "fb.html: a student's feedback page" in found


@pytest.fixture(scope="module")
def toy_class(tmp_path_factory):
    from test_dashboard_data import write_class

    course = tmp_path_factory.mktemp("toy") / "course"
    course.mkdir()
    url = f"sqlite:///{course / 'gradebook.db'}"
    write_class(url, course)
    return course, url
