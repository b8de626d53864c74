"""The command line that runs a program inside the sandbox.

Three existing tools, nested, each doing one thing:

1. ``bwrap`` (bubblewrap), run by root, builds the sandbox: new mount, PID, network, IPC and
   UTS namespaces; a filesystem made only of ``/usr``, the interpreter's install tree, the
   student environment, the course copy (all read-only), a private ``/tmp`` and the
   submission's throwaway working directory (read-write); a cleared environment.
   ``--die-with-parent`` and the PID namespace tie every process in it to the grader: when the
   sandbox's first process ends, the kernel kills everything else in the namespace.
2. ``setpriv`` drops to uid/gid 65534 (nobody), with no groups, no capabilities and
   ``no_new_privs``. Files the sandbox writes are owned by nobody on the host too.
3. ``bwrap`` again, now unprivileged, puts the sandbox in its own user namespace
   (``--disable-userns`` forbids creating further ones). The process limit counts the
   processes of that namespace only, so sandboxes running side by side do not share it.
4. ``prlimit`` sets the rlimits (CPU, address space, processes, file size, open files,
   no core dumps) and runs the program.

Root is needed for step 1: the interpreter usually lives under a directory only root can
enter (``/root/.pyenv``), and a user namespace created by root would map the sandbox's user
to root on the host, where the process limit does not apply.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..records import RECORDS_ENV, RECORDS_NAME
from .limits import SandboxLimits

NOBODY = 65534
WORKDIR = "/submission"
"""Where the submission's working directory appears inside the sandbox (also its HOME)."""
COURSE_MOUNT = "/opt/course"
"""Where the read-only course copy appears inside the sandbox (its PYTHONPATH)."""
MPLCONFIGDIR = "/tmp/matplotlib"

# Tools are taken from /usr only: the sandbox shows /usr, and nothing under /usr/local.
TOOL_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
# Hidden inside the sandbox although under /usr: locally installed software and Debian's
# Python packages, neither of which students are meant to use.
HIDDEN_UNDER_USR = ("/usr/local", "/usr/lib/python3")


def tool(name: str) -> str | None:
    """The path of a system tool the sandbox uses, or ``None`` if it is not installed."""
    for folder in TOOL_DIRS:
        path = Path(folder, name)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


@dataclass(frozen=True)
class Mounts:
    """Host paths that make up one sandbox."""

    work: Path
    """The throwaway working directory, read-write, at WORKDIR inside."""
    kernel: Path
    """Connection file and ipc sockets: read-write, at the same path inside as outside."""
    etc: Path
    """Holds ``passwd`` and ``group`` naming uid/gid 65534, shown read-only in /etc."""
    course: Path
    """The read-only course copy, at COURSE_MOUNT inside."""
    student_env: Path
    """The student virtual environment (``.venv-student``), read-only, same path inside."""
    fontlist: Path | None = None
    """matplotlib's font cache (``fontlist-*.json``) made by the student environment, or None."""


def base_prefix(student_env: Path) -> Path:
    """The install tree of the interpreter the student environment was made from."""
    cfg = student_env / "pyvenv.cfg"
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    raise ValueError(f"{cfg} names no interpreter (no 'home = ...' line)")


