"""The limits every sandboxed submission runs under, in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one kernel (one notebook of one submission).

    The process limits are kernel rlimits set with ``prlimit`` inside the sandbox, so they
    apply to the kernel and to every process it starts (each process separately, except
    ``processes``, which counts all processes and threads of the sandbox together).
    ``sandbox_memory_bytes`` and ``processes`` also bound the sandbox as a whole, through a
    control group (:mod:`.cgroup`); ``work_bytes`` bounds its working directory (:mod:`.workdir`).
    """

    cpu_seconds: int = 60
    """CPU time of each process: SIGXCPU at the limit, SIGKILL one second later."""
    memory_bytes: int = 2 * GiB
    """Address space of each process (RLIMIT_AS): allocations beyond it fail (MemoryError)."""
    sandbox_memory_bytes: int = 4 * GiB
    """Memory of the whole sandbox: all its processes, its /tmp and its working directory together
    (a cgroup limit); beyond it the kernel's OOM killer kills one of the sandbox's processes."""
    processes: int = 64
    """Processes and threads in the sandbox (RLIMIT_NPROC in the sandbox's own user namespace, and
    the sandbox's cgroup pids limit)."""
    file_bytes: int = 50 * 1000 * 1000
    """Largest file a sandboxed process may write (RLIMIT_FSIZE)."""
    work_bytes: int = 256 * MiB
    """Size of the working directory /submission (a tmpfs): all files the submission writes there."""
    open_files: int = 256
    """Open file descriptors of each process (RLIMIT_NOFILE)."""
    tmp_bytes: int = 64 * MiB
    """Size of the private /tmp (a tmpfs, so it is memory)."""
    cell_seconds: int = 30
    """Wall-clock time of one cell before the kernel is interrupted (nbgrader's Execute.timeout)."""
    wall_seconds: int = 300
    """Wall-clock time of one kernel, start to shutdown; then the whole sandbox is killed."""
    output_bytes_per_cell: int = 1 * MiB
    """Outputs kept for one cell; the rest is dropped while executing, with a note in the cell."""
    output_bytes: int = 8 * MiB
    """Outputs kept for the whole notebook."""
    message_bytes: int = 8 * MiB
    """Largest single message accepted from the kernel (ZMQ_MAXMSGSIZE on the grader's sockets)."""
    record_bytes: int = 32 * MiB
    """Largest records file the grader accepts from a submission."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SandboxLimits:
        """Limits from a (partial) dict, as found in traitlets config; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown sandbox limits: {sorted(unknown)} (known: {sorted(known)})")
        limits = cls(**{k: int(v) for k, v in values.items()})
        for name, value in limits.as_dict().items():
            if value <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {value}")
        return limits
