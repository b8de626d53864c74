"""The gradebook: the judge's scores in nbgrader's tables, and each submission's status beside them.

The pipeline's record stage (:func:`record`) and collection's receipts (:func:`receive`) write here;
not to be confused with :mod:`autograder.records`, the JSON encoding of the values checks record.

nbgrader's gradebook stays the place of record (formgrader, ``nbgrader export`` and manual grading
read it): every test cell's ``auto_score`` is the judge's verdict, written only here (nbgrader's
autograde runs without its score writer). The grader's own
table (:mod:`autograder.status`) lives in the same database: the receipt time recorded at collection,
the status (``collected``, ``graded`` or ``needs_review`` with reasons), the hash of the inputs a
grade was computed from, and the judgement the feedback is written from. One submission's scores
and status are written in one transaction, so a grader killed mid-batch leaves each submission
either fully recorded or not at all (to be graded again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from .course import Course
from .judge import Judgement
from .reasons import Reason, reasons_to_json
from .status import COLLECTED, GRADED, NEEDS_REVIEW, metadata, submissions
from .tool_path import ensure_tool_path


def engine_for(db_url: str) -> Engine:
    engine = create_engine(db_url, **({} if db_url.startswith("sqlite") else {"pool_pre_ping": True}))
    metadata.create_all(engine)
    return engine


def open_gradebook(course: Course):
    """nbgrader's Gradebook for this course (creates the database and nbgrader's tables if needed)."""
    from nbgrader.api import Gradebook

    ensure_tool_path()
    return Gradebook(course.db_url, course.course_id)


# -- receipts (collect) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    assignment: str
    student: str
    received_at: datetime
    content_hash: str
    origin: str
    new: bool  # the content differs from what was collected before


def receive(engine: Engine, assignment: str, student: str, content_hash: str, origin: str, now: datetime) -> Receipt:
    """Record a collected submission. Same content as before: the first receipt time stands."""
    with engine.begin() as conn:
        row = conn.execute(select(submissions).where(
            submissions.c.assignment == assignment, submissions.c.student == student)).first()
        if row is not None and row.content_hash == content_hash:
            return Receipt(assignment, student, row.received_at, content_hash, row.origin, False)
        values = dict(received_at=now, content_hash=content_hash, origin=origin, status=COLLECTED, reasons="[]",
                      inputs_hash=None, score=None, max_score=None, judgement=None, graded_at=None)
        if row is None:
            conn.execute(submissions.insert().values(assignment=assignment, student=student, **values))
        else:
            conn.execute(submissions.update().where(
                submissions.c.assignment == assignment, submissions.c.student == student).values(**values))
    return Receipt(assignment, student, now, content_hash, origin, True)


def status_rows(engine: Engine, assignment: str | None = None) -> list[Any]:
    query = select(submissions).order_by(submissions.c.assignment, submissions.c.student)
    if assignment:
        query = query.where(submissions.c.assignment == assignment)
    with engine.connect() as conn:
        return list(conn.execute(query))


def status_row(engine: Engine, assignment: str, student: str):
    with engine.connect() as conn:
        return conn.execute(select(submissions).where(
            submissions.c.assignment == assignment, submissions.c.student == student)).first()


# -- grades (record) ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """Everything decided about one submission, ready to be written."""

    assignment: str
    student: str
    judgement: Judgement
    reasons: list[Reason]
    inputs_hash: str
    graded_at: datetime

    @property
    def status(self) -> str:
        return NEEDS_REVIEW if self.reasons else GRADED


def record(gradebook, outcome: Outcome) -> datetime:
    """Write one submission's scores and status in a single transaction; return its receipt time."""
    from nbgrader.api import Assignment, GradeCell, SubmittedAssignment

    receipt = status_row_in(gradebook.db, outcome.assignment, outcome.student)
    if receipt is None:
        raise LookupError(f"{outcome.student}/{outcome.assignment} was never collected")
    _ensure_submission(gradebook, outcome.assignment, outcome.student, receipt.received_at)
    db = gradebook.db
    try:
        submission = (
            db.query(SubmittedAssignment).join(Assignment)
            .filter(Assignment.name == outcome.assignment, SubmittedAssignment.student_id == outcome.student).one()
        )
        submission.timestamp = receipt.received_at
        verdicts = {(c.notebook, c.grade_id): c for c in outcome.judgement.cells}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                cell = grade.cell
                if not isinstance(cell, GradeCell):
                    continue
                verdict = verdicts.get((notebook.name, cell.name))
                if verdict is None:  # not a test cell: a manually graded answer (as nbgrader marks it)
                    grade.needs_manual_grade = True
                    continue
                if verdict.note and not verdict.checks:
                    grade.auto_score = None
                    grade.needs_manual_grade = True
                else:
                    grade.auto_score = float(verdict.earned)
                    grade.needs_manual_grade = False
        db.execute(submissions.update().where(
            submissions.c.assignment == outcome.assignment, submissions.c.student == outcome.student,
        ).values(
            status=outcome.status, reasons=reasons_to_json(outcome.reasons), inputs_hash=outcome.inputs_hash,
            score=outcome.judgement.score, max_score=outcome.judgement.max_score,
            judgement=outcome.judgement.to_json(), graded_at=outcome.graded_at,
        ))
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return receipt.received_at


def status_row_in(db, assignment: str, student: str):
    return db.execute(select(submissions).where(
        submissions.c.assignment == assignment, submissions.c.student == student)).first()


def _ensure_submission(gradebook, assignment: str, student: str, received_at: datetime) -> None:
    """The submission's rows in nbgrader's tables (autograde makes them, unless it never ran)."""
    from nbgrader.api import MissingEntry

    try:
        gradebook.find_submission(assignment, student)
    except MissingEntry:
        gradebook.update_or_create_student(student)
        gradebook.add_submission(assignment, student, timestamp=received_at)


# -- a comparable picture of the gradebook -----------------------------------------------------------

def dump(course: Course) -> dict:
    """Scores and statuses, without what differs by nature between two runs: row ids (random UUIDs),
    ``graded_at`` (when the grader ran) and the kept logs. Receipt times are included: they are
    recorded once, at collection."""
    from nbgrader.api import Assignment, GradeCell, SubmittedAssignment

    picture: dict = {"grades": {}, "statuses": {}}
    with open_gradebook(course) as gb:
        for submission in gb.db.query(SubmittedAssignment).join(Assignment).all():
            key = f"{submission.student_id}/{submission.assignment.name}"
            picture["grades"][key] = {
                "timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "cells": {
                    f"{nb.name}:{g.cell.name}": [g.auto_score, g.manual_score, g.needs_manual_grade]
                    for nb in submission.notebooks for g in nb.grades if isinstance(g.cell, GradeCell)
                },
            }
        for row in gb.db.execute(select(submissions)).all():
            picture["statuses"][f"{row.student}/{row.assignment}"] = {
                "received_at": row.received_at.isoformat(), "status": row.status, "reasons": json.loads(row.reasons),
                "inputs_hash": row.inputs_hash, "score": row.score, "max_score": row.max_score,
                "judgement": json.loads(row.judgement) if row.judgement else None,
            }
    return picture
