"""Read a class's gradebook into plain dataclasses: nothing else in the dashboard touches the database.

Two sources, both in the same database (any SQLAlchemy URL nbgrader accepts):

- nbgrader's own tables, the place of record: assignments and due dates, test cells and their
  points, every submission's per-cell score (a manual grade given in formgrader wins over the
  autograder's, as in nbgrader), extensions;
- the grader's status table ``autograder_submission`` (:mod:`autograder.status`): receipt time
  (the server's clock at collection, which decides lateness), status and reasons, and the judge's
  verdict per check with the hint its feedback showed.

Reading never writes: no table is created, no migration is run (nbgrader's ``Gradebook`` would do
both). Reasons and verdicts are read as the grader wrote them (:class:`autograder.reasons.Reason`,
:class:`autograder.judge.Judgement`): each check's verdict records whether its hint was *targeted*
(a known mistake recognised) or the check's general hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median

from sqlalchemy import Boolean, Column, DateTime, Float, Interval, MetaData, String, Table, create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url

from ..ids import is_assignment_id, is_student_id
from ..judge import Judgement
from ..reasons import Reason, ReasonKind, reasons_from_json
from ..status import NEEDS_REVIEW, STATUS_TABLE
from ..status import submissions as status_table


NOT_RECORDED = "nbgrader_only"  # in nbgrader's tables, never seen by this grader
# The groups of reasons that are integrity flags, in the order the page counts them.
INTEGRITY_KINDS = tuple(dict.fromkeys(kind.group for kind in ReasonKind if kind.flag))

@dataclass(frozen=True)
class TestItem:
    """A graded cell of an assignment (a test cell, or a manually graded answer)."""

    notebook: str
    grade_id: str
    points: float


@dataclass
class AssignmentInfo:
    name: str
    duedate: datetime | None  # naive UTC, as nbgrader stores it
    items: list[TestItem]

    @property
    def max_score(self) -> float:
        return float(sum(item.points for item in self.items))


@dataclass(frozen=True)
class CellScore:
    notebook: str
    grade_id: str
    points: float
    score: float
    needs_manual_grade: bool

    @property
    def full(self) -> bool:
        return self.points > 0 and self.score >= self.points


@dataclass(frozen=True)
class CheckOutcome:
    """One check of one submission, as the judge decided it."""

    notebook: str
    grade_id: str
    name: str
    passed: bool
    hint: str  # the hint the feedback showed ("" when passed or when the check has none)
    hint_kind: str  # "targeted" (a known mistake recognised), "general" or "" (no hint)

    @classmethod
    def of(cls, notebook: str, grade_id: str, check) -> CheckOutcome:
        """From the judge's :class:`autograder.judge.CheckResult`."""
        hint = "" if check.passed else str(check.hint or "")
        kind = "" if not hint else "targeted" if check.mistake is not None else "general"
        return cls(notebook, grade_id, check.name, bool(check.passed), hint, kind)


