"""Hand feedback back through the nbgrader exchange, where students fetch it in the assignment list.

Each page written by :mod:`.feedback` goes to ``<exchange>/<course>/feedback/<hash>.html``, the name
nbgrader's ``fetch_feedback`` looks for: a hash of the submission's secret (``submission_secret.txt``,
made by ``nbgrader submit`` and known only to the student and the graders) and the notebook's name.
So a student finds only their own feedback, and a copy of someone else's notebook is no key to it
(nbgrader issue #1202). A submission that did not come through the exchange has no secret: it is
reported, and its feedback goes back another way (the LMS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import notebook_hash

from .course import Course, CourseError
from .feedback import write
from .gradebook import engine_for, status_rows

SECRET = "submission_secret.txt"


@dataclass
class Released:
    pages: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def release_feedback(course: Course, assignment: str, exchange: Path | None = None) -> Released:
    """(Re)write every graded student's feedback for ``assignment`` and release it to the exchange."""
    exchange = exchange or course.exchange
    if exchange is None:
        raise CourseError("no exchange folder given")
    outbound = Path(exchange) / course.course_id / "feedback"
    if not outbound.is_dir():
        raise CourseError(f"{outbound} does not exist: the exchange has not been set up for {course.course_id!r}")
    result = Released()
    engine = engine_for(course.db_url)
    try:
        for row in status_rows(engine, assignment):
            secret_file = course.submitted(row.student, assignment) / SECRET
            if not secret_file.is_file():
                result.skipped.append(f"{row.student}: not submitted through the exchange (no {SECRET})")
                continue
            secret = secret_file.read_text().strip()
            for page in write(course, assignment, row.student, engine):
                target = outbound / f"{notebook_hash(secret=secret, notebook_id=page.stem)}.html"
                partial = target.with_name(f".{target.name}.partial")
                partial.write_bytes(page.read_bytes())
                partial.chmod(0o644)
                os.replace(partial, target)  # a student fetching now sees the old page or the new one
                result.pages.append(target)
    finally:
        engine.dispose()
    return result
