"""Collect: bring submissions into the course folder, each with a receipt time of the grader's clock.

Three ways in, one way down: every submission ends up in ``submitted/<student>/<assignment>/`` through
:func:`accept`, which copies the files (bounded: no links, no huge or numerous files), drops any
``timestamp.txt`` the student sent, records the receipt time (the grader's clock the first time these
exact contents were collected) and writes that time into the ``timestamp.txt`` nbgrader reads.
Lateness is therefore decided by the receipt time and the assignment's due date, never by a file
inside the submission.

- :func:`collect_exchange`: ``nbgrader collect`` from an nbgrader exchange, into a staging folder.
- :func:`collect_zip`: an LMS download (Canvas names like ``smithjane_12345_678_gradient_descent.ipynb``),
  mapped to student ids through a CSV or a regular expression.
- :func:`accept` itself, for a folder (the Gradescope entry point and the demo class use it).
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from .course import Course, CourseError, tool_env, utcnow, validate_assignment_id, validate_student_id
from .record import Receipt, engine_for, receive

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_FILES = 200
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"

# Canvas: <lastfirst>_[LATE_]<user id>_<attachment id>_<original file name>
CANVAS_NAME = r"^(?P<name>[^_/]+?)_(?:LATE_)?(?P<lms_id>\d+)_(?P<attachment>\d+)_(?P<filename>.+)$"


@dataclass
class Collected:
    receipts: list[Receipt] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be collected, and why


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def read_folder(folder: Path) -> dict[str, bytes]:
    """A submission folder's regular files, bounded; symlinks and special files are left out."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(folder).as_posix()
        if relative == "timestamp.txt" or any(part.startswith(".ipynb_checkpoints") for part in path.parts):
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CourseError(f"{relative} is {size} bytes (limit {MAX_FILE_BYTES})")
        total += size
        if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
            raise CourseError(f"submission larger than {MAX_TOTAL_BYTES} bytes or {MAX_FILES} files")
        files[relative] = path.read_bytes()
    return files


def accept(course: Course, assignment: str, student: str, files: dict[str, bytes], origin: str,
           received_at: datetime | None = None, engine=None) -> Receipt:
    """Put one submission in ``submitted/`` and record its receipt time."""
    validate_assignment_id(assignment)
    validate_student_id(student)
    files = {name: data for name, data in files.items() if PurePosixPath(name).name != "timestamp.txt" or "/" in name}
    for name in files:
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or not parts:
            raise CourseError(f"unsafe file name in submission: {name!r}")
    engine = engine or engine_for(course.db_url)
    receipt = receive(engine, assignment, student, content_hash(files), origin, received_at or utcnow())
    folder = course.submitted(student, assignment)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (folder / "timestamp.txt").write_text(receipt.received_at.strftime(TIMESTAMP_FORMAT))
    return receipt


def accept_folder(course: Course, assignment: str, student: str, folder: Path, origin: str = "folder",
                  received_at: datetime | None = None, engine=None) -> Receipt:
    return accept(course, assignment, student, read_folder(folder), origin, received_at, engine)


# -- the nbgrader exchange ---------------------------------------------------------------------------

