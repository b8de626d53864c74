"""What the sandbox reports about one submission, kept beside its autograded notebook.

The grader (never student code) writes, in ``<autograded folder>/.autograder-sandbox/``:

- ``records.jsonl``: the records the submission's kernels wrote through the check API,
  copied out of the sandbox after each kernel ended (a regular file, within the size bound);
- ``events.jsonl``: one JSON object per line, ``{"kind", "message", "review"}``: limits hit,
  kernels that died or were killed, outputs truncated, records rejected.

Student code cannot write there: its working directory is a throwaway copy of the
submission. A folder of that name inside a submission is never trusted: nbgrader is told not
to copy it (:func:`autograder.sandbox.bounded_execute.nbgrader_execute_config`) and the first kernel
of a submission in a grading run deletes whatever is there.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

REPORT_DIR = ".autograder-sandbox"
RECORDS_FILE = "records.jsonl"
EVENTS_FILE = "events.jsonl"

# Kinds of events. Those marked for review make the submission "needs review".
CPU_LIMIT = "cpu_limit"
KILLED = "killed"
EXITED = "exited"
WALL_CLOCK = "wall_clock"
KERNEL_DIED = "kernel_died"
KERNEL_START_FAILED = "kernel_start_failed"
CELL_TIMEOUT = "cell_timeout"
OUTPUT_LOST = "output_lost"
RECORDS_REJECTED = "records_rejected"
OUTPUT_TRUNCATED = "output_truncated"
MEMORY_ERROR = "memory_error"
MEMORY_LIMIT = "memory_limit"
WORK_FULL = "work_full"


@dataclass(frozen=True)
class Event:
    kind: str
    message: str
    review: bool = True


def report_dir(folder: str | os.PathLike) -> Path:
    return Path(folder) / REPORT_DIR


def reset(folder: str | os.PathLike) -> None:
    """Forget any earlier report for this folder (or one planted in the submission)."""
    path = report_dir(folder)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def add_event(folder: str | os.PathLike, event: Event) -> None:
    path = report_dir(folder)
    path.mkdir(exist_ok=True)
    with open(path / EVENTS_FILE, "a", encoding="utf-8") as events:
        events.write(json.dumps({"kind": event.kind, "message": event.message, "review": event.review}) + "\n")


def events(folder: str | os.PathLike) -> list[Event]:
    """Every event reported for the submission in ``folder``, in order."""
    path = report_dir(folder) / EVENTS_FILE
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        found.append(Event(str(raw["kind"]), str(raw["message"]), bool(raw["review"])))
    return found


def violations(folder: str | os.PathLike) -> list[str]:
    """Reasons, one per event, why the submission in ``folder`` needs an instructor's review.

    Empty when the sandbox saw nothing wrong. Meant for a submission's status, e.g.
    ``"needs review: " + "; ".join(violations(folder))``.
    """
    return [e.message for e in events(folder) if e.review]


def collected_records(folder: str | os.PathLike) -> Path | None:
    """The records the submission's kernels wrote, or None if they wrote none."""
    path = report_dir(folder) / RECORDS_FILE
    return path if path.is_file() else None


def collect_records(source: Path, folder: str | os.PathLike, max_bytes: int) -> Event | None:
    """Append the records file ``source`` (written inside the sandbox) to the folder's records.

    Refuses, and returns the event saying why, anything but a regular file of at most
    ``max_bytes`` bytes: a symlink could point at another submission's records or at the
    golden files, and a huge file could exhaust the judge.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:  # ELOOP: a symlink
        return Event(RECORDS_REJECTED, f"records file rejected: cannot be opened safely ({error.strerror})")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Event(RECORDS_REJECTED, "records file rejected: not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        return Event(RECORDS_REJECTED, f"records file rejected: larger than {max_bytes} bytes")
    path = report_dir(folder)
    path.mkdir(exist_ok=True)
    with open(path / RECORDS_FILE, "ab") as records:
        if data and not data.endswith(b"\n"):
            data += b"\n"  # a kernel killed mid-line must not glue its last line to the next kernel's
        records.write(data)
    return None
