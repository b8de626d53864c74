"""A Jupyter kernel manager that starts every kernel inside the sandbox.

nbgrader (through nbclient) creates one :class:`SandboxedKernelManager` per notebook and
passes the submission's autograded folder as ``cwd``. For each kernel the manager:

1. makes a throwaway root (``autograder-sandbox-*`` in the temporary directory) holding a
   working directory (a tmpfs of ``work_bytes``, :mod:`.workdir`) with a copy of the
   submission's files (never its notebooks, which at this point hold the hidden tests, nor
   anything the sandbox reported earlier) and a directory for the connection file and the
   ZMQ ``ipc`` sockets, and a control group bounding the memory and tasks of the whole
   sandbox (:mod:`.cgroup`);
2. launches the student environment's ``ipykernel`` through :func:`.command.bwrap_argv`
   inside that group, with a cleared environment (``JPY_PARENT_PID`` unset, no secrets), the
   records file (:data:`autograder.records.RECORDS_ENV`) inside the working directory, the course copy on
   ``PYTHONPATH``; once the kernel answers (its sockets are bound), gives its connection
   folder back to root, so nothing in the sandbox can add files there or rewrite the
   connection file;
3. interrupts by message (a signal would reach bubblewrap, not the kernel), kills the whole
   sandbox after ``wall_seconds``, and ends the kernel by killing the sandbox's first process,
   which takes every other process of the PID namespace with it;
4. after the kernel ended, copies the records file out (a regular file within the size
   bound, see :func:`.report.collect_records`), records how the kernel ended in the
   folder's report (:mod:`.report`), and deletes the throwaway root.

Why a kill rather than ipykernel's ``shutdown_request``: ipykernel 7 answers that request on
its control thread while the main thread tears the kernel down at exit, and the two race:
about one kernel in thirty then aborts inside libzmq (``Assertion failed: pfd.revents &
POLLIN``, seen as SIGABRT) or hangs in ``control_thread.join()``. Shutdown comes after the
last cell, whose outputs and records are in by then, so nothing is lost by killing; a kernel
that had died before keeps its own exit status, and a death during a cell is still reported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import psutil
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Unicode

from ..records import RECORDS_NAME
from . import cgroup, report, workdir
from .check import SandboxUnavailable, check_sandbox
from .command import NOBODY, Mounts, bwrap_argv, tool, write_identity_files
from .limits import GiB, MiB, SandboxLimits
from .report import Event
from .runtime import OWNER, default_student_env, owned_tempdir, shared_course_copy, shared_fontlist

WORK_FULL_MARGIN = 64 * 1024
"""Free bytes below which the working directory counts as filled (tmpfs keeps no reserve)."""
STARTUP_SECONDS = 60
"""How long a kernel may take to answer after it started (nbgrader's startup_timeout is the same)."""
MESSAGE_QUEUE = 64
"""Messages the grader queues per socket; with message_bytes this bounds its memory per kernel."""

_claimed_lock = threading.Lock()
_claimed: set[str] = set()


def _claim(folder: Path) -> bool:
    """True the first time this process runs a kernel for ``folder``."""
    key = str(folder.resolve())
    with _claimed_lock:
        first = key not in _claimed
        _claimed.add(key)
        return first


class Box:
    """The throwaway root of one sandboxed kernel."""

    def __init__(self, folder: Path | None, limits: SandboxLimits) -> None:
        self.root = owned_tempdir("autograder-sandbox-")
        self.work = self.root / "work"
        self.kernel = self.root / "kernel"
        self.etc = self.root / "etc"
        self.log = self.root / "kernel.log"
        self.group: cgroup.SandboxGroup | None = None
        self.work.mkdir()
        try:
            self._fill(folder, limits)
        except BaseException:
            self.remove()
            raise

    def _fill(self, folder: Path | None, limits: SandboxLimits) -> None:
        self.work_bounded = workdir.tmpfs_unavailable() is None  # if not, check_sandbox said so at start-up
        if self.work_bounded:
            workdir.mount_tmpfs(self.work, limits.work_bytes)
        if folder is not None:
            shutil.copytree(folder, self.work, symlinks=True, ignore=self._ignore, dirs_exist_ok=True)
        self.kernel.mkdir()
        write_identity_files(self.etc)
        os.chown(self.kernel, NOBODY, NOBODY)
        for folder, dirs, files in os.walk(self.work):  # the submission's own files are nobody's to change
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, NOBODY, NOBODY, follow_symlinks=False)
        os.chmod(self.work, 0o755)
        found = cgroup.support()
        if isinstance(found, cgroup.CgroupSupport):  # if not, check_sandbox said so at start-up
            self.group = cgroup.SandboxGroup(found, limits.sandbox_memory_bytes, limits.processes)

    def seal_kernel_dir(self, connection_file: Path) -> None:
        """The kernel has bound its sockets: from now on only root may add or change files here."""
        for path in (self.kernel, connection_file):
            os.chown(path, 0, 0)
        self.kernel.chmod(0o755)
        connection_file.chmod(0o644)

    @staticmethod
    def _ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n.endswith(".ipynb") or n in (report.REPORT_DIR, RECORDS_NAME)}

    def log_tail(self, limit: int = 2000) -> str:
        try:
            with open(self.log, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def remove(self) -> None:
        if workdir.unmount(self.work):
            shutil.rmtree(self.root, ignore_errors=True)
        else:  # all but the owner file: the next grading run's sweep finds the folder and retries
            for child in self.root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)  # empties the mount, whose folder stays
                elif child.name != OWNER:
                    child.unlink()
        if self.group is not None:
            self.group.remove()


