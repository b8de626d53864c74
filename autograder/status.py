"""The grader's status table, ``autograder_submission``, and its statuses: one definition, read and
written by the grader (:mod:`autograder.gradebook`) and read by the dashboard.

It lives in the same database as nbgrader's gradebook (any SQLAlchemy URL nbgrader accepts): the
receipt time recorded at collection, the status with its reasons (JSON of
:class:`autograder.reasons.Reason`), the hash of the inputs a grade was computed from, and the
judgement (JSON of :class:`autograder.judge.Judgement`) the feedback is written from.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text

GRADED, NEEDS_REVIEW, COLLECTED = "graded", "needs_review", "collected"
STATUS_TABLE = "autograder_submission"

metadata = MetaData()
submissions = Table(
    STATUS_TABLE,
    metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("received_at", DateTime, nullable=False),  # the grader's clock at collection (UTC)
    Column("content_hash", String(64), nullable=False),  # of the collected files
    Column("origin", String(32), nullable=False),  # exchange | zip | gradescope | folder
    Column("status", String(16), nullable=False),  # collected | graded | needs_review
    Column("reasons", Text, nullable=False, default="[]"),  # JSON list of autograder.reasons.Reason
    Column("inputs_hash", String(64)),  # submission + source + golden + grader version, when graded
    Column("score", Float),
    Column("max_score", Float),
    Column("judgement", Text),  # JSON of autograder.judge.Judgement
    Column("graded_at", DateTime),
)
