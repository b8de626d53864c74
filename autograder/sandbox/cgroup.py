"""Limits on a sandbox as a whole: the memory and the tasks of all its processes together.

rlimits bound each process on its own (2 GiB of address space each), so a submission that
starts many processes could together take the machine's memory. A control group bounds
them together: every process of one sandbox is in one group, with a memory limit (beyond it
the kernel's OOM killer kills a process of that group, and only of that group) and a limit
on its tasks (processes and threads).

A sandbox joins its group before bubblewrap starts: the launcher (:meth:`SandboxGroup.launcher`)
is a shell that writes its own pid into the group, then execs bubblewrap, so everything the
sandbox ever runs is in the group from its first instruction.

Groups are made below the grader's own cgroup, so any limit the grader itself runs under
still holds. Two layouts are supported:

- cgroup v2 (one unified hierarchy), when the grader's group hands the ``memory`` and
  ``pids`` controllers to its children (for example a root-owned cgroup made by
  ``systemd-run --scope -p Delegate=yes``, or the root group);
- cgroup v1, separate ``memory`` and ``pids`` hierarchies, as some virtual machines and
  container hosts still mount them.

Without either, :func:`support` says why, and the sandbox runs with its per-process limits
only (the caller reports that once, at start-up).
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GROUP_PREFIX = "autograder-sandbox-"
WRAPPER_TASKS = 8
"""Tasks of the sandbox's own tools (the shell, two bubblewraps and their helpers), on top of the submission's."""
_JOIN = 'for group; do [ "$group" = -- ] && break; echo $$ > "$group" || exit 125; shift; done; shift; exec "$@"'

_lock = threading.Lock()
_counter = itertools.count()
_support: CgroupSupport | str | None = None


@dataclass(frozen=True)
class CgroupSupport:
    """Where this machine lets the grader make groups for its sandboxes."""

    version: int
    memory: Path
    """Folder below which memory groups are made (v2: the grader's own group)."""
    pids: Path
    """Folder below which pids groups are made (v2: the same as ``memory``)."""

    def describe(self) -> str:
        if self.version == 2:
            return f"cgroup v2 below {self.memory}"
        return f"cgroup v1 below {self.memory} and {self.pids}"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, filesystem type, options) of every cgroup mount."""
    found = []
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            _, point, kind, options, *_ = line.split()
            if kind in ("cgroup", "cgroup2"):
                found.append((point.replace("\\040", " "), kind, set(options.split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """The grader's group in each hierarchy: ``{controller or "": path}`` ("" is v2's)."""
    groups = {}
    with open("/proc/self/cgroup", encoding="utf-8") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _can_make_groups(parent: Path) -> bool:
    probe = parent / f"{GROUP_PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


def _v2(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> CgroupSupport | str:
    points = [point for point, kind, _ in mounts if kind == "cgroup2"]
    if not points or "" not in own:
        return "no cgroup v2 hierarchy"
    parent = Path(points[0] + own[""])
    try:
        delegated = set((parent / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= delegated:
            # Only possible where the group holds no process itself (the root group, or a delegated scope).
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError:
        return f"the grader's cgroup v2 group {parent} does not hand the memory and pids controllers to its children"
    if not _can_make_groups(parent):
        return f"cannot make groups below {parent}"
    return CgroupSupport(2, parent, parent)


def _v1(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> CgroupSupport | str:
    parents = {}
    for controller in ("memory", "pids"):
        points = [point for point, kind, options in mounts if kind == "cgroup" and controller in options]
        if not points or controller not in own:
            return f"no cgroup v1 {controller} hierarchy"
        parents[controller] = Path(points[0] + own[controller])
        if not _can_make_groups(parents[controller]):
            return f"cannot make groups below {parents[controller]}"
    return CgroupSupport(1, parents["memory"], parents["pids"])


def support() -> CgroupSupport | str:
    """How sandboxes are grouped here, or why they cannot be (checked once per process)."""
    global _support
    with _lock:
        if _support is None:
            try:
                mounts, own = _mounts(), _own_groups()
                found = _v2(mounts, own)
                if isinstance(found, str):
                    v1 = _v1(mounts, own)
                    found = v1 if isinstance(v1, CgroupSupport) else f"{found}; {v1}"
            except OSError as error:
                found = f"cannot read the cgroup layout ({error})"
            if isinstance(found, CgroupSupport):
                _remove_orphans(found)
            _support = found
        return _support


def _remove_orphans(found: CgroupSupport) -> None:
    """Groups left behind by a grader that was killed (their processes are gone with it)."""
    for parent in {found.memory, found.pids}:
        for group in parent.glob(f"{GROUP_PREFIX}*"):
            owner = group.name.removeprefix(GROUP_PREFIX).split("-")[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                _empty_and_remove(group)


def _tasks(group: Path) -> list[int]:
    try:
        return [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _empty_and_remove(group: Path) -> None:
    for _ in range(100):
        tasks = _tasks(group)
        if not tasks:
            break
        for pid in tasks:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    try:
        group.rmdir()
    except OSError:
        pass


def _counter_value(path: Path, key: str) -> int:
    """``key N`` from a flat-keyed cgroup file (memory.events, memory.oom_control); 0 if absent."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


class SandboxGroup:
    """The control group(s) of one sandbox: made with its limits, removed with the sandbox."""

    def __init__(self, found: CgroupSupport, memory_bytes: int, tasks: int) -> None:
        self.support = found
        self.memory_bytes = memory_bytes
        name = f"{GROUP_PREFIX}{os.getpid()}-{next(_counter)}"
        self.memory = found.memory / name
        self.pids = found.pids / name
        self.memory.mkdir()
        try:
            if found.version == 2:
                (self.memory / "memory.max").write_text(str(memory_bytes))
                self._write_if_present(self.memory / "memory.swap.max", "0")
            else:
                self.pids.mkdir()
                (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                self._write_if_present(self.memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
            (self.pids / "pids.max").write_text(str(tasks + WRAPPER_TASKS))
        except BaseException:
            self.remove()
            raise

    @staticmethod
    def _write_if_present(path: Path, value: str) -> None:
        if path.exists():  # absent without swap accounting: then there is no swap to limit
            path.write_text(value)

    def _folders(self) -> list[Path]:
        return [self.memory] if self.memory == self.pids else [self.memory, self.pids]

    def launcher(self, argv: list[str], shell: str) -> list[str]:
        """``argv`` started by a shell that first puts itself (so all it starts) into the group."""
        return [shell, "-c", _JOIN, "sh", *(str(f / "cgroup.procs") for f in self._folders()), "--", *argv]

    def memory_kills(self) -> int:
        """Processes of the sandbox the OOM killer killed because the group hit its memory limit."""
        if self.support.version == 2:
            return _counter_value(self.memory / "memory.events", "oom_kill")
        return _counter_value(self.memory / "memory.oom_control", "oom_kill")

    def peak_memory(self) -> int:
        """The most memory the group held at once, in bytes."""
        name = "memory.peak" if self.support.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.memory / name).read_text())
        except (OSError, ValueError):
            return 0

    def limits(self) -> tuple[int, int]:
        """(memory limit in bytes, task limit) as the kernel holds them."""
        name = "memory.max" if self.support.version == 2 else "memory.limit_in_bytes"
        return int((self.memory / name).read_text()), int((self.pids / "pids.max").read_text())

    def remove(self) -> None:
        """Kill whatever is left in the group (nothing, normally: the PID namespace took it) and remove it."""
        for folder in reversed(self._folders()):
            if folder.exists():
                _empty_and_remove(folder)
