"""The execute stage: nbgrader's autograde of one submission, in the grader's process.

The grader's side of the sandbox wall: through nbgrader it starts kernels that :mod:`autograder.sandbox`
confines, and never runs student code itself.

nbgrader does what it is good at: it restores the locked and test cells from the gradebook (after
:class:`autograder.restore.RestoreTrackedCells` has put the notebook in a shape it can handle), runs
every notebook on a kernel, and writes the autograded notebooks that formgrader shows. It writes no
score: its ``SaveAutoGrades`` step is left out, and the judge's verdict is recorded instead. The kernel
is started by the sandbox's kernel manager (``autograder.sandbox``), so student code runs as an
unprivileged user, without network, with limits, in a throwaway copy of the submission. The test
cells' ``check`` calls append records to a file in the kernel's working directory; this stage moves
that file out of the student's reach once the kernel is gone, and reports what went wrong (timeout,
dead kernel, nbgrader failure). It decides no grade: the judge does, from the records.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import Course
from .golden import GOLDEN_DIR_ENV
from .nbgrader_settings import course_directory
from .records import RECORDS_ENV, RECORDS_NAME
from .reasons import Reason, ReasonKind
from .tool_path import ensure_tool_path

TIMEOUT_ENAMES = {"CellTimeoutError", "TimeoutError"}


class SandboxRefused(RuntimeError):
    """The sandbox cannot run here, and the instructor did not accept the risk of running without it."""


@dataclass
class Execution:
    assignment: str
    student: str
    completed: bool
    reasons: list[Reason] = field(default_factory=list)
    records: str | None = None
    seconds: float = 0.0
    log_tail: str = ""

    def to_dict(self) -> dict:
        """As JSON-ready data: a worker sends it to the pipeline over a pipe."""
        return {**asdict(self), "reasons": [r.to_dict() for r in self.reasons]}

    @classmethod
    def from_dict(cls, raw: dict) -> Execution:
        return cls(**{**raw, "reasons": [Reason.from_dict(r) for r in raw.get("reasons", [])]})


@dataclass(frozen=True)
class ExecuteSettings:
    unsafe_no_sandbox: bool = False
    cell_timeout: int = 30  # seconds per cell (nbgrader's Execute.timeout)

    def to_dict(self) -> dict:
        return asdict(self)


def kernel_config(settings: ExecuteSettings):
    """nbgrader configuration for the kernel: the sandbox's, or, if the instructor accepted the risk,
    stock kernels with the sandbox's output and time bounds."""
    from traitlets.config import Config

    try:
        from . import sandbox
    except ImportError as error:
        raise SandboxRefused(f"the grading sandbox is not installed ({error}); pass --unsafe-no-sandbox to grade without it") from None
    limits = sandbox.SandboxLimits(cell_seconds=settings.cell_timeout)
    if settings.unsafe_no_sandbox:
        try:
            return Config(sandbox.nbgrader_execute_config(limits, sandbox=False))
        except Exception:  # noqa: BLE001 - stock nbgrader, with its per-cell time limit, as a last resort
            config = Config()
            config.Execute.timeout = settings.cell_timeout
            return config
    try:
        sandbox.check_sandbox()
    except sandbox.SandboxUnavailable as error:
        raise SandboxRefused(
            f"the grading sandbox cannot run here: {error}. Refusing to run student code; "
            "--unsafe-no-sandbox runs it unconfined, as you, with access to everything you can read"
        ) from None
    return Config(sandbox.nbgrader_execute_config(limits))


def nbgrader_config(course: Course, settings: ExecuteSettings):
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec
    from traitlets.config import Config

    from .restore import RestoreTrackedCells

    config = Config(course_directory(course))
    config.RestoreTrackedCells.source_directory = str(course.source)
    config.OverwriteCells.add_missing_cells = True
    config.Autograde.sanitize_preprocessors = [
        ClearOutput, RestoreTrackedCells, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
    ]
    config.merge(kernel_config(settings))
    config.Autograde.autograde_preprocessors = _without_score_writer(config)
    # Plain tracebacks: IPython's default context-rich ones take about a second each to format, and
    # an unsolved notebook fails in every test cell.
    config.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Plain"]
    return config


def _without_score_writer(config) -> list:
    """nbgrader's autograde steps without ``SaveAutoGrades``: it would score a test cell as passed when
    nothing raised. The judge is the only writer of scores (:func:`autograder.gradebook.record`)."""
    from nbgrader.converters.autograde import Autograde

    steps = config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()["autograde_preprocessors"].default()
    return [step for step in steps if (step if isinstance(step, str) else step.__name__).rpartition(".")[2] != "SaveAutoGrades"]


