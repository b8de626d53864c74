"""nbgrader's settings for a course folder, stated once.

nbgrader reads them in two ways: in-process, as a traitlets ``Config`` (the execute stage's autograde,
:func:`autograder.execute.nbgrader_config`), and from the folder's ``nbgrader_config.py``, which lets
nbgrader's own commands (``generate_assignment``, formgrader, export, release_feedback) work there.
Settings travel as ``{section: {trait: value}}``; :func:`config_file_text` writes them as lines of an
``nbgrader_config.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .course import Course

CONFIG_FILE = "nbgrader_config.py"


def course_directory(course: Course) -> dict[str, dict[str, Any]]:
    """Where nbgrader finds this course: its folder, the instructor's source, its id and gradebook."""
    return {
        "CourseDirectory": {
            "root": str(course.root),
            "source_directory": str(course.source),
            "course_id": course.course_id,
            "db_url": course.db_url,
        },
        "ClearOutput": {"enabled": True},
    }


def config_file_text(config: dict[str, dict[str, Any]]) -> str:
    """``config`` as lines of an ``nbgrader_config.py`` (``c.Section.trait = value``)."""
    return "".join(f"c.{section}.{trait} = {value!r}\n" for section, traits in config.items() for trait, value in traits.items())


def write_config_file(course: Course) -> Path:
    """The course folder's ``nbgrader_config.py``. Paths are this machine's, written at set-up time into a
    folder that is never committed."""
    config = course_directory(course)
    if course.exchange is not None:
        config["Exchange"] = {"root": str(course.exchange)}
    path = course.root / CONFIG_FILE
    path.write_text(
        '"""Written by the autograder (autograder/nbgrader_settings.py): this class\'s nbgrader settings."""\n'
        "c = get_config()  # noqa: F821\n" + config_file_text(config)
    )
    return path
