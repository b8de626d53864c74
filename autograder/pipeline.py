"""The grading pipeline: prepare → (collect) → inspect → execute → judge → record → feedback.

Each collected submission is one unit of work. Units whose inputs (the submitted files, the
assignment's source and golden files, the grader version and execution settings) are unchanged since
they were last recorded are skipped, so a rerun is idempotent and a run killed mid-batch resumes
where it stopped. Execution happens in worker subprocesses (``--jobs``; each student's submissions go
to one worker, so workers handle disjoint students), each submission under a wall-clock limit after
which its worker is killed and replaced. Judging, recording and feedback happen here, in the
instructor's process, one submission at a time: the result does not depend on the number of workers.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import feedback as feedback_stage
from . import integrity, judge
from .course import Course, CourseError, tool_env, utcnow
from .execute import RECORDS_NAME, Execution, ExecuteSettings, keep_records, kernel_config, records_path
from .record import Outcome, engine_for, open_gradebook, record, status_rows
from .worker import course_to

GRADER_VERSION = "1"


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
    reasons: list[str]
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    dashboard: Path | None = None  # the class dashboard, rebuilt after every grading run
    stages: dict[str, float] = field(default_factory=dict)  # seconds: wall time of each stage of this run

    @property
    def graded(self) -> list[Row]:
        return [r for r in self.rows if not r.skipped]


# -- preparing the course folder ---------------------------------------------------------------------

def prepare(course: Course, assignments: list[str]) -> dict[str, judge.Plan]:
    """Course folder, gradebook, release and plan of every assignment (instructor errors raise here)."""
    course.root.mkdir(parents=True, exist_ok=True)
    course.state.mkdir(exist_ok=True)
    (course.root / "nbgrader_config.py").write_text(course.config_text())
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

def grade(course: Course, assignments: list[str], options: Options | None = None) -> Report:
    """Grade every collected submission of ``assignments`` that is not already graded from the same inputs."""
    options = options or Options()
    started = time.monotonic()
    clock = _Stages({})
    if options.dask is None:
        kernel_config(options.settings)  # refuses early, with a clear error, if the sandbox cannot run
    plans = prepare(course, assignments)
    engine = engine_for(course.db_url)
    report = Report(stages=clock.into)
    clock.lap("prepare")
    todo: list[tuple[str, str, str]] = []  # (assignment, student, inputs hash)
    digests = {a: course.inputs_digest(a) for a in assignments}
    for assignment in assignments:
        for row in status_rows(engine, assignment):
            if options.students and row.student not in options.students:
                continue
            wanted = inputs_hash(row.content_hash, digests[assignment], options.settings)
            if row.inputs_hash == wanted and not options.regrade:
                report.rows.append(Row(assignment, row.student, row.status, row.score, row.max_score,
                                       json.loads(row.reasons), skipped=True))
                continue
            todo.append((assignment, row.student, wanted))
    engine.dispose()

    inspections = {}
    runnable = []
    for assignment, student, wanted in todo:
        try:
            found = integrity.inspect(course.submitted(student, assignment), course.release(assignment),
                                      course.notebook_names(assignment))
        except Exception as error:  # noqa: BLE001 - a notebook too odd to inspect is not run
            found = integrity.Inspection(runnable=False, reasons=[f"invalid notebook: {type(error).__name__}"])
        inspections[(assignment, student)] = found
        if found.runnable:
            runnable.append((assignment, student))
    clock.lap("inspect")

    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="grading", unit="submission", disable=not options.progress, file=sys.stderr)
    results: queue.Queue = queue.Queue()
    for assignment, student, _ in todo:
        if (assignment, student) not in runnable:
            results.put(Execution(assignment, student, completed=False))
    pool = _pool(course, options, runnable, results)
    pool.start()
    clock.lap("start_workers")
    engine = engine_for(course.db_url)
    deciding = 0.0
    try:
        with open_gradebook(course) as gb:
            wanted_hash = {(a, s): h for a, s, h in todo}
            for _ in range(len(todo)):
                execution: Execution | Exception = results.get()
                if isinstance(execution, Exception):
                    raise execution  # the run cannot go on (e.g. the Dask scheduler went away)
                began = time.monotonic()
                key = (execution.assignment, execution.student)
                pool.save_autogrades(gb, execution)
                try:
                    outcome = _decide(course, plans[execution.assignment], inspections[key], execution, wanted_hash[key])
                except Exception as error:  # noqa: BLE001 - recorded as zero, for review; the batch goes on
                    empty = judge.judge(plans[execution.assignment], judge.Records({}, []), course.golden)
                    outcome = Outcome(execution.assignment, execution.student, empty,
                                      [f"grader error while judging: {type(error).__name__}"], wanted_hash[key], utcnow())
                record(gb, outcome)
                feedback_stage.write(course, execution.assignment, execution.student, engine)
                report.rows.append(Row(execution.assignment, execution.student, outcome.status, outcome.judgement.score,
                                       outcome.judgement.max_score, outcome.reasons, execution.seconds))
                bar.set_postfix_str(f"{execution.student}/{execution.assignment}", refresh=False)
                bar.update()
                deciding += time.monotonic() - began
    finally:
        pool.stop()
        bar.close()
        engine.dispose()
    clock.lap("execute_and_record")
    report.stages["judge_record_feedback"] = round(deciding, 3)  # inside execute_and_record, in this process
    report.stages["execution_per_submission"] = round(
        sum(r.seconds for r in report.graded) / max(1, len(report.graded)), 3)  # in the workers, kernel start included
    report.rows.sort(key=lambda r: (r.assignment, r.student))
    from .dashboard import build_dashboard

    report.dashboard = build_dashboard(course.db_url, course.root, golden=course.golden)
    clock.lap("dashboard")
    report.seconds = round(time.monotonic() - started, 2)
    return report


class _Stages:
    """Wall time between successive laps, by stage name."""

    def __init__(self, into: dict[str, float]):
        self.into, self.last = into, time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.into[name] = round(now - self.last, 3)
        self.last = now


def _decide(course: Course, the_plan: judge.Plan, found: integrity.Inspection, execution: Execution, wanted: str) -> Outcome:
    records = judge.read_records(Path(execution.records) if execution.records else None, the_plan.check_names())
    verdict = judge.judge(the_plan, records, course.golden)
    verdict.flagged_imports = judge.flagged_imports(found.student_sources)
    reasons = list(found.reasons) + [r for r in execution.reasons if r not in found.reasons]
    if verdict.flagged_imports:
        reasons.append(f"imports a library that ships optimizers: {', '.join(verdict.flagged_imports)}")
    if found.runnable and not execution.completed and not execution.reasons:
        reasons.append("execution did not complete")
    return Outcome(execution.assignment, execution.student, verdict, reasons, wanted, utcnow())


# -- workers -----------------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """Runs in the worker before exec: the kernel sends it SIGKILL when the grader dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class _Worker:
    def __init__(self, course: Course, index: int):
        logs = course.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log = open(logs / f"worker-{index}.log", "ab")
        env = tool_env({"PYTHONUNBUFFERED": "1"})
        env.pop("AUTOGRADER_RECORDS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            env=env, cwd=course.root, start_new_session=True, preexec_fn=_die_with_parent,
        )

    def run(self, task: dict, timeout: float) -> dict | None:
        """The worker's result, or ``None`` if it died or ran out of time (then it is killed)."""
        try:
            self.proc.stdin.write((json.dumps(task) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout):
                self.kill()
                return {"timeout": True}
            line = self.proc.stdout.readline()
        finally:
            selector.close()
        if not line:
            self.kill()
            return None
        return json.loads(line)

    def kill(self) -> None:
        _kill_tree(self.proc.pid)
        self.proc.wait()
        self.log.close()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            _kill_tree(self.proc.pid)
            self.proc.wait()
        self.log.close()


def _kill_tree(pid: int) -> None:
    try:
        import psutil

        children = psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or the process is gone
        children = []
    for process in [*children]:
        try:
            process.kill()
        except Exception:  # noqa: BLE001
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pool(course: Course, options: Options, tasks: list[tuple[str, str]], results: queue.Queue):
    """Where submissions execute: local worker processes, or Dask workers (``options.dask``)."""
    if options.dask:
        from .distributed import DaskPool

        return DaskPool(course, options, tasks, results)
    return _Pool(course, options, tasks, results)


class _Pool:
    """``jobs`` threads, each driving one worker process over disjoint students."""

    def __init__(self, course: Course, options: Options, tasks: list[tuple[str, str]], results: queue.Queue):
        self.course, self.options, self.results = course, options, results
        by_student: dict[str, list[str]] = {}
        for assignment, student in tasks:
            by_student.setdefault(student, []).append(assignment)
        self.students: queue.Queue = queue.Queue()
        for student in sorted(by_student):
            self.students.put((student, by_student[student]))
        self.threads = [threading.Thread(target=self._drive, args=(i,), daemon=True)
                        for i in range(max(1, min(options.jobs, len(by_student))))] if by_student else []
        self.stopping = threading.Event()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def save_autogrades(self, gradebook, execution: Execution) -> None:
        """Nothing to do: the workers' nbgrader wrote its scores into the course's gradebook."""

    def _drive(self, index: int) -> None:
        worker = None
        try:
            while not self.stopping.is_set():
                try:
                    student, assignments = self.students.get_nowait()
                except queue.Empty:
                    return
                for assignment in assignments:
                    execution, worker = run_in_worker(worker, self.course, self.options, assignment, student, index)
                    self.results.put(execution)
        finally:
            if worker is not None:
                worker.close()


def run_in_worker(worker: _Worker | None, course: Course, options: Options, assignment: str, student: str,
                  index: int) -> tuple[Execution, _Worker | None]:
    """Execute one submission in ``worker`` (started if ``None`` or dead); return the execution and the
    worker to use next (``None`` once it was killed for a timeout or died)."""
    if worker is not None and worker.proc.poll() is not None:
        worker.kill()
        worker = None
    if worker is None:
        worker = _Worker(course, index)
    task = {"course": course_to(course), "settings": options.settings.to_dict(), "assignment": assignment, "student": student}
    kept = records_path(course, assignment, student)
    live = course.autograded(student, assignment) / RECORDS_NAME
    kept.unlink(missing_ok=True)
    began = time.monotonic()
    try:
        answer = worker.run(task, options.submission_timeout)
    except Exception as error:  # noqa: BLE001 - never leave the recorder waiting
        worker.kill()
        return Execution(assignment, student, completed=False,
                         reasons=[f"grader error: {type(error).__name__}: {error}"[:300]]), None
    if answer is None or "timeout" in answer:
        reason = (f"timeout: the submission ran longer than {options.submission_timeout:g} s"
                  if answer else "the grading worker died while running this submission")
        keep_records(live, kept)  # what the kernel reported before it was stopped
        return Execution(assignment, student, completed=False, reasons=[reason],
                         records=str(kept) if kept.is_file() else None,
                         seconds=round(time.monotonic() - began, 3)), None
    return Execution(**answer), worker


def received_at(course: Course, assignment: str, student: str) -> datetime | None:
    from .record import status_row

    engine = engine_for(course.db_url)
    try:
        row = status_row(engine, assignment, student)
    finally:
        engine.dispose()
    return row.received_at if row else None