def execute(course: Course, assignment: str, student: str, settings: ExecuteSettings, config=None) -> Execution:
    """Run nbgrader autograde on one submission; never raises for anything the submission does."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    ensure_tool_path()
    started = time.monotonic()
    config = config if config is not None else nbgrader_config(course, settings)
    kept = course.kept_records(student, assignment)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.unlink(missing_ok=True)
    workdir = course.autograded(student, assignment)
    live_records = workdir / RECORDS_NAME
    failures: list[Reason] = []
    sandbox_reasons: list[Reason] = []

    def collect_report() -> None:
        """Records and sandbox events, moved to the instructor's side before nbgrader may delete the folder."""
        from . import sandbox

        if settings.unsafe_no_sandbox:
            keep_records(live_records, kept)
        reported = sandbox.collected_records(workdir)
        if reported is not None:
            keep_records(reported, kept)
        if workdir.is_dir():
            sandbox_reasons[:] = [_sandbox_reason(e) for e in sandbox.events(workdir) if e.review]

    class GuardedAutograde(Autograde):
        """nbgrader's Autograde that keeps the records and the cause when a notebook fails."""

        def convert_single_notebook(self, notebook_filename):
            try:
                super().convert_single_notebook(notebook_filename)
            except BaseException as error:  # reported, then nbgrader handles it
                failures.append(_describe_failure(error))
                raise
            finally:
                collect_report()

    previous = {k: os.environ.get(k) for k in (RECORDS_ENV, GOLDEN_DIR_ENV)}
    # Stock kernels (the instructor's risky choice) inherit this environment; sandboxed kernels get
    # their own, built from scratch by the sandbox.
    os.environ[RECORDS_ENV] = str(live_records)
    os.environ[GOLDEN_DIR_ENV] = str(course.state / "no-golden-here")
    try:
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        converter = GuardedAutograde(coursedir=coursedir, config=config)
        converter.force = True
        converter.create_student = True
        outcome = capture_log(converter)
    except Exception as error:  # noqa: BLE001 - a failure of this submission, not of the batch
        outcome = {"success": False, "error": traceback.format_exc(), "log": ""}
        failures.append(_describe_failure(error))
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    collect_report()

    reasons = list(dict.fromkeys(failures + sandbox_reasons))
    if not outcome.get("success") and not reasons:
        reasons.append(Reason(ReasonKind.NBGRADER_FAILED, "nbgrader could not autograde this submission"))
    if not any(r.kind is ReasonKind.TIMEOUT for r in reasons):
        reasons += _timeouts(workdir)
    log = (outcome.get("log") or "") + (outcome.get("error") or "")
    return Execution(
        assignment, student, completed=bool(outcome.get("success")), reasons=reasons,
        records=str(kept) if kept.is_file() else None, seconds=round(time.monotonic() - started, 3), log_tail=log[-4000:],
    )


def keep_records(live: Path, kept: Path) -> None:
    """Append the kernel's records to the kept file, then remove them from the working directory."""
    try:
        if live.is_symlink():
            live.unlink()
            return
        if live.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            with live.open("rb") as source, kept.open("ab") as target:
                shutil.copyfileobj(source, target, length=1 << 20)
            live.unlink()
    except OSError:
        pass


def _describe_failure(error: BaseException) -> Reason:
    chain = []
    seen = error
    while seen is not None and len(chain) < 5:
        chain.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    names = " ".join(chain)
    text = str(error)
    if "DeadKernel" in names or "Kernel died" in text:
        return Reason(ReasonKind.KERNEL_DIED, "kernel died")
    if "UnresponsiveKernel" in names or "Timeout" in names:
        return Reason(ReasonKind.TIMEOUT, "timeout: the kernel stopped responding")
    if "Sandbox" in names:
        return Reason(ReasonKind.SANDBOX_VIOLATION, f"sandbox violation: {text[:200]}")
    if "Schema" in names or "ValidationError" in names:
        return Reason(ReasonKind.INVALID_NOTEBOOK, "invalid notebook: nbgrader metadata could not be validated")
    return Reason(ReasonKind.NBGRADER_FAILED, f"nbgrader failed: {type(error).__name__}: {text[:200]}")


def _sandbox_reason(event) -> Reason:
    """A sandbox event (:mod:`autograder.sandbox.report`) that makes the submission "needs review"."""
    from .sandbox import report

    kinds = {
        report.CPU_LIMIT: ReasonKind.TIMEOUT, report.WALL_CLOCK: ReasonKind.TIMEOUT, report.CELL_TIMEOUT: ReasonKind.TIMEOUT,
        report.KILLED: ReasonKind.KERNEL_DIED, report.EXITED: ReasonKind.KERNEL_DIED,
        report.KERNEL_DIED: ReasonKind.KERNEL_DIED, report.KERNEL_START_FAILED: ReasonKind.KERNEL_DIED,
        report.OUTPUT_LOST: ReasonKind.OUTPUT_LOST,
        report.RECORDS_REJECTED: ReasonKind.SANDBOX_VIOLATION,
    }
    return Reason(kinds.get(event.kind, ReasonKind.OTHER), event.message)


def _timeouts(workdir: Path) -> list[Reason]:
    """Cells that hit the per-cell time limit, read from the autograded notebooks' error outputs."""
    import json

    found = []
    for path in sorted(workdir.glob("*.ipynb")) if workdir.is_dir() else []:
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for index, cell in enumerate(nb.get("cells", [])):
            for output in cell.get("outputs", []) or []:
                if output.get("output_type") == "error" and output.get("ename") in TIMEOUT_ENAMES:
                    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}"
                    found.append(f"{path.stem}:{grade_id}")
                    break
    if not found:
        return []
    return [Reason(ReasonKind.TIMEOUT, f"timeout: {len(found)} cell(s) exceeded the time limit ({', '.join(found[:5])})")]
