"""Worker processes that execute submissions: a pool of long-lived ``autograder.worker`` subprocesses.

Each of ``jobs`` threads drives one worker over disjoint students (each student's submissions go to
one worker, in order). A submission has a wall-clock limit: a worker that exceeds it, or dies, is
killed with its whole process tree and replaced, and the submission's :class:`Execution` says why. A
worker dies with the grader (``PR_SET_PDEATHSIG``). This module decides nothing about grades: it
hands each :class:`Execution` to the pipeline through a queue.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time

from .course import Course
from .execute import Execution, ExecuteSettings, keep_records
from .reasons import Reason, ReasonKind
from .records import RECORDS_ENV, RECORDS_NAME
from .tool_path import tool_env
from .worker import course_to


WORKER_DIED = "the grading worker died while running this submission"


def _die_with_parent() -> None:
    """Runs in the worker before exec: the kernel sends it SIGKILL when the grader dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Worker:
    """One ``autograder.worker`` subprocess, in a session of its own (so that its tree can be killed)."""

    def __init__(self, course: Course, index: int):
        logs = course.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log = open(logs / f"worker-{index}.log", "ab")
        env = tool_env({"PYTHONUNBUFFERED": "1"})
        env.pop(RECORDS_ENV, None)
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
        kill_tree(self.proc.pid)
        self.proc.wait()
        self.log.close()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            kill_tree(self.proc.pid)
            self.proc.wait()
        self.log.close()


def kill_tree(pid: int) -> None:
    """SIGKILL a process, its descendants, and its process group."""
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


class Pool:
    """``jobs`` threads, each driving one worker process over disjoint students; results go to ``results``."""

    def __init__(self, course: Course, settings: ExecuteSettings, jobs: int, submission_timeout: float,
                 tasks: list[tuple[str, str]], results: queue.Queue):
        self.course, self.settings, self.submission_timeout, self.results = course, settings, submission_timeout, results
        by_student: dict[str, list[str]] = {}
        for assignment, student in tasks:
            by_student.setdefault(student, []).append(assignment)
        self.students: queue.Queue = queue.Queue()
        for student in sorted(by_student):
            self.students.put((student, by_student[student]))
        self.threads = [threading.Thread(target=self._drive, args=(i,), daemon=True)
                        for i in range(max(1, min(jobs, len(by_student))))] if by_student else []
        self.stopping = threading.Event()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _drive(self, index: int) -> None:
        worker = None
        try:
            while not self.stopping.is_set():
                try:
                    student, assignments = self.students.get_nowait()
                except queue.Empty:
                    return
                for assignment in assignments:
                    execution, worker = run_in_worker(worker, self.course, self.settings, self.submission_timeout,
                                                      assignment, student, index)
                    self.results.put(execution)
        finally:
            if worker is not None:
                worker.close()


def run_in_worker(worker: Worker | None, course: Course, settings: ExecuteSettings, submission_timeout: float,
                  assignment: str, student: str, index: int) -> tuple[Execution, Worker | None]:
    """Execute one submission in ``worker`` (started if ``None`` or dead); return its :class:`Execution`
    and the worker to use next (``None`` once it was killed for a timeout, or died)."""
    if worker is not None and worker.proc.poll() is not None:
        worker.kill()
        worker = None
    if worker is None:
        worker = Worker(course, index)
    task = {"course": course_to(course), "settings": settings.to_dict(), "assignment": assignment, "student": student}
    kept = course.kept_records(student, assignment)
    live = course.autograded(student, assignment) / RECORDS_NAME
    kept.unlink(missing_ok=True)
    began = time.monotonic()
    try:
        answer = worker.run(task, submission_timeout)
    except Exception as error:  # noqa: BLE001 - never leave the recorder waiting
        worker.kill()
        return Execution(assignment, student, completed=False, reasons=[
            Reason(ReasonKind.GRADER_ERROR, f"grader error: {type(error).__name__}: {error}"[:300])]), None
    if answer is None or "timeout" in answer:
        reason = (Reason(ReasonKind.TIMEOUT, f"timeout: the submission ran longer than {submission_timeout:g} s")
                  if answer else Reason(ReasonKind.WORKER_DIED, WORKER_DIED))
        keep_records(live, kept)  # what the kernel reported before it was stopped
        return Execution(assignment, student, completed=False, reasons=[reason],
                         records=str(kept) if kept.is_file() else None,
                         seconds=round(time.monotonic() - began, 3)), None
    return Execution.from_dict(answer), worker
