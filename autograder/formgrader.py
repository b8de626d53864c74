"""nbgrader's formgrader for one course folder, on 127.0.0.1, behind a fresh token.

    python -m autograder.formgrader --course .state/demo-course [--port 8888]     # or: make formgrader

Starts JupyterLab (which loads nbgrader's formgrader server extension) in the course folder, waits
until the formgrader answers, prints its URL with the token, and runs until Ctrl-C (or SIGTERM),
then stops the server and everything it started. The token is random for every start and reaches
the server through its environment, not its command line (which any local user can read); without
it every page and API call is refused. The server listens on the loopback interface only, with
Jupyter's terminals disabled.

nbgrader needs an exchange folder that exists and is writable: a course folder that names none
(the demo's) gets ``<course>/.autograder/exchange``, given to nbgrader through a config folder of
its own (``<course>/.autograder/formgrader``), so the course's ``nbgrader_config.py`` stays the
grader's. Jupyter's runtime files go under ``JUPYTER_RUNTIME_DIR`` as usual (the Makefile points
it into ``.state/``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from .course import STATE_DIR

HOST = "127.0.0.1"
START_TIMEOUT = 90.0  # seconds: a busy machine takes a while to import JupyterLab and nbgrader
STOP_TIMEOUT = 15.0


class FormgraderError(RuntimeError):
    """The formgrader could not be started (the log's tail says why)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Formgrader:
    """A running formgrader server; :meth:`stop` ends it and its children."""

    course: Path
    port: int
    token: str = field(repr=False)
    process: subprocess.Popen = field(repr=False)
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The formgrader's address with the token (whoever has it has the instructor's access)."""
        return f"{self.base}/formgrader?token={self.token}"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (Jupyter shuts down cleanly: kernels, runtime files), then SIGKILL to the group if needed."""
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.process.pid)
        return self.process.wait()

    def __enter__(self) -> "Formgrader":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def exchange_config(course: Path) -> Path:
    """A config folder holding an ``nbgrader_config.py`` that points nbgrader at a usable exchange.

    Only written when the course's own ``nbgrader_config.py`` names no exchange (it is read after
    this one, from the working directory, so a course's own exchange always wins)."""
    folder = course / STATE_DIR / "formgrader"
    folder.mkdir(parents=True, exist_ok=True)
    exchange = course / STATE_DIR / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        '"""Written by autograder/formgrader.py: an exchange folder for the formgrader."""\n'
        "import os\n"
        "c = get_config()  # noqa: F821\n"
        "c.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'exchange')\n"
    )
    return folder


def server_env(course: Path, token: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["JUPYTER_TOKEN"] = token
    extra = str(exchange_config(course))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (extra, env.get("JUPYTER_CONFIG_PATH", "")) if p)
    bindir = str(Path(sys.executable).parent)  # nbgrader runs alembic from PATH
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    return env


def command(course: Path, port: int) -> list[str]:
    cmd = [
        sys.executable, "-m", "jupyterlab", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", "--no-browser", f"--ServerApp.root_dir={course}",
        "--ServerApp.terminals_enabled=False", "--ServerApp.allow_remote_access=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses to run as root without it (CI runs as root)
    return cmd


def start(course_dir: Path | str, port: int | None = None, token: str | None = None, env: dict[str, str] | None = None,
          timeout: float = START_TIMEOUT) -> Formgrader:
    """Start the formgrader for ``course_dir`` and return once ``/formgrader/api/status`` answers.

    ``env``: the server's environment (default: this process's), with the token and nbgrader's
    config folder added; pass ``JUPYTER_*_DIR`` in it to keep Jupyter's files where you want them.
    """
    course = Path(course_dir).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise FormgraderError(f"{course} is not a course folder (no nbgrader_config.py): grade the class first "
                              "(make grade-demo, or course-grade --course DIR init)")
    token = token or secrets.token_urlsafe(32)
    logs = course / STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "formgrader.log"
    port = port or free_port()
    with open(log, "ab") as stream:
        process = subprocess.Popen(command(course, port), cwd=course, env=server_env(course, token, env),
                                   stdin=subprocess.DEVNULL, stdout=stream, stderr=stream, start_new_session=True)
    server = Formgrader(course, port, token, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise FormgraderError(f"the server exited with status {process.returncode}:\n{_tail(log)}")
        try:
            with urlopen(Request(f"{server.base}/formgrader/api/status",
                                 headers={"Authorization": f"token {token}"}), timeout=5) as answer:
                if answer.status == 200:
                    return server
        except (HTTPError, URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise FormgraderError(f"the formgrader did not answer within {timeout:g} s:\n{_tail(log)}")
        time.sleep(0.3)


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.formgrader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", default=".", help="the class's course folder (default: here)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    try:
        server = start(args.course, args.port or None)
    except FormgraderError as error:
        print(f"formgrader: {error}", file=sys.stderr)
        return 1
    stopping = {"signal": None}

    def on_signal(number, _frame):
        stopping["signal"] = number

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dashboard = server.course / "dashboard" / "index.html"
    print(f"formgrader for {server.course}\n\n    {server.url}\n", flush=True)
    if dashboard.is_file():
        print(f"class dashboard (same token): {server.base}/files/dashboard/index.html?token={server.token}")
    print(f"server log: {server.log}\nCtrl-C stops the server.", flush=True)
    try:
        while stopping["signal"] is None and server.running():
            time.sleep(0.5)
    finally:
        code = server.stop()
    if stopping["signal"] is None:
        print(f"formgrader: the server stopped by itself (status {code}); see {server.log}", file=sys.stderr)
        return 1
    print("formgrader stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