def sandbox_env(mounts: Mounts) -> dict[str, str]:
    """The whole environment inside the sandbox: nothing is inherited from the grader."""
    return {
        "PATH": f"{mounts.student_env}/bin:/usr/bin:/bin",
        "HOME": WORKDIR,
        "USER": "nobody",
        "LANG": "C.UTF-8",
        "PYTHONPATH": COURSE_MOUNT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        RECORDS_ENV: f"{WORKDIR}/{RECORDS_NAME}",
        "MPLBACKEND": "Agg",
        # Course helpers skip drawing that no check reads (the frames of courseplots.animate_paths).
        "COURSE_GRADING": "1",
        "MPLCONFIGDIR": MPLCONFIGDIR,
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter/config",
        "JUPYTER_DATA_DIR": "/tmp/jupyter/data",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime",
        # One thread per numerical library: threads count against the process limit, and
        # results must not depend on the grading machine's core count.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def prlimit_args(limits: SandboxLimits) -> list[str]:
    cpu = limits.cpu_seconds
    return [
        f"--cpu={cpu}:{cpu + 1}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
    ]


class _Layout:
    """bwrap's filesystem arguments, with the parent directories each mount point needs.

    bwrap applies its arguments in order and creates missing parents with mode 0700, which
    uid 65534 could not enter: every parent is created first with mode 0755.
    """

    def __init__(self) -> None:
        self.args: list[str] = []
        self._mounts: list[tuple[PurePosixPath, bool]] = []  # (target, shows a host folder), in order

    def is_bound(self, path: str | Path) -> bool:
        """Whether ``path`` shows the host's file: the last mount covering it is a bind."""
        target, shown = PurePosixPath(path), False
        for mount, host in self._mounts:
            if mount == target or mount in target.parents:
                shown = host
        return shown

    def _exists(self, path: PurePosixPath) -> bool:
        return self.is_bound(path) or any(mount == path for mount, _ in self._mounts)

    def add(self, option: str, *paths: str | Path, size: int | None = None, perms: str | None = None) -> None:
        target = PurePosixPath(paths[-1])
        for parent in reversed(target.parents):
            if parent != PurePosixPath("/") and not self._exists(parent):
                self.args += ["--perms", "0755", "--dir", str(parent)]
                self._mounts.append((parent, False))
        if size is not None:
            self.args += ["--size", str(size)]
        if perms is not None:
            self.args += ["--perms", perms]
        self.args += [option, *map(str, paths)]
        # A bind shows a host folder, everything below it included; the rest start empty.
        self._mounts.append((target, option not in ("--tmpfs", "--dir", "--proc", "--dev")))


def _system_dirs(layout: _Layout) -> None:
    """/usr, and /bin, /lib, ... as the distribution has them (symlinks into /usr or dirs)."""
    layout.add("--ro-bind", "/usr", "/usr")
    for hidden in HIDDEN_UNDER_USR:
        if os.path.isdir(hidden):
            layout.add("--tmpfs", hidden)
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        try:
            mode = os.lstat(name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            layout.add("--symlink", os.readlink(name), name)
        elif stat.S_ISDIR(mode):
            layout.add("--ro-bind", name, name)


def bwrap_argv(program: list[str], mounts: Mounts, limits: SandboxLimits, bwrap: str, setpriv: str, prlimit: str) -> list[str]:
    """The full command that runs ``program`` in the sandbox described in the module docstring."""
    layout = _Layout()
    _system_dirs(layout)
    for shared in ("/etc/ld.so.cache", "/etc/fonts"):
        if os.path.exists(shared):
            layout.add("--ro-bind", shared, shared)
    layout.add("--ro-bind", mounts.etc / "passwd", "/etc/passwd")
    layout.add("--ro-bind", mounts.etc / "group", "/etc/group")
    layout.add("--proc", "/proc")
    layout.add("--dev", "/dev")
    layout.add("--tmpfs", "/tmp", size=limits.tmp_bytes, perms="1777")
    if mounts.fontlist is not None:
        # matplotlib's font list, built once per batch: without it every kernel spends about
        # a second scanning fonts. The folder stays writable for matplotlib's other caches.
        layout.add("--dir", MPLCONFIGDIR, perms="1777")
        layout.add("--ro-bind", mounts.fontlist, f"{MPLCONFIGDIR}/{mounts.fontlist.name}")
    prefix = base_prefix(mounts.student_env)
    if not layout.is_bound(prefix):  # an interpreter under /usr is there already (binding it again would undo the hiding)
        layout.add("--ro-bind", prefix, prefix)
    # The machine's interpreter may carry packages of its own: hide them.
    for site in sorted(prefix.glob("lib/python3*/site-packages")):
        layout.add("--tmpfs", site)
    layout.add("--ro-bind", mounts.student_env, mounts.student_env)
    layout.add("--ro-bind", mounts.course, COURSE_MOUNT)
    layout.add("--bind", mounts.kernel, mounts.kernel)
    layout.add("--bind", mounts.work, WORKDIR)

    env: list[str] = ["--clearenv"]
    for key, value in sandbox_env(mounts).items():
        env += ["--setenv", key, value]

    outer = [
        bwrap,
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--hostname", "sandbox",
        *layout.args,
        "--chdir", WORKDIR,
        *env,
        "--",
    ]
    drop = [
        setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]
    userns = [
        bwrap, "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--bind", "/", "/", "--die-with-parent", "--chdir", WORKDIR, "--",
    ]
    return [*outer, *drop, *userns, prlimit, *prlimit_args(limits), "--", *program]


def write_identity_files(etc: Path) -> None:
    """``passwd`` and ``group`` naming uid/gid 65534, so that getpass and friends work."""
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(f"nobody:x:{NOBODY}:{NOBODY}:nobody:{WORKDIR}:/usr/sbin/nologin\n")
    (etc / "group").write_text(f"nogroup:x:{NOBODY}:\n")
    for name in ("passwd", "group"):
        (etc / name).chmod(0o644)
