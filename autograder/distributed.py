"""Grading on Dask workers: ``course-grade grade --dask SCHEDULER_ADDRESS`` (or ``--dask local:N``).

The instructor's process stays the only one that judges and writes the gradebook. A Dask worker
receives a :class:`SubmissionTask` (the submitted files and the assignment's source as bytes: no
shared filesystem is needed), executes it exactly as ``--jobs`` does (nbgrader's autograde in a
grading subprocess, the kernel in the sandbox, the submission's time limit), and returns a
:class:`GradedSubmission`: the autograded notebooks and the check records, as bytes (the judge, here,
writes every score). The worker keeps a private course folder per assignment source
(its own SQLite gradebook, generated once) and deletes each submission's files once they are sent.

Faults: a worker that dies mid-submission (SIGKILL, machine lost) makes the scheduler run that
submission on another worker; a submission that killed three workers is recorded as "the grading
worker died". A worker whose sandbox does not work refuses every task (and, started with
``--preload autograder.distributed``, refuses to start). If the scheduler goes away, the run stops
with :class:`DaskUnavailable`; what was recorded stays, and the same command resumes.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .course import Course, CourseError
from .execute import Execution, ExecuteSettings, SandboxRefused, kernel_config
from .nbgrader_settings import write_config_file
from .pool import WORKER_DIED, run_in_worker
from .reasons import Reason, ReasonKind
from .records import RECORDS_NAME

LOCAL_PREFIX = "local:"
IN_FLIGHT_PER_WORKER = 4  # tasks handed to the scheduler per worker thread: bounds the bytes held there
NO_SANDBOX_EXIT = 2  # as course-grade's own exit status when the sandbox is unavailable


class DaskUnavailable(CourseError):
    """The Dask scheduler cannot be reached, went away, or has no workers."""


# -- what travels --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmissionTask:
    assignment: str
    student: str
    files: dict[str, bytes]  # the submitted folder: relative path -> content
    source: dict[str, bytes]  # the assignment's source folder (trusted masters, hidden tests included)
    source_digest: str
    course_id: str
    settings: ExecuteSettings
    submission_timeout: float


@dataclass
class GradedSubmission:
    execution: Execution  # ``records`` is None here: the records travel as bytes
    records: bytes | None
    autograded: dict[str, bytes]  # the autograded folder: relative path -> content
    worker: str = ""


def folder_files(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every regular file under ``folder`` (symlinks are not followed), by relative path."""
    found = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink() or not path.is_file() or relative.parts[0] in skip:
            continue
        found[relative.as_posix()] = path.read_bytes()
    return found


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Replace ``folder`` by exactly ``files``; refuses paths that would leave it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, content in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


# -- the worker's side ---------------------------------------------------------------------------------

_stations: dict[str, Course] = {}
_stations_lock = threading.Lock()
_scratch: list[Path] = []  # this worker process's folder for its course folders, made on first use
_local = threading.local()  # each worker thread drives its own grading subprocess


def refuse_without_sandbox(settings: ExecuteSettings) -> None:
    """Raise :class:`SandboxRefused`, naming this machine, unless submissions can run sandboxed here."""
    try:
        kernel_config(settings)
    except SandboxRefused as error:
        raise SandboxRefused(f"Dask worker on {socket.gethostname()} (pid {os.getpid()}) refuses to grade: {error}") from None


def dask_setup(worker) -> None:
    """``dask worker --preload autograder.distributed``: refuse to start without a working sandbox.

    Dask only logs a preload's exception and starts the worker anyway, so this ends the process
    before it joins the scheduler."""
    try:
        refuse_without_sandbox(ExecuteSettings())
    except SandboxRefused as error:
        print(f"course-grade: {error}", file=sys.stderr, flush=True)
        os._exit(NO_SANDBOX_EXIT)


def _station(task: SubmissionTask) -> Course:
    """This worker's private course folder for the task's assignment source (generated once)."""
    from .pipeline import _generate
    from .gradebook import engine_for
    from .sandbox.runtime import owned_tempdir

    with _stations_lock:
        key = f"{task.course_id}-{task.assignment}-{task.source_digest[:16]}"
        if key in _stations:
            return _stations[key]
        if not _scratch:
            _scratch.append(owned_tempdir("course-grade-worker-"))  # swept when this process is gone
        base = _scratch[0] / key
        write_files(base / "source" / task.assignment, task.source)
        course = Course(root=base / "course", source=base / "source", golden=base / "no-golden", course_id=task.course_id)
        course.state.mkdir(parents=True, exist_ok=True)
        write_config_file(course)
        engine_for(course.db_url).dispose()
        _generate(course, task.assignment)
        _stations[key] = course
        return course


def grade_remotely(task: SubmissionTask) -> GradedSubmission:
    """Execute one submission on this worker; return everything the instructor's process needs."""
    from nbgrader.api import Gradebook, MissingEntry

    if not task.settings.unsafe_no_sandbox:
        refuse_without_sandbox(task.settings)
    course = _station(task)
    submitted, autograded = course.submitted(task.student, task.assignment), course.autograded(task.student, task.assignment)
    write_files(submitted, task.files)
    shutil.rmtree(autograded, ignore_errors=True)
    with Gradebook(course.db_url, course.course_id) as gb:  # a fresh submission: nothing left from an earlier run
        try:
            gb.remove_submission(task.assignment, task.student)
        except MissingEntry:
            pass
    execution, _local.worker = run_in_worker(getattr(_local, "worker", None), course, task.settings,
                                             task.submission_timeout, task.assignment, task.student,
                                             threading.get_ident() % 1000)
    kept = course.kept_records(task.student, task.assignment)
    try:
        records = kept.read_bytes() if kept.is_file() else None
        files = folder_files(autograded, skip=(RECORDS_NAME,))  # the sandbox's report too, as with --jobs
    finally:
        kept.unlink(missing_ok=True)
        shutil.rmtree(submitted, ignore_errors=True)
        shutil.rmtree(autograded, ignore_errors=True)
    return GradedSubmission(replace(execution, records=None), records, files, worker=socket.gethostname())



