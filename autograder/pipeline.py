"""The grading pipeline: prepare → (collect) → inspect → execute → judge → record → feedback.

One submission's path, each stage taking the previous one's typed result::

    status row ─ pending ─▶ Pending ─ integrity.inspect ─▶ Inspection ─ pool (execute) ─▶ Execution
      ─ judge ─▶ Outcome ─ record ─▶ receipt time ─ feedback ─▶ HTML pages

Each collected submission is one unit of work. Units whose inputs (the submitted files, the
assignment's source and golden files, the grader version and execution settings) are unchanged since
they were last recorded are skipped, so a rerun is idempotent and a run killed mid-batch resumes
where it stopped. Execution happens in worker subprocesses (``--jobs``; each student's submissions go
to one worker, so workers handle disjoint students), each submission under a wall-clock limit after
which its worker is killed and replaced. Judging, recording and feedback happen here, in the
instructor's process, one submission at a time: the result does not depend on the number of workers.
Process management lives in :mod:`autograder.pool`; the callers rebuild the class dashboard.
"""

from __future__ import annotations

import hashlib
import json
import queue
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from . import feedback as feedback_stage
from . import integrity, judge
from .clock import utcnow
from .course import Course, CourseError
from .execute import Execution, ExecuteSettings, kernel_config
from .gradebook import Outcome, engine_for, open_gradebook, record, status_rows
from .nbgrader_settings import write_config_file
from .pool import Pool
from .reasons import Reason, ReasonKind, reasons_from_json
from .tool_path import tool_env

GRADER_VERSION = "2"  # 2: reasons stored with their kind


@dataclass
class Options:
    settings: ExecuteSettings = field(default_factory=ExecuteSettings)
    jobs: int = 1
    submission_timeout: float = 600.0  # seconds for a whole submission, kernel start to last cell
    regrade: bool = False
    students: list[str] | None = None
    progress: bool = True
    dask: str | None = None  # a Dask scheduler's address, or "local:N" (see autograder/distributed.py)


@dataclass
class Row:
    assignment: str
    student: str
    status: str
    score: float | None
    max_score: float | None
    reasons: list[Reason]
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds: wall time of each stage of this run

    @property
    def graded(self) -> list[Row]:
        return [r for r in self.rows if not r.skipped]


# -- preparing the course folder ---------------------------------------------------------------------

def prepare(course: Course, assignments: list[str], engine: Engine | None = None) -> dict[str, judge.Plan]:
    """Course folder, gradebook, release and plan of every assignment (instructor errors raise here)."""
    course.root.mkdir(parents=True, exist_ok=True)
    course.state.mkdir(exist_ok=True)
    write_config_file(course)
    if engine is None:  # the status table is created with the engine
        engine_for(course.db_url).dispose()
    plans = {}
    for assignment in assignments:
        plans[assignment] = judge.plan(course.source_notebooks(assignment), assignment, course.golden)
        _generate(course, assignment)
    with open_gradebook(course) as gb:
        for assignment, due in course.duedates.items():
            gb.update_or_create_assignment(assignment, duedate=due)
    return plans


