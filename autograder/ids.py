"""Which student and assignment ids may name folders of a course.

Ids arrive from outside (the exchange, an LMS zip, home folders, a Gradescope upload) and become parts
of paths (``submitted/<student>/<assignment>/``): anything that could leave its folder is refused.
"""

from __future__ import annotations

import re

from .course import CourseError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
ASSIGNMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def is_student_id(student: str) -> bool:
    return bool(STUDENT_ID.match(student)) and student not in {".", ".."}


def is_assignment_id(assignment: str) -> bool:
    return bool(ASSIGNMENT_ID.match(assignment))


def validate_student_id(student: str) -> str:
    if not is_student_id(student):
        raise CourseError(f"not a usable student id: {student!r}")
    return student


def validate_assignment_id(assignment: str) -> str:
    if not is_assignment_id(assignment):
        raise CourseError(f"not a usable assignment id: {assignment!r}")
    return assignment