def collect_exchange(course: Course, assignment: str, exchange: Path | None = None) -> Collected:
    """``nbgrader collect`` every latest submission of ``assignment`` into a staging folder, then accept each."""
    exchange = exchange or course.exchange
    if exchange is None:
        raise CourseError("no exchange folder given")
    staging = course.state / "staging" / assignment
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    command = [
        sys.executable, "-m", "nbgrader", "collect", assignment,
        f"--Exchange.root={exchange}", f"--CourseDirectory.root={course.root}",
        f"--CourseDirectory.course_id={course.course_id}", f"--CourseDirectory.db_url={course.db_url}",
        f"--CourseDirectory.submitted_directory={staging}", "--CollectApp.check_owner=False", "--log-level=WARN",
    ]
    done = subprocess.run(command, cwd=course.root, env=tool_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise CourseError(f"nbgrader collect failed:\n{done.stderr[-2000:]}")
    result = Collected()
    engine = engine_for(course.db_url)
    for folder in sorted(staging.glob(f"*/{assignment}")):
        student = folder.parent.name
        try:
            result.receipts.append(accept_folder(course, assignment, student, folder, "exchange", engine=engine))
        except CourseError as error:
            result.skipped.append(f"{student}: {error}")
    shutil.rmtree(staging, ignore_errors=True)
    return result


# -- an LMS zip download -----------------------------------------------------------------------------

def read_mapping(path: Path) -> dict[str, str]:
    """CSV with a ``student_id`` column and an ``lms_id`` (or ``name``) column naming the LMS side."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    key = next((k for k in ("lms_id", "canvas_id", "ID", "name") if k in rows[0]), None)
    if key is None or "student_id" not in rows[0]:
        raise CourseError(f"{path.name}: needs a student_id column and an lms_id (or name) column")
    return {row[key].strip(): row["student_id"].strip() for row in rows if row.get(key) and row.get("student_id")}


def collect_zip(course: Course, assignment: str, archive: Path, mapping: Path | None = None,
                pattern: str = CANVAS_NAME, received_at: datetime | None = None) -> Collected:
    """Accept every submission in an LMS zip.

    ``pattern`` must have a ``filename`` group, and either a ``student`` group (the student id
    itself) or an ``lms_id``/``name`` group looked up in ``mapping``. A notebook's name in the zip may
    differ from the assignment's (LMS renames uploads): with one notebook in the assignment, any
    ``.ipynb`` is taken as it; otherwise names are matched after removing the LMS's ``-1`` suffixes.
    """
    regex = re.compile(pattern)
    ids = read_mapping(mapping) if mapping else {}
    notebooks = course.notebook_names(assignment)
    per_student: dict[str, dict[str, bytes]] = {}
    result = Collected()
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > 20 * MAX_FILES:
            raise CourseError(f"{archive.name}: too many files")
        for member in sorted(members, key=lambda m: m.filename):
            base = PurePosixPath(member.filename).name
            match = regex.match(base)
            if match is None:
                result.skipped.append(f"{member.filename}: name does not match the pattern")
                continue
            groups = match.groupdict()
            student = groups.get("student") or ids.get(groups.get("lms_id") or "") or ids.get(groups.get("name") or "")
            if not student:
                result.skipped.append(f"{member.filename}: no student id for it")
                continue
            if member.file_size > MAX_FILE_BYTES:
                result.skipped.append(f"{member.filename}: larger than {MAX_FILE_BYTES} bytes")
                continue
            name = _submitted_name(groups["filename"], notebooks)
            with zf.open(member) as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                result.skipped.append(f"{member.filename}: larger than {MAX_FILE_BYTES} bytes")
                continue
            per_student.setdefault(student, {})[name] = data
    engine = engine_for(course.db_url)
    for student, files in sorted(per_student.items()):
        try:
            result.receipts.append(accept(course, assignment, student, files, "zip", received_at, engine))
        except CourseError as error:
            result.skipped.append(f"{student}: {error}")
    return result


def _submitted_name(filename: str, notebooks: list[str]) -> str:
    path = PurePosixPath(filename)
    if path.suffix != ".ipynb":
        return re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)
    if len(notebooks) == 1:
        return f"{notebooks[0]}.ipynb"
    stem = re.sub(r"(-\d+)+$", "", path.stem)
    return f"{stem}.ipynb" if stem in notebooks else re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)


# -- students' home folders (a hub that snapshots them at the deadline) ------------------------------

STUDENT_FIELD = "{student}"


def collect_homes(course: Course, assignment: str, pattern: str, students: list[str] | None = None,
                  received_at: datetime | None = None) -> Collected:
    """Accept each student's notebooks of ``assignment`` from the folder ``pattern`` names in their home.

    ``pattern`` is a folder path with ``{student}`` (once, as a whole path component) and optionally
    ``{assignment}``, e.g. ``/srv/homes/{student}/optimizers-student/release/{assignment}``. Without
    ``students``, every folder that matches is a student. Only the assignment's notebooks are taken,
    as regular files: a symbolic link anywhere below the student's folder (``/srv/homes/<student>``)
    is refused, so a student cannot make the grader copy someone else's file. A student whose
    notebooks are missing or unusable is skipped with the reason; the others are collected.
    """
    parts = Path(pattern.replace("{assignment}", assignment)).parts
    if parts.count(STUDENT_FIELD) != 1 or any(STUDENT_FIELD in p and p != STUDENT_FIELD for p in parts):
        raise CourseError(f"the path pattern needs {STUDENT_FIELD} once, as a whole folder name: {pattern!r}")
    index = parts.index(STUDENT_FIELD)
    base, below = Path(*parts[:index]), parts[index + 1:]
    if students is None:
        students = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink()) if base.is_dir() else []
    notebooks = course.notebook_names(assignment)
    result = Collected()
    engine = engine_for(course.db_url)
    for student in students:
        try:
            validate_student_id(student)
            files = {f"{name}.ipynb": _read_below(base / student, [*below, f"{name}.ipynb"]) for name in notebooks}
            result.receipts.append(accept(course, assignment, student, files, "homes", received_at, engine))
        except (CourseError, OSError) as error:
            result.skipped.append(f"{student}: {error}")
    return result


def _read_below(top: Path, parts: list[str]) -> bytes:
    """The regular file ``top/parts...``, refusing a symbolic link at every step; bounded."""
    import os
    import stat

    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(top, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            if part in ("", ".", ".."):
                raise CourseError(f"unusable folder name {part!r} in the path pattern")
            step = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = step
        try:
            handle = os.open(parts[-1], flags, dir_fd=fd)
        except FileNotFoundError:
            raise CourseError(f"no {'/'.join(parts)} in the home folder") from None
        except OSError as error:
            raise CourseError(f"{'/'.join(parts)} is not a regular file ({error.strerror})") from None
    except NotADirectoryError:
        raise CourseError(f"{'/'.join(parts[:-1])} is not a folder (symbolic links are refused)") from None
    except FileNotFoundError:
        raise CourseError(f"no {'/'.join(parts[:-1])} in the home folder") from None
    except OSError as error:
        if error.errno == 40:  # ELOOP: a symbolic link where a folder was expected
            raise CourseError(f"{'/'.join(parts[:-1])} goes through a symbolic link") from None
        raise
    finally:
        os.close(fd)
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise CourseError(f"{parts[-1]} is not a regular file")
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise CourseError(f"{parts[-1]} is larger than {MAX_FILE_BYTES} bytes")
    return data