@dataclass
class Submission:
    assignment: str
    student: str
    status: str  # graded | needs_review | collected | nbgrader_only
    reasons: list[Reason]
    score: float | None  # nbgrader's total (None: nothing graded yet)
    max_score: float
    received_at: datetime | None  # naive UTC: the grader's receipt time, else nbgrader's timestamp
    due: datetime | None  # due date plus any extension
    cells: list[CellScore] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    flagged_imports: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)  # paths relative to the course folder, POSIX

    @property
    def late_by(self) -> timedelta | None:
        """How late the submission arrived (zero when on time); ``None`` without a due date or receipt."""
        if self.due is None or self.received_at is None:
            return None
        return max(timedelta(0), self.received_at - self.due)

    @property
    def late(self) -> bool:
        return bool(self.late_by)

    @property
    def needs_review(self) -> bool:
        return self.status == NEEDS_REVIEW or any(c.needs_manual_grade for c in self.cells)

    @property
    def kinds(self) -> list[str]:
        """The kinds of its reasons, in order, without repeats."""
        return list(dict.fromkeys(r.kind.group for r in self.reasons))

    @property
    def flags(self) -> list[str]:
        """Its integrity flags (kinds of reasons that say the submission tried, or did, something wrong)."""
        return list(dict.fromkeys(r.kind.group for r in self.reasons if r.kind.flag))

    @property
    def fraction(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return self.score / self.max_score


@dataclass(frozen=True)
class StudentInfo:
    id: str
    name: str  # "First Last" when the gradebook has it, else ""


@dataclass
class ClassData:
    course_id: str
    backend: str  # the database's dialect: sqlite, postgresql, ...
    assignments: list[AssignmentInfo]
    students: list[StudentInfo]
    submissions: list[Submission]
    notes: list[str] = field(default_factory=list)  # what could not be read, for the page's footer

    def submission(self, assignment: str, student: str) -> Submission | None:
        return self._index().get((assignment, student))

    def of_assignment(self, assignment: str) -> list[Submission]:
        return [s for s in self.submissions if s.assignment == assignment]

    def of_student(self, student: str) -> list[Submission]:
        return [s for s in self.submissions if s.student == student]

    def _index(self) -> dict[tuple[str, str], Submission]:
        return {(s.assignment, s.student): s for s in self.submissions}


# -- reading -----------------------------------------------------------------------------------------

def engine(db_url: str) -> Engine:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":  # wait for a grader that is writing (a URL's own ?timeout= wins)
        return create_engine(url, **({} if "timeout" in url.query else {"connect_args": {"timeout": 30}}))
    return create_engine(url, pool_pre_ping=True)


def load(db_url: str, course_dir: Path | None = None, course_id: str | None = None) -> ClassData:
    """Everything the dashboard shows, read from the gradebook at ``db_url``.

    ``course_dir``: where ``feedback/<student>/<assignment>/*.html`` are looked for; ``course_id``:
    only this course's assignments when the gradebook holds several.
    """
    db = engine(db_url)
    try:
        with db.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if "assignment" not in tables:
                raise LookupError(f"no nbgrader gradebook at {_safe_url(db_url)} (no 'assignment' table)")
            data = _read(conn, tables, course_id)
            data.backend = db.dialect.name
    finally:
        db.dispose()
    if course_dir is not None:
        for submission in data.submissions:
            submission.feedback = feedback_files(Path(course_dir), submission.assignment, submission.student)
    return data


# nbgrader's tables, only the columns read here (nbgrader.api's models, 0.9; importing nbgrader itself
# costs seconds: it loads Jupyter's server). Interval is stored as an epoch-based DATETIME on SQLite
# and as INTERVAL on PostgreSQL: SQLAlchemy's Interval reads both.
_nb = MetaData()
T_ASSIGNMENT = Table("assignment", _nb, Column("id", String(32)), Column("name", String(128)),
                     Column("duedate", DateTime), Column("course_id", String(128)))
T_NOTEBOOK = Table("notebook", _nb, Column("id", String(32)), Column("name", String(128)),
                   Column("assignment_id", String(32)))
T_BASE_CELL = Table("base_cell", _nb, Column("id", String(32)), Column("name", String(128)),
                    Column("notebook_id", String(32)))
T_GRADE_CELLS = Table("grade_cells", _nb, Column("id", String(32)), Column("max_score", Float))
T_TASK_CELLS = Table("task_cells", _nb, Column("id", String(32)), Column("max_score", Float))
T_STUDENT = Table("student", _nb, Column("id", String(128)), Column("first_name", String(128)),
                  Column("last_name", String(128)))
T_SUBMITTED = Table("submitted_assignment", _nb, Column("id", String(32)), Column("assignment_id", String(32)),
                    Column("student_id", String(128)), Column("timestamp", DateTime), Column("extension", Interval))
T_SUBMITTED_NOTEBOOK = Table("submitted_notebook", _nb, Column("id", String(32)), Column("assignment_id", String(32)),
                             Column("notebook_id", String(32)))
T_GRADE = Table("grade", _nb, Column("id", String(32)), Column("notebook_id", String(32)), Column("cell_id", String(32)),
                Column("auto_score", Float), Column("manual_score", Float), Column("extra_credit", Float),
                Column("needs_manual_grade", Boolean))


def grade_score(auto: float | None, manual: float | None, extra: float | None) -> float:
    """nbgrader's ``Grade.score``: the manual score wins over the automatic one; extra credit is added."""
    base = manual if manual is not None else auto
    return 0.0 if base is None else float(base) + float(extra or 0.0)


def _read(conn, tables: set[str], course_id: str | None) -> ClassData:
    rows = list(conn.execute(select(T_ASSIGNMENT).order_by(T_ASSIGNMENT.c.name)))
    if course_id and any(r.course_id == course_id for r in rows):
        rows = [r for r in rows if r.course_id == course_id]
    assignments = {r.id: AssignmentInfo(r.name, r.duedate, []) for r in rows}
    found_course = course_id or next((r.course_id for r in rows if r.course_id), "")

    cells = {}  # cell id -> (assignment id, item)
    for kind in (T_GRADE_CELLS, T_TASK_CELLS):
        if kind.name not in tables:
            continue
        query = (select(kind.c.id, kind.c.max_score, T_BASE_CELL.c.name, T_NOTEBOOK.c.name.label("notebook"),
                        T_NOTEBOOK.c.assignment_id)
                 .join(T_BASE_CELL, T_BASE_CELL.c.id == kind.c.id)
                 .join(T_NOTEBOOK, T_NOTEBOOK.c.id == T_BASE_CELL.c.notebook_id))
        for r in conn.execute(query):
            if r.assignment_id in assignments:
                cells[r.id] = (r.assignment_id, TestItem(r.notebook, r.name, float(r.max_score or 0)))
    for assignment_id, info in assignments.items():
        info.items = sorted((item for a, item in cells.values() if a == assignment_id),
                            key=lambda i: (i.notebook, i.grade_id))

    students = {r.id: StudentInfo(r.id, " ".join(p for p in (r.first_name, r.last_name) if p))
                for r in conn.execute(select(T_STUDENT))}

    submissions: dict[str, Submission] = {}  # submitted_assignment id -> submission
    for r in conn.execute(select(T_SUBMITTED)):
        info = assignments.get(r.assignment_id)
        if info is None or r.student_id is None:
            continue
        due = info.duedate + r.extension if info.duedate is not None and r.extension is not None else info.duedate
        submissions[r.id] = Submission(info.name, r.student_id, NOT_RECORDED, [], None, info.max_score, r.timestamp, due)

    query = (select(T_GRADE.c.cell_id, T_GRADE.c.auto_score, T_GRADE.c.manual_score, T_GRADE.c.extra_credit,
                    T_GRADE.c.needs_manual_grade, T_SUBMITTED_NOTEBOOK.c.assignment_id.label("submission_id"))
             .join(T_SUBMITTED_NOTEBOOK, T_SUBMITTED_NOTEBOOK.c.id == T_GRADE.c.notebook_id))
    for r in conn.execute(query):
        submission, cell = submissions.get(r.submission_id), cells.get(r.cell_id)
        if submission is None or cell is None:
            continue
        item = cell[1]
        score = grade_score(r.auto_score, r.manual_score, r.extra_credit)
        submission.cells.append(CellScore(item.notebook, item.grade_id, item.points, score,
                                          bool(r.needs_manual_grade) and r.manual_score is None))
        if r.auto_score is not None or r.manual_score is not None:
            submission.score = (submission.score or 0.0) + score

    by_key = {(s.assignment, s.student): s for s in submissions.values()}
    data = ClassData(found_course or "", "", list(assignments.values()), [], [])
    if STATUS_TABLE in tables:
        order = _read_statuses(conn, by_key, {i.name: i for i in assignments.values()}, data.notes)
        for info in data.assignments:  # the notebook's order, as the judge's verdicts list the cells
            rank = {key: n for n, key in enumerate(order.get(info.name, []))}
            info.items.sort(key=lambda i: (rank.get((i.notebook, i.grade_id), len(rank)), i.notebook, i.grade_id))
    else:
        data.notes.append(f"no '{STATUS_TABLE}' table: statuses, receipt times and checks are not shown")
    for submission in by_key.values():
        students.setdefault(submission.student, StudentInfo(submission.student, ""))
        rank = {(i.notebook, i.grade_id): n for n, i in enumerate(
            next(a for a in data.assignments if a.name == submission.assignment).items)}
        submission.cells.sort(key=lambda c: rank.get((c.notebook, c.grade_id), len(rank)))
    data.students = sorted(students.values(), key=lambda s: s.id)
    data.submissions = sorted(by_key.values(), key=lambda s: (s.assignment, s.student))
    return data


def _read_statuses(conn, submissions: dict[tuple[str, str], Submission], assignments: dict[str, AssignmentInfo],
                   notes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Fill in statuses, receipts and verdicts; return each assignment's cell order from the verdicts."""
    order: dict[str, list[tuple[str, str]]] = {}
    unreadable = 0
    for r in conn.execute(select(status_table)):
        info = assignments.get(r.assignment)
        if info is None:
            continue
        submission = submissions.get((r.assignment, r.student))
        if submission is None:  # collected, but nbgrader never saw it (not graded yet)
            submission = Submission(r.assignment, r.student, r.status, [], None, info.max_score, None, info.duedate)
            submissions[(r.assignment, r.student)] = submission
        submission.status = r.status
        submission.received_at = r.received_at or submission.received_at
        submission.reasons = reasons_from_json(r.reasons)
        if submission.score is None and r.score is not None:
            submission.score = float(r.score)
        if not r.judgement:
            continue
        try:
            verdict = Judgement.from_json(r.judgement)
        except (ValueError, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        submission.checks = [CheckOutcome.of(cell.notebook, cell.grade_id, check)
                             for cell in verdict.cells for check in cell.checks]
        submission.flagged_imports = [str(m) for m in verdict.flagged_imports]
        cells = [(c.notebook, c.grade_id) for c in verdict.cells]
        if len(cells) > len(order.get(r.assignment, [])):
            order[r.assignment] = cells
    if unreadable:
        notes.append(f"{unreadable} recorded verdict(s) could not be read: their checks are not counted")
    return order


def feedback_files(course_dir: Path, assignment: str, student: str) -> list[str]:
    """The student's feedback pages for one assignment, relative to the course folder."""
    if not (is_student_id(student) and is_assignment_id(assignment)):
        return []
    folder = course_dir / "feedback" / student / assignment
    if not folder.is_dir():
        return []
    return [f"feedback/{student}/{assignment}/{p.name}" for p in sorted(folder.glob("*.html")) if p.is_file()]


def _safe_url(db_url: str) -> str:
    """A database URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", db_url)


# -- what the page shows, computed from the data -----------------------------------------------------

@dataclass(frozen=True)
class ItemStats:
    """A graded cell's difficulty: how many submissions earned its points."""

    assignment: str
    notebook: str
    grade_id: str
    points: float
    attempts: int
    full: int
    mean: float  # mean points earned

    @property
    def pass_rate(self) -> float | None:
        return self.full / self.attempts if self.attempts else None


@dataclass(frozen=True)
class CheckStats:
    assignment: str
    grade_id: str
    name: str
    attempts: int
    passed: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.attempts if self.attempts else None


@dataclass(frozen=True)
class HintStats:
    """A hint the feedback showed: to whom, for which checks."""

    assignment: str
    hint: str
    kind: str
    checks: tuple[str, ...]
    students: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.students)


def item_stats(data: ClassData) -> list[ItemStats]:
    """Per graded cell, over every submission that has a score (in the assignment's cell order)."""
    found = []
    for info in data.assignments:
        scored = [s for s in data.of_assignment(info.name) if s.score is not None]
        for item in info.items:
            cells = [c for s in scored for c in s.cells if (c.notebook, c.grade_id) == (item.notebook, item.grade_id)]
            # A submission without this cell's grade (never autograded) earned nothing for it.
            attempts = len(scored)
            full = sum(1 for c in cells if c.full)
            total = sum(c.score for c in cells)
            found.append(ItemStats(info.name, item.notebook, item.grade_id, item.points, attempts, full,
                                   total / attempts if attempts else 0.0))
    return found


def check_stats(data: ClassData) -> list[CheckStats]:
    counts: dict[tuple[str, str, str], list[int]] = {}
    for submission in data.submissions:
        for check in submission.checks:
            tally = counts.setdefault((submission.assignment, check.grade_id, check.name), [0, 0])
            tally[0] += 1
            tally[1] += int(check.passed)
    return [CheckStats(a, g, n, t[0], t[1]) for (a, g, n), t in sorted(counts.items())]


def hint_stats(data: ClassData) -> list[HintStats]:
    """Every hint shown, with the students it was shown to; most frequent first."""
    grouped: dict[tuple[str, str], dict] = {}
    for submission in data.submissions:
        for check in submission.checks:
            if check.passed or not check.hint:
                continue
            entry = grouped.setdefault((submission.assignment, check.hint),
                                       {"kinds": set(), "checks": set(), "students": set()})
            entry["kinds"].add(check.hint_kind)
            entry["checks"].add(check.name)
            entry["students"].add(submission.student)
    found = []
    for (assignment, hint), entry in grouped.items():
        kinds = entry["kinds"]
        kind = "targeted" if "targeted" in kinds else "general" if "general" in kinds else "unknown"
        found.append(HintStats(assignment, hint, kind, tuple(sorted(entry["checks"])), tuple(sorted(entry["students"]))))
    found.sort(key=lambda h: (-h.count, h.assignment, h.hint))
    return found


@dataclass(frozen=True)
class StudentRow:
    student: StudentInfo
    submissions: dict[str, Submission]  # assignment -> submission
    total: float
    possible: float

    @property
    def fraction(self) -> float | None:
        return self.total / self.possible if self.possible else None

    @property
    def needs_review(self) -> bool:
        return any(s.needs_review for s in self.submissions.values())

    @property
    def flags(self) -> list[str]:
        return list(dict.fromkeys(f for s in self.submissions.values() for f in s.flags))

    @property
    def late(self) -> list[str]:
        return [a for a, s in self.submissions.items() if s.late]


def student_rows(data: ClassData) -> list[StudentRow]:
    """One row per student; the total counts a missing submission as zero of its assignment's points."""
    possible = sum(a.max_score for a in data.assignments)
    rows = []
    for student in data.students:
        mine = {s.assignment: s for s in data.of_student(student.id)}
        total = sum(s.score or 0.0 for s in mine.values())
        rows.append(StudentRow(student, mine, total, possible))
    return rows


@dataclass(frozen=True)
class AssignmentSummary:
    name: str
    max_score: float
    duedate: datetime | None
    submitted: int
    graded: int
    mean: float | None
    median: float | None
    needs_review: int
    flagged: int
    late: int


def assignment_summaries(data: ClassData) -> list[AssignmentSummary]:
    found = []
    for info in data.assignments:
        mine = data.of_assignment(info.name)
        scores = [s.score for s in mine if s.score is not None]
        found.append(AssignmentSummary(
            info.name, info.max_score, info.duedate, len(mine), len(scores),
            sum(scores) / len(scores) if scores else None, median(scores) if scores else None,
            sum(1 for s in mine if s.needs_review), sum(1 for s in mine if s.flags), sum(1 for s in mine if s.late),
        ))
    return found