def size_text(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


def exit_event(code: int | None, limits: SandboxLimits) -> Event | None:
    """What the exit status of the sandbox (bubblewrap reports 128+N for a signal N) says."""
    if code is None or code == 0:
        return None
    if code < 0:
        return Event(report.KILLED, f"the sandbox was killed by {signal.Signals(-code).name}")
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        if code - 128 == signal.SIGXCPU:
            return Event(report.CPU_LIMIT, f"the kernel exceeded the CPU time limit ({limits.cpu_seconds} s) and was killed")
        if code - 128 == signal.SIGKILL:
            return Event(report.KILLED, f"the kernel was killed (SIGKILL): it reached the CPU time limit ({limits.cpu_seconds} s) or ran out of memory")
        return Event(report.KILLED, f"the kernel was killed by {name}")
    return Event(report.EXITED, f"the kernel exited with status {code}")


class SandboxedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels run in the grading sandbox (see the module doc)."""

    limits = Dict(
        help="Overrides of autograder.sandbox.SandboxLimits fields, e.g. {'cpu_seconds': 30}."
    ).tag(config=True)
    student_env = Unicode(
        "", help="The student virtual environment; default: .venv-student at the checkout's root."
    ).tag(config=True)
    course_dir = Unicode(
        "", help="The read-only course copy (autograder.sandbox.packages); default: one per process."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox_limits = SandboxLimits.from_dict(dict(self.limits))
        self.sandbox_events: list[Event] = []
        self._box: Box | None = None
        self._mounts_base: tuple[Path, Path] | None = None
        self._folder: Path | None = None
        self._popen: subprocess.Popen | None = None
        self._timer: threading.Timer | None = None
        self._ended_by_grader = False
        self._wall_clock_hit = False

    # -- start ------------------------------------------------------------------------------

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        env_dir = Path(self.student_env) if self.student_env else default_student_env()
        check_sandbox(env_dir)
        cwd = kw.get("cwd")  # kept in kw: a restart runs in the same folder (launch replaces it)
        self._folder = Path(cwd) if cwd else None
        if self._folder is not None and _claim(self._folder):
            report.reset(self._folder)
        self._mounts_base = (env_dir.resolve(), Path(self.course_dir) if self.course_dir else shared_course_copy())
        self._box = Box(self._folder, self.sandbox_limits)
        self.transport = "ipc"
        self.ip = str(self._box.kernel / "ipc")
        self.connection_file = str(self._box.kernel / "kernel.json")
        self._bound_sockets(self.context)
        return await super()._async_pre_start_kernel(**kw)

    def _bound_sockets(self, context: zmq.Context) -> zmq.Context:
        """Bound what one kernel can make the grader hold: each message, and how many queue."""
        context.setsockopt(zmq.MAXMSGSIZE, self.sandbox_limits.message_bytes)
        context.setsockopt(zmq.RCVHWM, MESSAGE_QUEUE)
        return context

    def client(self, **kwargs: Any) -> Any:
        """A client whose sockets (its own context) carry the same bounds as the manager's."""
        kwargs.setdefault("context", self._bound_sockets(zmq.asyncio.Context()))
        client = super().client(**kwargs)
        client._created_context = True  # destroyed with the client's channels
        return client

    def _student_program(self, kernel_cmd: list[str], python: Path) -> list[str]:
        if len(kernel_cmd) < 3 or kernel_cmd[1] != "-m" or kernel_cmd[2] not in ("ipykernel_launcher", "ipykernel"):
            raise SandboxUnavailable(f"the sandbox runs Python (ipykernel) kernels only, not {kernel_cmd[:3]}")
        return [str(python), "-m", "ipykernel_launcher", *kernel_cmd[3:]]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self._box is not None and self._mounts_base is not None
        student_env, course = self._mounts_base
        mounts = Mounts(
            work=self._box.work, kernel=self._box.kernel, etc=self._box.etc, course=course,
            student_env=student_env, fontlist=shared_fontlist(student_env),
        )
        program = self._student_program(kernel_cmd, student_env / "bin" / "python")
        argv = bwrap_argv(program, mounts, self.sandbox_limits, tool("bwrap"), tool("setpriv"), tool("prlimit"))  # type: ignore[arg-type]
        if self._box.group is not None:
            argv = self._box.group.launcher(argv, tool("sh"))  # type: ignore[arg-type]
        os.chown(self.connection_file, NOBODY, NOBODY)
        log = open(self._box.log, "wb")  # the kernel's stdout and stderr, closed below
        try:
            kw.update(env={"PATH": "/usr/bin:/bin"}, cwd=str(self._box.root), stdout=log, stderr=subprocess.STDOUT)
            await super()._async_launch_kernel(argv, **kw)
        except BaseException:
            self._event(Event(report.KERNEL_START_FAILED, "the sandboxed kernel could not be started"))
            self._box.remove()
            self._box = None
            raise
        finally:
            log.close()
        assert self.provisioner is not None
        self._popen = self.provisioner.process  # type: ignore[attr-defined]
        self._ended_by_grader = False
        self._timer = threading.Timer(self.sandbox_limits.wall_seconds, self._wall_clock_expired)
        self._timer.daemon = True
        self._timer.start()

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        await super()._async_post_start_kernel(**kw)
        await self._seal_when_ready()

    async def _seal_when_ready(self) -> None:
        """Wait until the kernel answers (then all its sockets exist), and seal its connection folder."""
        assert self._box is not None
        client = self.client()
        client.start_channels(stdin=False, hb=False, control=False)
        try:
            await client.wait_for_ready(timeout=STARTUP_SECONDS)
        except RuntimeError:
            return  # dead or silent: the caller's own wait for the kernel fails and reports it
        finally:
            client.stop_channels()
        self._box.seal_kernel_dir(Path(self.connection_file))

    # -- interrupt, stop --------------------------------------------------------------------

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message: SIGINT would reach bubblewrap, which would die of it."""
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)
        else:
            await super()._async_interrupt_kernel()

    def _kill_sandbox(self) -> None:
        """SIGKILL the sandbox's first process: the kernel then kills all others in its namespace."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        try:
            for child in psutil.Process(popen.pid).children():
                child.kill()
        except psutil.Error:
            pass

    def _wall_clock_expired(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._wall_clock_hit = True
            self._event(Event(report.WALL_CLOCK, f"the submission ran longer than {self.sandbox_limits.wall_seconds} s and was stopped"))
            self._kill_sandbox()

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """End the kernel by killing its sandbox: never ipykernel's racy shutdown (module doc).

        Called once nothing more is asked of the kernel (after the last cell), so a kernel still
        running here ends as expected; one that had died already keeps its exit status.
        """
        if not self.owns_kernel:
            return
        self.shutting_down = True
        self.stop_restarter()
        if self.has_kernel:
            self._ended_by_grader = self._popen is not None and self._popen.poll() is None
            await self._async_kill_kernel(restart=restart)
        await self._async_cleanup_resources(restart=restart)

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        self._kill_sandbox()
        for _ in range(50):  # bubblewrap exits once everything in the namespace is gone
            if self._popen is None or self._popen.poll() is not None:
                break
            await asyncio.sleep(0.1)
        await super()._async_kill_kernel(restart=restart)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._timer is not None:
            self._timer.cancel()
        box, self._box = self._box, None
        if box is None:
            return
        try:
            self._report_end(box)
        finally:
            box.remove()

    def _report_end(self, box: Box) -> None:
        popen = self._popen
        memory_kills = box.group.memory_kills() if box.group is not None else 0
        total = size_text(self.sandbox_limits.sandbox_memory_bytes)
        if popen is not None and not self._wall_clock_hit and not self._ended_by_grader:  # the watchdog reported already
            code = popen.poll()
            event = exit_event(code, self.sandbox_limits)
            if event is not None and memory_kills and code == 128 + signal.SIGKILL:
                event, memory_kills = Event(report.MEMORY_LIMIT, f"the kernel was killed: the submission's processes together used more than {total} of memory"), 0
            if event is not None:
                self._event(event)
                self.log.warning("sandboxed kernel: %s; its last output:\n%s", event.message, box.log_tail())
        if memory_kills:
            self._event(Event(report.MEMORY_LIMIT, f"{memory_kills} process(es) of the submission were killed: together they used more than {total} of memory"))
        if box.work_bounded and workdir.free_bytes(box.work) < WORK_FULL_MARGIN:
            self._event(Event(report.WORK_FULL, f"the submission filled its working directory ({size_text(self.sandbox_limits.work_bytes)}): writes beyond it failed", review=False))
        if self._folder is not None:
            rejected = report.collect_records(box.work / RECORDS_NAME, self._folder, self.sandbox_limits.record_bytes)
            if rejected is not None:
                self._event(rejected)

    def _event(self, event: Event) -> None:
        self.sandbox_events.append(event)
        if self._folder is not None and self._folder.is_dir():
            report.add_event(self._folder, event)

    # AsyncKernelManager binds its public names to KernelManager's functions, not to overrides.
    pre_start_kernel = _async_pre_start_kernel
    post_start_kernel = _async_post_start_kernel
    interrupt_kernel = _async_interrupt_kernel
    cleanup_resources = _async_cleanup_resources
    _launch_kernel = _async_launch_kernel
    shutdown_kernel = _async_shutdown_kernel
    _kill_kernel = _async_kill_kernel
