"""Export: nbgrader's own CSV, and a CSV that a Canvas gradebook imports.

- :func:`nbgrader_csv` runs ``nbgrader export`` in the course folder (one row per student and
  assignment: score, max score, timestamp, lateness...).
- :func:`canvas_csv` writes Canvas's gradebook import format: columns ``Student, ID, SIS User ID,
  SIS Login ID, Section`` then one ``<assignment> (<canvas id>)`` column per assignment, a
  ``Points Possible`` row first. Canvas matches rows by ``ID`` (its user id) or ``SIS User ID``; a
  roster CSV (``student_id`` plus any of ``name, lms_id, sis_user_id, sis_login_id, section``) fills
  them in, else the student id goes in ``SIS User ID`` and ``SIS Login ID``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from .course import Course, CourseError
from .gradebook import open_gradebook
from .tool_path import tool_env

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def nbgrader_csv(course: Course, dest: Path) -> Path:
    dest = Path(dest).resolve()
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--to={dest}", "--log-level=ERROR"],
        cwd=course.root, env=tool_env(), capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise CourseError(f"nbgrader export failed:\n{done.stderr[-2000:]}")
    return dest


def read_roster(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "student_id" not in rows[0]:
        raise CourseError(f"{Path(path).name}: needs a student_id column")
    return {row["student_id"].strip(): row for row in rows}


def canvas_csv(course: Course, dest: Path, assignments: list[str] | None = None, roster: Path | None = None,
               canvas_ids: dict[str, str] | None = None) -> Path:
    """Total score per student and assignment (manual scores included, as nbgrader computes them)."""
    people = read_roster(roster)
    canvas_ids = canvas_ids or {}
    with open_gradebook(course) as gb:
        names = assignments or sorted(a.name for a in gb.assignments)
        maxima = {name: gb.find_assignment(name).max_score for name in names}
        students = sorted({s.id for s in gb.students} | set(people))
        scores: dict[tuple[str, str], float] = {}
        for name in names:
            for submission in gb.find_assignment(name).submissions:
                scores[(submission.student_id, name)] = submission.score
        columns = [f"{name} ({canvas_ids[name]})" if name in canvas_ids else name for name in names]
        rows = [["Points Possible", "", "", "", ""] + [f"{maxima[n]:g}" for n in names]]
        for student in students:
            person = people.get(student, {})
            try:
                record = gb.find_student(student)
                display = ", ".join(p for p in (record.last_name, record.first_name) if p) or student
            except Exception:  # noqa: BLE001 - on the roster, not in the gradebook
                display = student
            rows.append([
                person.get("name") or display, person.get("lms_id", ""), person.get("sis_user_id") or student,
                person.get("sis_login_id") or student, person.get("section", ""),
            ] + [f"{scores[(student, n)]:g}" if (student, n) in scores else "" for n in names])
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANVAS_FIXED + columns)
        writer.writerows(rows)
    return dest
