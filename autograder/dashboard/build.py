"""Build the dashboard: read the gradebook, draw the figures, write one page, atomically.

:func:`build_dashboard` is what ``make dashboards``, ``python -m autograder.dashboard`` and the
grading pipeline call. The page goes in the course folder (default ``<course>/dashboard/index.html``)
and nowhere a student can reach: a path outside the course folder, or inside the folders nbgrader
hands to students (``release/``, ``feedback/``) or fills from them, is refused.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from ..course import STATE_DIR
from ..course_settings import load_settings
from . import data as gradebook
from . import figures
from .html import render

# Folders of a course that students receive or fill: the dashboard never goes there.
STUDENT_FOLDERS = ("release", "feedback", "submitted", "autograded", "source")


class DashboardError(RuntimeError):
    """The dashboard cannot be built as asked (no gradebook, or an output path students could reach)."""


def default_output(course_dir: Path | str) -> Path:
    return Path(course_dir).resolve() / "dashboard" / "index.html"


def course_settings(course_dir: Path) -> dict:
    """Gradebook URL and course id of a course folder, as its own files state them:
    ``nbgrader_config.py`` (written by the grader, read the way nbgrader reads it) and the grading
    command's saved settings. Missing values are left out."""
    found: dict = {}
    try:
        saved = load_settings(course_dir)
        found.update({k: saved[k] for k in ("db_url", "course_id") if saved.get(k)})
    except (OSError, ValueError):
        pass
    if (course_dir / "nbgrader_config.py").is_file():
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
        section = config.get("CourseDirectory", {})
        for key in ("db_url", "course_id"):
            if section.get(key):
                found[key] = section[key]
    return found


def check_output(course_dir: Path, out_path: Path) -> None:
    course_dir, out_path = course_dir.resolve(), out_path.resolve()
    if not out_path.is_relative_to(course_dir) or out_path == course_dir:
        raise DashboardError(f"the dashboard belongs in the course folder {course_dir}, not at {out_path}")
    top = out_path.relative_to(course_dir).parts[0]
    if top in STUDENT_FOLDERS:
        raise DashboardError(f"{out_path} is inside the course's {top}/ folder, which students receive or fill")
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise DashboardError(f"the dashboard is an HTML page: {out_path.name} does not end in .html")


def build_dashboard(db_url: str | None = None, course_dir: Path | str = ".", out_path: Path | str | None = None, *,
                    course_id: str | None = None,
                    built_at: datetime | None = None) -> Path:
    """Write the class dashboard of ``course_dir`` from the gradebook at ``db_url``; return its path.

    ``db_url``: any SQLAlchemy URL nbgrader accepts (default: the course's own, from its
    ``nbgrader_config.py``, else ``gradebook.db`` in the course folder). ``out_path``: default
    ``<course_dir>/dashboard/index.html``. Safe to call after every grading run: the page is replaced
    atomically, and a reader never sees half of it.
    """
    course_dir = Path(course_dir).resolve()
    # matplotlib keeps a font cache; without MPLCONFIGDIR (the Makefile sets it) it would go in $HOME.
    os.environ.setdefault("MPLCONFIGDIR", str(course_dir / STATE_DIR / "matplotlib"))
    settings = course_settings(course_dir)
    db_url = db_url or settings.get("db_url") or f"sqlite:///{course_dir / 'gradebook.db'}"
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        raise DashboardError(f"no gradebook at {url.database or db_url}: grade the class first")
    out = Path(out_path).resolve() if out_path else default_output(course_dir)
    check_output(course_dir, out)
    try:
        class_data = gradebook.load(db_url, course_dir, course_id or settings.get("course_id"))
    except LookupError as error:
        raise DashboardError(str(error)) from error
    difficulty = [figures.item_difficulty(name, [i for i in items if i.assignment == name])
                  for name, items in _by_assignment(class_data)]
    prefix = Path(os.path.relpath(course_dir, out.parent)).as_posix().rstrip("/") + "/"
    page = render(class_data, figures.overall_distribution(class_data), figures.assignment_distributions(class_data),
                  difficulty, prefix, built_at or datetime.now(timezone.utc).replace(tzinfo=None))
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".dashboard-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.chmod(temporary, 0o600)  # names students and their grades: the instructor's alone
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def _by_assignment(class_data: gradebook.ClassData) -> list[tuple[str, list[gradebook.ItemStats]]]:
    items = gradebook.item_stats(class_data)
    return [(a.name, [i for i in items if i.assignment == a.name]) for a in class_data.assignments]
