"""A class's course folder: where nbgrader keeps submissions, the gradebook and feedback.

A class is graded in its own folder (the demo's is ``.state/demo-course/``), laid out as nbgrader
expects (``submitted/<student>/<assignment>/``, ``autograded/...``, ``feedback/...``, ``release/...``),
whose ``nbgrader_config.py`` points at the instructor's ``source/`` (trusted, never copied into a
sandbox) and at its gradebook, any SQLAlchemy URL nbgrader accepts. The grader's own state (staging,
stamps) lives in ``<root>/.autograder/``.

:class:`Course` is the one object the stages take. Beside it, each in a module of its own: the saved
settings (:mod:`autograder.course_settings`), nbgrader's settings for the folder
(:mod:`autograder.nbgrader_settings`), which ids may name folders (:mod:`autograder.ids`), the grader's
clock (:mod:`autograder.clock`) and the PATH nbgrader's tools need (:mod:`autograder.tool_path`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import golden as golden_store

STATE_DIR = ".autograder"
"""The grader's own folder inside a course folder: staging, stamps, kept records, saved settings."""


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
        return self.root / STATE_DIR

    def kept_records(self, student: str, assignment: str) -> Path:
        """Where a submission's check records are kept once its kernel is gone (instructor-only)."""
        return self.state / "records" / assignment / f"{student}.jsonl"

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


def gradable_assignments(source: Path, golden: Path) -> list[str]:
    """The assignments that can be graded: a folder of ``source`` with notebooks, and a golden file."""
    return sorted(p.name for p in source.iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")) and (golden / f"{p.name}.json").is_file())


def default_golden() -> Path:
    return golden_store.golden_dir() or Path(golden_store.__file__).with_name("golden")
