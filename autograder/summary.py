"""The summary table printed after grading: one row per student, a score per assignment, status and reasons."""

from __future__ import annotations

from .course import Course
from .gradebook import engine_for, status_rows
from .reasons import reasons_from_json
from .status import GRADED, NEEDS_REVIEW


def rows(course: Course, assignments: list[str]) -> list[list[str]]:
    engine = engine_for(course.db_url)
    try:
        found = [r for r in status_rows(engine) if r.assignment in assignments]
    finally:
        engine.dispose()
    students = sorted({r.student for r in found})
    table = []
    for student in students:
        mine = {r.assignment: r for r in found if r.student == student}
        scores, statuses, reasons = [], set(), []
        for assignment in assignments:
            row = mine.get(assignment)
            if row is None:
                scores.append("-")
                continue
            scores.append("not graded" if row.score is None else f"{row.score:g}/{row.max_score:g}")
            statuses.add(row.status)
            reasons += [f"{assignment}: {r}" if len(assignments) > 1 else str(r) for r in reasons_from_json(row.reasons)]
        status = NEEDS_REVIEW if NEEDS_REVIEW in statuses else GRADED if statuses == {GRADED} else ",".join(sorted(statuses))
        table.append([student, *scores, status, "; ".join(reasons)])
    return table


def format_table(course: Course, assignments: list[str], width: int = 100) -> str:
    header = ["student", *assignments, "status", "reasons"]
    body = rows(course, assignments)
    for row in body:
        if len(row[-1]) > width:
            row[-1] = row[-1][: width - 3] + "..."
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])