# -- the instructor's side -----------------------------------------------------------------------------

class DaskPool:
    """Sends runnable submissions to Dask workers and puts each :class:`Execution` on ``results``
    (an exception instead, once the run cannot go on). Same interface as the pipeline's local pool."""

    def __init__(self, course: Course, options, tasks: list[tuple[str, str]], results: queue.Queue):
        self.course, self.options, self.tasks, self.results = course, options, list(tasks), results
        self.address = options.dask
        self.client = None
        self.cluster = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self._sources: dict[str, tuple[dict[str, bytes], str]] = {}

    # the pipeline's interface ------------------------------------------------------------------------
    def start(self) -> None:
        if not self.tasks:
            return
        self.client = self._connect()
        self.thread = threading.Thread(target=self._drive, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.client is not None:
            try:
                self.client.close(timeout=10)  # cancels what is still running; wakes the receiving thread
            except Exception:  # noqa: BLE001 - the scheduler may be gone already
                pass
        if self.thread is not None:
            self.thread.join(timeout=60)
        if self.cluster is not None:
            self.cluster.close(timeout=30)

    # connecting --------------------------------------------------------------------------------------
    def _connect(self):
        from distributed import Client, LocalCluster

        if self.address.startswith(LOCAL_PREFIX):
            count = self.address[len(LOCAL_PREFIX):]
            if not count.isdigit() or int(count) < 1:
                raise DaskUnavailable(f"--dask {self.address}: expected local:N with N >= 1 worker processes")
            import dask

            scratch = str(self.course.state / "dask")  # the course's, not the machine's temporary folder
            with dask.config.set({"temporary-directory": scratch}):
                self.cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None, silence_logs=40,
                                            local_directory=scratch)
            return Client(self.cluster)
        try:
            client = Client(self.address, timeout=30)
        except (OSError, TimeoutError) as error:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {self.address}: {error}") from None
        try:
            client.wait_for_workers(1, timeout=120)
        except (OSError, TimeoutError):
            client.close()
            raise DaskUnavailable(f"the Dask scheduler at {self.address} has no worker after 120 s: start "
                                  f"`dask worker {self.address} --preload autograder.distributed` on a grading machine") from None
        return client

    # sending and receiving ---------------------------------------------------------------------------
    def _task(self, assignment: str, student: str) -> SubmissionTask:
        if assignment not in self._sources:
            self._sources[assignment] = (folder_files(self.course.source / assignment),
                                         self.course.inputs_digest(assignment))
        source, digest = self._sources[assignment]
        return SubmissionTask(assignment, student, folder_files(self.course.submitted(student, assignment)), source, digest,
                              self.course.course_id, self.options.settings, self.options.submission_timeout)

    def _window(self) -> int:
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info().get("workers", {}).values())
        return max(2, IN_FLIGHT_PER_WORKER * max(1, threads))

    def _drive(self) -> None:
        from distributed import as_completed

        pending = list(self.tasks)
        keys: dict[str, tuple[str, str]] = {}

        def submit():
            assignment, student = pending.pop(0)
            future = self.client.submit(grade_remotely, self._task(assignment, student), pure=False,
                                        key=f"grade-{assignment}-{student}-{time.monotonic_ns()}")
            keys[future.key] = (assignment, student)
            return future

        try:
            stream = as_completed([submit() for _ in range(min(len(pending), self._window()))], with_results=False)
            for future in stream:
                if self.stopping.is_set():
                    return
                assignment, student = keys.pop(future.key)
                self.results.put(self._receive(future, assignment, student))
                future.release()
                while pending and len(keys) < self._window():  # workers that joined late get work too
                    stream.add(submit())
        except BaseException as error:  # noqa: BLE001 - the recorder must learn why it will wait no more
            self.results.put(error if isinstance(error, (SandboxRefused, DaskUnavailable)) else self._lost(error))

    def _receive(self, future, assignment: str, student: str) -> Execution:
        from distributed import KilledWorker

        status = future.status
        if status == "error":
            error = future.exception()
            if isinstance(error, KilledWorker):
                return Execution(assignment, student, completed=False,
                                 reasons=[Reason(ReasonKind.WORKER_DIED, WORKER_DIED)])
            if isinstance(error, SandboxRefused):
                raise error
            return Execution(assignment, student, completed=False,
                             reasons=[Reason(ReasonKind.GRADER_ERROR,
                                             f"grader error on a Dask worker: {type(error).__name__}: {error}"[:300])])
        if status != "finished":
            raise self._lost(RuntimeError(f"task {status}"))
        graded: GradedSubmission = future.result()
        kept = self.course.kept_records(student, assignment)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.unlink(missing_ok=True)
        if graded.records is not None:
            kept.write_bytes(graded.records)
        write_files(self.course.autograded(student, assignment), graded.autograded)
        return replace(graded.execution, records=str(kept) if graded.records is not None else None)

    def _lost(self, error: BaseException) -> DaskUnavailable:
        return DaskUnavailable(
            f"lost the Dask scheduler at {self.address} ({type(error).__name__}: {error}); every submission "
            "recorded so far is kept: run the same command again to grade the rest")
