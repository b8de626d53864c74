"""A course folder's saved settings: given once (``course-grade init`` or the first command), found by the next.

They are kept in ``<course>/.autograder/course.json``: the source and golden folders, the gradebook URL
(left out when it is the default, so that the folder can be moved or copied), the course id, the exchange
and the due dates. ``course-grade`` writes and reads them; the dashboard reads the gradebook URL and the
course id.
"""

from __future__ import annotations

import json
from pathlib import Path

from .course import STATE_DIR, Course

SETTINGS_NAME = "course.json"


def settings_file(root: Path) -> Path:
    return Path(root) / STATE_DIR / SETTINGS_NAME


def save_settings(course: Course) -> Path:
    """Keep ``course``'s settings in its folder, where ``course-grade`` finds them."""
    path = settings_file(course.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    default = Course(course.root, course.source, course.golden).db_url
    path.write_text(json.dumps({
        "source": str(course.source), "golden": str(course.golden), "db_url": "" if course.db_url == default else course.db_url,
        "course_id": course.course_id,
        "exchange": str(course.exchange) if course.exchange else None,
        "duedates": {k: v.isoformat() for k, v in course.duedates.items()},
    }, indent=1))
    return path


def load_settings(root: Path) -> dict:
    """The settings saved in the course folder ``root`` as written by :func:`save_settings` (empty if none)."""
    path = settings_file(root)
    return json.loads(path.read_text()) if path.is_file() else {}
