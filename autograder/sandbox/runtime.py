"""What all sandboxes of one grading run share, built once: the course copy, the font list."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .packages import course_copy
from .workdir import mounts_below, unmount_below

_lock = threading.Lock()
_shared: dict[str, Path | None] = {}


def default_student_env() -> Path:
    """``.venv-student`` at the root of the checkout this package lives in."""
    return Path(__file__).resolve().parents[2] / ".venv-student"


def build_fontlist(student_env: Path, dest: Path) -> Path | None:
    """matplotlib's font list as the student environment builds it (paths are the same inside)."""
    dest.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(dest), "HOME": str(dest), "MPLBACKEND": "Agg"}
    subprocess.run(
        [str(student_env / "bin" / "python"), "-c", "import matplotlib.font_manager"],
        env=env, check=True, capture_output=True, timeout=120,
    )
    found = sorted(dest.glob("fontlist-*.json"))
    if not found:
        return None
    found[-1].chmod(0o644)
    return found[-1]


OWNER = "owner.pid"
_swept: set[str] = set()


def owned_tempdir(prefix: str) -> Path:
    """A new private temporary folder that names the process owning it.

    The first call for a prefix also removes the folders of that prefix whose owner died
    without cleaning up (a grader killed with SIGKILL leaves them behind).
    """
    if prefix not in _swept:
        _swept.add(prefix)
        for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            # A folder gets its owner file before anything is mounted below it: mounts without an
            # owner file are what a removal that could not unmount left behind.
            if _owner_is_gone(folder) or (not (folder / OWNER).exists() and mounts_below(folder)):
                unmount_below(folder)  # a sandbox's working directory is a mount of its own
                shutil.rmtree(folder, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER).write_text(str(os.getpid()))
    return folder


def _owner_is_gone(folder: Path) -> bool:
    try:
        os.kill(int((folder / OWNER).read_text()), 0)
    except (OSError, ValueError) as error:
        return isinstance(error, ProcessLookupError)
    return False


def shared_dir() -> Path:
    """A private folder for this grading process, removed when it exits."""
    with _lock:
        if "root" not in _shared:
            root = owned_tempdir("autograder-runtime-")
            atexit.register(shutil.rmtree, root, True)
            _shared["root"] = root
        return _shared["root"]  # type: ignore[return-value]


def shared_course_copy() -> Path:
    """The course copy for this grading process, made on first use."""
    root = shared_dir()
    with _lock:
        if "course" not in _shared:
            _shared["course"] = course_copy(root / "course")
        return _shared["course"]  # type: ignore[return-value]


def shared_fontlist(student_env: Path) -> Path | None:
    """matplotlib's font list for ``student_env``, made on first use (None if it cannot be)."""
    key = f"fontlist:{student_env}"
    root = shared_dir()
    with _lock:
        if key not in _shared:
            try:
                _shared[key] = build_fontlist(student_env, root / f"mpl-{len(_shared)}")
            except (OSError, subprocess.SubprocessError):
                _shared[key] = None  # kernels still work, each scanning fonts itself
        return _shared[key]