def _generate(course: Course, assignment: str) -> None:
    """``nbgrader generate_assignment`` when the source changed: the gradebook learns the cells."""
    digest = hashlib.sha256()
    for path in course.source_notebooks(assignment):
        digest.update(path.read_bytes())
    stamp = course.state / f"generated-{assignment}.sha256"
    released = all((course.release(assignment) / f"{n}.ipynb").is_file() for n in course.notebook_names(assignment))
    if released and stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=ERROR"],
        cwd=course.root, env=tool_env(), capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise CourseError(f"nbgrader generate_assignment {assignment} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    stamp.write_text(digest.hexdigest())


def inputs_hash(content: str, trusted_digest: str, settings: ExecuteSettings) -> str:
    """A grade's identity: the submitted files, the trusted inputs (source, golden), grader version, settings."""
    parts = [GRADER_VERSION, content, trusted_digest, json.dumps(settings.to_dict(), sort_keys=True)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# -- grading -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    """A collected submission to grade, and the identity its grade will have."""

    assignment: str
    student: str
    inputs_hash: str

    @property
    def key(self) -> tuple[str, str]:
        return self.assignment, self.student


def grade(course: Course, assignments: list[str], options: Options | None = None) -> Report:
    """Grade every collected submission of ``assignments`` that is not already graded from the same inputs."""
    options = options or Options()
    started = time.monotonic()
    clock = _Stages()
    if options.dask is None:  # Dask workers check their own sandbox
        kernel_config(options.settings)  # refuses early, with a clear error, if the sandbox cannot run
    engine = engine_for(course.db_url)  # the run's one engine for the status table
    try:
        plans = prepare(course, assignments, engine)
        report = Report(stages=clock.laps)
        todo = pending(course, engine, assignments, options, report)
    finally:
        engine.dispose()
    clock.lap("prepare")
    inspections = {item.key: inspect(course, item) for item in todo}
    clock.lap("inspect")

    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="grading", unit="submission", disable=not options.progress, file=sys.stderr)
    results: queue.Queue[Execution | Exception] = queue.Queue()
    for item in todo:
        if not inspections[item.key].runnable:
            results.put(Execution(item.assignment, item.student, completed=False))
    runnable = [item.key for item in todo if inspections[item.key].runnable]
    pool = _pool(course, options, runnable, results)
    pool.start()
    clock.lap("start_workers")
    deciding = 0.0
    try:
        with open_gradebook(course) as gb:
            by_key = {item.key: item for item in todo}
            for _ in range(len(todo)):
                execution = results.get()
                if isinstance(execution, Exception):
                    raise execution  # the run cannot go on (e.g. the Dask scheduler went away); a rerun resumes
                began = time.monotonic()
                item = by_key[(execution.assignment, execution.student)]
                outcome = decide(course, plans[item.assignment], inspections[item.key], execution, item.inputs_hash)
                received_at = record(gb, outcome)
                feedback_stage.write_outcome(course, outcome, received_at)
                report.rows.append(Row(item.assignment, item.student, outcome.status, outcome.judgement.score,
                                       outcome.judgement.max_score, outcome.reasons, execution.seconds))
                bar.set_postfix_str(f"{item.student}/{item.assignment}", refresh=False)
                bar.update()
                deciding += time.monotonic() - began
    finally:
        pool.stop()
        bar.close()
    clock.lap("execute_and_record")
    report.stages["judge_record_feedback"] = round(deciding, 3)  # inside execute_and_record, in this process
    report.stages["execution_per_submission"] = round(  # in the workers, kernel start included
        sum(r.seconds for r in report.graded) / max(1, len(report.graded)), 3)
    report.rows.sort(key=lambda r: (r.assignment, r.student))
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _pool(course: Course, options: Options, tasks: list[tuple[str, str]], results: queue.Queue):
    """Where submissions execute: local worker processes, or Dask workers (``options.dask``)."""
    if options.dask:
        from .distributed import DaskPool

        return DaskPool(course, options, tasks, results)
    return Pool(course, options.settings, options.jobs, options.submission_timeout, tasks, results)


class _Stages:
    """Wall time between successive laps, by stage name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


def pending(course: Course, engine: Engine, assignments: list[str], options: Options, report: Report) -> list[Pending]:
    """The collected submissions to grade; those graded before from the same inputs go to ``report`` as skipped."""
    todo = []
    for assignment in assignments:
        digest = course.inputs_digest(assignment)
        for row in status_rows(engine, assignment):
            if options.students and row.student not in options.students:
                continue
            wanted = inputs_hash(row.content_hash, digest, options.settings)
            if row.inputs_hash == wanted and not options.regrade:
                report.rows.append(Row(assignment, row.student, row.status, row.score, row.max_score,
                                       reasons_from_json(row.reasons), skipped=True))
                continue
            todo.append(Pending(assignment, row.student, wanted))
    return todo


def inspect(course: Course, item: Pending) -> integrity.Inspection:
    """The integrity stage, for one submission; a notebook too odd to inspect is not run."""
    try:
        return integrity.inspect(course.submitted(item.student, item.assignment), course.release(item.assignment),
                                 course.notebook_names(item.assignment))
    except Exception as error:  # noqa: BLE001 - the submission's problem, recorded; the batch goes on
        return integrity.Inspection(runnable=False, reasons=[
            Reason(ReasonKind.INVALID_NOTEBOOK, f"invalid notebook: {type(error).__name__}")])


def decide(course: Course, the_plan: judge.Plan, found: integrity.Inspection, execution: Execution,
           wanted: str) -> Outcome:
    """The judge's verdict on one executed submission, with every reason to review it."""
    try:
        records = judge.read_records(Path(execution.records) if execution.records else None, the_plan.check_names())
        verdict = judge.judge(the_plan, records, course.golden)
    except Exception as error:  # noqa: BLE001 - recorded as zero, for review; the batch goes on
        empty = judge.judge(the_plan, judge.Records({}, []), course.golden)
        return Outcome(execution.assignment, execution.student, empty,
                       [Reason(ReasonKind.GRADER_ERROR, f"grader error while judging: {type(error).__name__}")],
                       wanted, utcnow())
    verdict.flagged_imports = list(found.flagged_imports)
    reasons = list(found.reasons) + [r for r in execution.reasons if r not in found.reasons]
    if found.runnable and not execution.completed and not execution.reasons:
        reasons.append(Reason(ReasonKind.INCOMPLETE, "execution did not complete"))
    return Outcome(execution.assignment, execution.student, verdict, reasons, wanted, utcnow())
