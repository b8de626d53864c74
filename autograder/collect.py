"""Collect: bring submissions into the course folder, each with a receipt time of the grader's clock.

Three ways in, one way down: every submission ends up in ``submitted/<student>/<assignment>/`` through
:func:`accept`, which copies the files (bounded: no links, no huge or numerous files), drops any
``timestamp.txt`` the student sent, records the receipt time (the grader's clock the first time these
exact contents were collected) and writes that time into the ``timestamp.txt`` nbgrader reads.
Lateness is therefore decided by the receipt time and the assignment's due date, never by a file
inside the submission.

Every way in reads a student's files through one :class:`Allowance` (the same caps everywhere, counted
while reading), and stops for no one: a file that cannot be taken (a name that is not UTF-8, say) is
skipped with its reason, a student over the caps is skipped with the reason, and the rest of the class
is collected. Name collisions (two uploads for one file, two LMS accounts for one student) keep the
latest upload and are reported in :attr:`Collected.collisions`.

- :func:`collect_exchange`: ``nbgrader collect`` from an nbgrader exchange, into a staging folder.
- :func:`collect_zip`: an LMS download (Canvas names like ``smithjane_12345_678_gradient_descent.ipynb``),
  mapped to student ids through a CSV or a regular expression.
- :func:`accept` itself, for a folder (the Gradescope entry point and the demo class use it).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .lmszip import open_lms_zip

from .clock import utcnow
from .course import Course, CourseError
from .gradebook import Receipt, engine_for, receive
from .ids import validate_assignment_id, validate_student_id
from .tool_path import tool_env

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_FILES = 200
MAX_ZIP_MEMBERS = 100_000
"""An LMS zip with more members than this is refused whole (a class's download has far fewer)."""
CHUNK_BYTES = 1024 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"

# Canvas: <lastfirst>_[LATE_]<user id>_<attachment id>_<original file name>
CANVAS_NAME = r"^(?P<name>[^_/]+?)_(?:LATE_)?(?P<lms_id>\d+)_(?P<attachment>\d+)_(?P<filename>.+)$"


@dataclass
class Collected:
    receipts: list[Receipt] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be collected, and why
    collisions: list[str] = field(default_factory=list)  # uploads that competed for one place, and which was kept


class Allowance:
    """What one student's submission may hold: ``files`` files, ``file_bytes`` each, ``total_bytes`` in all.

    :meth:`read` counts the bytes actually read (never a declared size), and raises
    :class:`CourseError` as soon as a cap is passed, having read at most one chunk beyond it.
    """

    def __init__(self, files: int | None = None, file_bytes: int | None = None, total_bytes: int | None = None) -> None:
        self.max_files = MAX_FILES if files is None else files
        self.file_bytes = MAX_FILE_BYTES if file_bytes is None else file_bytes
        self.total_bytes = MAX_TOTAL_BYTES if total_bytes is None else total_bytes
        self.files = 0
        self.total = 0

    def read(self, name: str, source: BinaryIO) -> bytes:
        if self.files >= self.max_files:
            raise CourseError(f"more than {self.max_files} files")
        chunks, size = [], 0
        while chunk := source.read(CHUNK_BYTES):
            size += len(chunk)
            if size > self.file_bytes:
                raise CourseError(f"{name} is larger than {self.file_bytes} bytes")
            if self.total + size > self.total_bytes:
                raise CourseError(f"submission larger than {self.total_bytes} bytes")
            chunks.append(chunk)
        self.files += 1
        self.total += size
        return b"".join(chunks)


def shown_name(name: str) -> str:
    """A file name as the instructor can read it, whatever its bytes (undecodable ones escaped)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def read_folder(folder: Path, note: Callable[[str], None] | None = None) -> dict[str, bytes]:
    """A submission folder's regular files, within an :class:`Allowance`; symlinks and special files are
    left out, and so is a file whose name is not UTF-8 (``note`` is told, with the reason)."""
    files: dict[str, bytes] = {}
    allowance = Allowance()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(folder).as_posix()
        if relative == "timestamp.txt" or any(part.startswith(".ipynb_checkpoints") for part in path.parts):
            continue
        if not is_utf8(relative):
            if note is not None:
                note(f"{shown_name(relative)}: the file name is not valid UTF-8; file skipped")
            continue
        with path.open("rb") as handle:
            files[relative] = allowance.read(relative, handle)
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
                  received_at: datetime | None = None, engine=None, note: Callable[[str], None] | None = None) -> Receipt:
    return accept(course, assignment, student, read_folder(folder, note), origin, received_at, engine)


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
        note = lambda text, student=student: result.skipped.append(f"{shown_name(student)}: {text}")  # noqa: E731
        try:
            result.receipts.append(accept_folder(course, assignment, student, folder, "exchange", engine=engine, note=note))
        except (CourseError, OSError, UnicodeError, ValueError) as error:  # that student only: the rest is collected
            note(str(error))
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
    itself) or an ``lms_id``/``name`` group looked up in ``mapping``; an ``attachment`` group (the
    LMS's upload number) ranks uploads, else the member's time in the zip does. A notebook's name in the
    zip may differ from the assignment's (LMS renames uploads): with one notebook in the assignment, any
    ``.ipynb`` is taken as it; otherwise names are matched after removing the LMS's ``-1`` suffixes.

    One student's files are read (within an :class:`Allowance`) and accepted before the next student's,
    so the grader holds at most one student's share at a time, whatever the zip claims.
    """
    regex = re.compile(pattern)
    ids = read_mapping(mapping) if mapping else {}
    notebooks = course.notebook_names(assignment)
    result = Collected()
    try:
        with open_lms_zip(archive) as (zf, undecodable):
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise CourseError(f"{archive.name}: {len(members)} files, more than any class download ({MAX_ZIP_MEMBERS})")
            uploads = []
            for member in members:
                if member.filename in undecodable:
                    result.skipped.append(f"{undecodable[member.filename]}: the file name is not valid UTF-8; file skipped")
                    continue
                upload = _upload(member, regex, ids, notebooks, result)
                if upload is not None:
                    uploads.append(upload)
            engine = engine_for(course.db_url)
            for student, chosen in sorted(_latest_uploads(uploads, result).items()):
                try:
                    allowance = Allowance()
                    files = {}
                    for upload in chosen:
                        with zf.open(upload.member) as handle:
                            files[upload.name] = allowance.read(upload.member.filename, handle)
                    result.receipts.append(accept(course, assignment, student, files, "zip", received_at, engine))
                except (CourseError, zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, zlib.error) as error:
                    result.skipped.append(f"{student}: {error}; nothing collected for this student")
    except zipfile.BadZipFile as error:
        raise CourseError(f"{archive.name} is not a readable zip: {error}") from None
    return result


@dataclass(frozen=True)
class Upload:
    """One zip member that names a student, and where it goes in their submission."""

    member: zipfile.ZipInfo
    student: str
    account: str
    """The LMS account it came from (its id or name), or the student id itself."""
    name: str
    rank: tuple
    """Later uploads rank higher: (upload number, time in the zip, member name)."""


def _upload(member: zipfile.ZipInfo, regex: re.Pattern, ids: dict[str, str], notebooks: list[str], result: Collected) -> Upload | None:
    base = PurePosixPath(member.filename).name
    match = regex.match(base)
    if match is None:
        result.skipped.append(f"{member.filename}: name does not match the pattern")
        return None
    groups = match.groupdict()
    account = groups.get("student") or groups.get("lms_id") or groups.get("name") or ""
    student = groups.get("student") or ids.get(groups.get("lms_id") or "") or ids.get(groups.get("name") or "")
    if not student:
        result.skipped.append(f"{member.filename}: no student id for it")
        return None
    number = groups.get("attachment") or ""
    rank = (int(number) if number.isdigit() else -1, member.date_time, member.filename)
    return Upload(member, student, account, _submitted_name(groups["filename"], notebooks), rank)


def _latest_uploads(uploads: list[Upload], result: Collected) -> dict[str, list[Upload]]:
    """Each student's uploads, one per file name: the latest wins every collision, each one reported."""
    per_student: dict[str, list[Upload]] = {}
    for upload in uploads:
        per_student.setdefault(upload.student, []).append(upload)
    chosen = {}
    for student, theirs in per_student.items():
        accounts: dict[str, list[Upload]] = {}
        for upload in theirs:
            accounts.setdefault(upload.account, []).append(upload)
        if len(accounts) > 1:  # files of two accounts are never merged
            latest = max(accounts, key=lambda a: max(u.rank for u in accounts[a]))
            others = sorted(a for a in accounts if a != latest)
            dropped = sum(len(accounts[a]) for a in others)
            result.collisions.append(
                f"{student}: LMS accounts {', '.join(others)} and {latest} all map to this student; kept the files "
                f"of {latest} (the latest upload), skipped {dropped} file(s) of the other account(s)")
            theirs = accounts[latest]
        by_name: dict[str, Upload] = {}
        for upload in sorted(theirs, key=lambda u: u.rank):
            if upload.name in by_name:
                result.collisions.append(
                    f"{student}: {by_name[upload.name].member.filename} and {upload.member.filename} are both "
                    f"{upload.name}; kept the later upload, {upload.member.filename}")
            by_name[upload.name] = upload
        chosen[student] = list(by_name.values())
    return chosen


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
            allowance = Allowance()
            files = {f"{name}.ipynb": _read_below(base / student, [*below, f"{name}.ipynb"], allowance)
                     for name in notebooks}
            result.receipts.append(accept(course, assignment, student, files, "homes", received_at, engine))
        except (CourseError, OSError) as error:
            result.skipped.append(f"{student}: {error}")
    return result


def _read_below(top: Path, parts: list[str], allowance: Allowance) -> bytes:
    """The regular file ``top/parts...``, refusing a symbolic link at every step; within ``allowance``."""
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
        if error.errno == errno.ELOOP:  # a symbolic link where a folder was expected
            raise CourseError(f"{'/'.join(parts[:-1])} goes through a symbolic link") from None
        raise
    finally:
        os.close(fd)
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise CourseError(f"{parts[-1]} is not a regular file")
        return allowance.read(parts[-1], stream)
