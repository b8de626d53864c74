"""The read-only copy of the course's runtime packages that the sandbox shows students' code.

Only what graded cells import: ``slopegrad``, ``courseplots`` and, from ``autograder``, the
check API and the problems. Never the golden files, the gradebook, ``source/`` or any other
instructor-side module: what is not copied cannot be read. The student repository
(``tools/publish``) ships the same selection.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

PACKAGES = ("slopegrad", "courseplots")
AUTOGRADER_PARTS = ("__init__.py", "checks.py", "records.py", "compare.py", "golden.py", "problems")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"course package {name!r} not found")
    return Path(next(iter(spec.submodule_search_locations)))


def course_copy(dest: Path) -> Path:
    """Copy the course runtime into ``dest`` (created; must not exist) and make it world-readable."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    for name in PACKAGES:
        shutil.copytree(_package_dir(name), dest / name, ignore=_SKIP)
    source = _package_dir("autograder")
    (dest / "autograder").mkdir()
    for part in AUTOGRADER_PARTS:
        path = source / part
        if path.is_dir():
            shutil.copytree(path, dest / "autograder" / part, ignore=_SKIP)
        else:
            shutil.copy2(path, dest / "autograder" / part)
    _world_readable(dest)
    return dest


def _world_readable(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
