"""Is the sandbox usable on this machine? Refuse clearly if not."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from . import cgroup, workdir
from .command import NOBODY, Mounts, bwrap_argv, tool, write_identity_files
from .limits import SandboxLimits

_lock = threading.Lock()
_probed: set[str] = set()

PACKAGES_HINT = "run .ci/system-packages (as root)"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here; the message says why and what to do."""


def check_sandbox(student_env: Path | None = None) -> None:
    """Raise :class:`SandboxUnavailable` unless submissions can be run sandboxed here.

    Checks the platform, the user (root), the tools (bubblewrap, setpriv, prlimit), the
    student environment, and then starts one real sandbox, once per process. Then says, once,
    which bounds on the sandbox as a whole this machine lacks (see :func:`whole_sandbox_limits`).
    """
    from .runtime import default_student_env

    env_dir = Path(student_env) if student_env is not None else default_student_env()
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"the grading sandbox needs Linux (bubblewrap), not {sys.platform}")
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the grading sandbox must be started by root: bubblewrap builds it as root, then drops to uid 65534"
        )
    for name, package in (("bwrap", "bubblewrap"), ("setpriv", "util-linux"), ("prlimit", "util-linux")):
        if tool(name) is None:
            raise SandboxUnavailable(f"{package} ({name}) is not installed: {PACKAGES_HINT}")
    python = env_dir / "bin" / "python"
    if not python.exists() or not (env_dir / "pyvenv.cfg").is_file():
        raise SandboxUnavailable(f"the student environment {env_dir} is missing: run `make student-env`")
    key = str(env_dir.resolve())
    with _lock:
        if key in _probed:
            return
        _probe(env_dir.resolve())
        _probed.add(key)
    whole_sandbox_limits()


_announced = False
log = logging.getLogger("autograder.sandbox")


def whole_sandbox_limits() -> list[str]:
    """What bounds each sandbox as a whole here, or what is missing: logged once per process.

    Missing pieces are not fatal: the per-process limits still hold, and the warning says what
    a submission could then do.
    """
    global _announced
    found = cgroup.support()
    missing = []
    if isinstance(found, str):
        missing.append(f"no memory and pids limit for each sandbox as a whole ({found}): only the limits "
                       "per process hold, so a submission that starts many processes can take more memory")
    reason = workdir.tmpfs_unavailable()
    if reason is not None:
        missing.append(f"no size limit for each sandbox's working directory ({reason}): only the size of each "
                       "file is bounded, so a submission can fill the grader's disk")
    with _lock:
        first, _announced = not _announced, True
    if first:
        for line in missing:
            log.warning("grading sandbox: %s", line)
        if isinstance(found, cgroup.CgroupSupport):
            log.info("grading sandbox: memory and pids limits per sandbox through %s", found.describe())
    return missing


def _probe(student_env: Path) -> None:
    """Start one sandbox running the student interpreter; explain the failure if it fails."""
    root = Path(tempfile.mkdtemp(prefix="autograder-sandbox-probe-"))
    try:
        mounts = Mounts(work=root / "work", kernel=root / "kernel", etc=root / "etc", course=root / "course", student_env=student_env)
        for folder in (mounts.work, mounts.kernel, mounts.course):
            folder.mkdir()
            os.chown(folder, NOBODY, NOBODY)
        write_identity_files(mounts.etc)
        program = [str(student_env / "bin" / "python"), "-c", "import os, ipykernel; print(os.getuid())"]
        argv = bwrap_argv(program, mounts, SandboxLimits(), tool("bwrap"), tool("setpriv"), tool("prlimit"))  # type: ignore[arg-type]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable("a test sandbox did not finish within 60 s") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if done.returncode == 0 and done.stdout.strip() == str(NOBODY):
        return
    err = done.stderr.strip()
    if "namespace" in err or "uid map" in err or "uid_map" in err:
        reason = (
            "user namespaces are disabled or restricted on this machine (check the sysctls "
            "user.max_user_namespaces and kernel.unprivileged_userns_clone, or an AppArmor/SELinux policy)"
        )
    elif "No module named" in err:
        reason = "the student environment lacks ipykernel: run `make student-env`"
    else:
        reason = "a test sandbox failed"
    raise SandboxUnavailable(f"{reason}; bubblewrap said (exit {done.returncode}): {err[-1000:] or '(nothing)'}")
