"""A class's course folder: where nbgrader keeps submissions, the gradebook and feedback.

A class is graded in its own folder (the demo's is ``.state/demo-course/``), laid out as nbgrader
expects (``submitted/<student>/<assignment>/``, ``autograded/...``, ``feedback/...``, ``release/...``),
whose ``nbgrader_config.py`` points at the instructor's ``source/`` (trusted, never copied into a
sandbox) and at its gradebook, any SQLAlchemy URL nbgrader accepts. The grader's own state (staging,
stamps) lives in ``<root>/.autograder/``.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import golden as golden_store

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
ASSIGNMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class CourseError(RuntimeError):
    """The course folder or the instructor's inputs are not usable (an instructor's error, not a student's)."""


@dataclass(frozen=True)
class Course:
    """Where one class is graded, and the trusted inputs it is graded against."""

    root: Path
    source: Path  # the instructor's nbgrader masters: <source>/<assignment>/<notebook>.ipynb
    golden: Path  # the instructor's golden files: <golden>/<assignment>.json
    db_url: str = ""  # empty: SQLite gradebook.db in root
    course_id: str = "course"
    exchange: Path | None = None
    duedates: dict[str, datetime] = field(default_factory=dict)  # assignment -> due date (UTC)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())
        object.__setattr__(self, "source", Path(self.source).resolve())
        object.__setattr__(self, "golden", Path(self.golden).resolve())
        if not self.db_url:
            object.__setattr__(self, "db_url", f"sqlite:///{self.root / 'gradebook.db'}")
        if self.db_url.startswith("sqlite") and "?" not in self.db_url:
            # Workers and the recorder write the same SQLite file: wait for a lock instead of failing.
            object.__setattr__(self, "db_url", self.db_url + "?timeout=120")

    # -- paths ------------------------------------------------------------------------------------
    def submitted(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        return self.root / "feedback" / student / assignment

    def release(self, assignment: str) -> Path:
        return self.root / "release" / assignment

    @property
    def state(self) -> Path:
        return self.root / ".autograder"

    def source_notebooks(self, assignment: str) -> list[Path]:
        folder = self.source / assignment
        found = sorted(folder.glob("*.ipynb"))
        if not found:
            raise CourseError(f"no source notebook for assignment {assignment!r} in {folder}")
        return found

    def notebook_names(self, assignment: str) -> list[str]:
        return [p.stem for p in self.source_notebooks(assignment)]

    def assignments(self) -> list[str]:
        """Assignments of the source folder that have a golden file."""
        return gradable_assignments(self.source, self.golden)

    def golden_file(self, assignment: str) -> Path:
        return self.golden / f"{assignment}.json"

    # -- hashes of the trusted inputs (part of a grading's identity) -------------------------------
    def inputs_digest(self, assignment: str) -> str:
        """Hash of everything trusted that a grade depends on: source files and golden file."""
        digest = hashlib.sha256()
        folder = self.source / assignment
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
        golden = self.golden_file(assignment)
        digest.update(golden.read_bytes() if golden.is_file() else b"<no golden>")
        return digest.hexdigest()

    def save_settings(self) -> Path:
        """Keep this course's settings in ``.autograder/course.json``, where ``course-grade`` finds them."""
        import json

        path = self.state / "course.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        default = Course(self.root, self.source, self.golden).db_url  # kept implicit: the folder may be moved or copied
        path.write_text(json.dumps({
            "source": str(self.source), "golden": str(self.golden), "db_url": "" if self.db_url == default else self.db_url,
            "course_id": self.course_id,
            "exchange": str(self.exchange) if self.exchange else None,
            "duedates": {k: v.isoformat() for k, v in self.duedates.items()},
        }, indent=1))
        return path

    # -- nbgrader configuration --------------------------------------------------------------------
    def config_text(self) -> str:
        """The course folder's ``nbgrader_config.py``: lets nbgrader's own commands (formgrader, export,
        release_feedback) work in the folder. Paths are this machine's, written at set-up time into a
        folder that is never committed."""
        lines = [
            '"""Written by the autograder (autograder/course.py): this class\'s nbgrader settings."""',
            "c = get_config()  # noqa: F821",
            f"c.CourseDirectory.root = {str(self.root)!r}",
            f"c.CourseDirectory.source_directory = {str(self.source)!r}",
            f"c.CourseDirectory.course_id = {self.course_id!r}",
            f"c.CourseDirectory.db_url = {self.db_url!r}",
            "c.ClearOutput.enabled = True",
        ]
        if self.exchange is not None:
            lines.append(f"c.Exchange.root = {str(self.exchange)!r}")
        return "\n".join(lines) + "\n"


def gradable_assignments(source: Path, golden: Path) -> list[str]:
    """The assignments that can be graded: a folder of ``source`` with notebooks, and a golden file."""
    return sorted(p.name for p in source.iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")) and (golden / f"{p.name}.json").is_file())


def validate_student_id(student: str) -> str:
    if not STUDENT_ID.match(student) or student in {".", ".."}:
        raise CourseError(f"not a usable student id: {student!r}")
    return student


def validate_assignment_id(assignment: str) -> str:
    if not ASSIGNMENT_ID.match(assignment):
        raise CourseError(f"not a usable assignment id: {assignment!r}")
    return assignment


def utcnow() -> datetime:
    """The grader's clock, as naive UTC (the gradebook's convention)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for nbgrader subprocesses: this interpreter's scripts first on PATH (nbgrader
    runs ``alembic`` from PATH when it creates a gradebook)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def ensure_tool_path() -> None:
    """Make ``alembic`` findable for nbgrader running in this process."""
    os.environ["PATH"] = tool_env()["PATH"]


def default_golden() -> Path:
    return golden_store.golden_dir() or Path(golden_store.__file__).with_name("golden")
