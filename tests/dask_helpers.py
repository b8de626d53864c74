"""A real Dask scheduler and workers, each its own ``dask`` command on 127.0.0.1, for grading tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DASK = Path(sys.executable).with_name("dask")
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@dataclass
class DaskProcesses:
    folder: Path
    scratch: Path
    scheduler: subprocess.Popen | None = None
    address: str = ""
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start_scheduler(self) -> str:
        scheduler_file = self.folder / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        self.scheduler = _spawn([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(scheduler_file)], self.folder / "scheduler.log", self.scratch)
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {(self.folder / 'scheduler.log').read_text()[-2000:]}")
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        return self.address

    def start_worker(self, *, preload: bool = True, prefix: list[str] | None = None) -> subprocess.Popen:
        """A worker without a nanny: SIGKILL takes it away for good, as when a grading machine is lost."""
        argv = [*(prefix or []), str(DASK), "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--host", "127.0.0.1", "--death-timeout", "60"]
        if preload:
            argv += ["--preload", "autograder.distributed"]
        worker = _spawn(argv, self.folder / f"worker-{len(self.workers)}.log", self.scratch)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(count, timeout=180)

    def log(self, worker: subprocess.Popen) -> str:
        return (self.folder / f"worker-{self.workers.index(worker)}.log").read_text()

    def kill_scheduler(self) -> None:
        if self.scheduler is not None and self.scheduler.poll() is None:
            os.kill(self.scheduler.pid, signal.SIGKILL)
            self.scheduler.wait()

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()


def _spawn(argv: list[str], log: Path, scratch: Path) -> subprocess.Popen:
    """A Dask process whose scratch space is ``scratch``, removed with the test's processes."""
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(scratch)}
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=log.parent,
                                env=env)


@contextlib.contextmanager
def dask_processes(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    # Sticky and writable by all, outside the test's private folder: a worker may run as another account.
    scratch = Path(tempfile.mkdtemp(prefix="dask-test-scratch-"))
    scratch.chmod(0o1777)
    processes = DaskProcesses(folder, scratch)
    try:
        yield processes
    finally:
        processes.stop()
        shutil.rmtree(scratch, ignore_errors=True)
