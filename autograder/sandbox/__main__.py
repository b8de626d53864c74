"""``python -m autograder.sandbox [N]``: is the sandbox usable here, and what does it cost?

Checks the sandbox (exit status 2 with the reason if it cannot run), then starts N kernels
sandboxed and N stock ones, each running one import cell, and prints the median times.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time

from jupyter_client.manager import AsyncKernelManager

from . import SandboxedKernelManager, SandboxUnavailable, check_sandbox
from .runtime import default_student_env, shared_course_copy, shared_fontlist

CELL = "import numpy, matplotlib.pyplot, slopegrad\nfrom autograder.checks import check"


async def _one(manager_class: type, folder: str) -> tuple[float, float, float]:
    manager = manager_class(kernel_name="python3")
    started = time.perf_counter()
    await manager.start_kernel(cwd=folder)
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    ready = time.perf_counter()
    await client.execute(CELL, reply=True)
    ran = time.perf_counter()
    client.stop_channels()
    await manager.shutdown_kernel()
    return ready - started, ran - ready, time.perf_counter() - ran


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 3
    started = time.perf_counter()
    try:
        check_sandbox()
    except SandboxUnavailable as error:
        print(f"the grading sandbox cannot run here: {error}", file=sys.stderr)
        return 2
    from . import cgroup
    from .check import whole_sandbox_limits

    found = cgroup.support()
    print("memory and tasks of each sandbox bounded through " + found.describe() if isinstance(found, cgroup.CgroupSupport)
          else "; ".join(whole_sandbox_limits()))
    shared_course_copy()
    shared_fontlist(default_student_env().resolve())
    print(f"sandbox ready (check, course copy, font list; once per process): {time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        for manager_class in (SandboxedKernelManager, AsyncKernelManager):
            times = [asyncio.run(_one(manager_class, folder)) for _ in range(runs)]
            start, cell, stop = (statistics.median(t[i] for t in times) for i in range(3))
            print(f"{manager_class.__name__:24s} start {start:.2f} s, import cell {cell:.2f} s, shutdown {stop:.2f} s (medians of {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
