"""PATH for nbgrader: it runs ``alembic`` (its gradebook migrations) as a command when it creates a gradebook."""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
