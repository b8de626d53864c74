"""The grading sandbox with real bubblewrap and real kernels: what student code can and cannot do.

Each test runs hostile cells through nbgrader's (bounded) Execute step with the sandboxed kernel
manager, exactly as ``nbgrader autograde`` does, and checks the outcome from outside.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import psutil
import pytest

from autograder.sandbox import SandboxLimits, collected_records, events, report, violations
from nbtools import ROOT
from sandbox_helpers import errors, last_json, require_sandbox, run_cells, text, use_project_state

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def sandbox_ready():
    use_project_state()
    require_sandbox()


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with everything a submission must not reach, and alice's folder to grade in."""
    (tmp_path / "autograder" / "golden").mkdir(parents=True)
    (tmp_path / "autograder" / "golden" / "ps1.json").write_text('{"secret": 42}')
    (tmp_path / "source" / "ps1").mkdir(parents=True)
    (tmp_path / "source" / "ps1" / "ps1.ipynb").write_text("### BEGIN HIDDEN TESTS")
    sqlite3.connect(tmp_path / "gradebook.db").close()
    bob = tmp_path / "autograded" / "bob" / "ps1"
    bob.mkdir(parents=True)
    (bob / "ps1.ipynb").write_text("bob's answers")
    alice = tmp_path / "autograded" / "alice" / "ps1"
    alice.mkdir(parents=True)
    (alice / "data.txt").write_text("alice's data file")
    (alice / "ps1.ipynb").write_text("the notebook, with the hidden tests restored")
    return tmp_path


PROBE = r"""
import json, os, socket, sys, ctypes
def can_read(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'rb').read(1)
        return True
    except OSError:
        return False
def can_write(path):
    try:
        open(path, 'w').write('x')
        return True
    except OSError:
        return False
def connects(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        return True
    except OSError:
        return False
def imports(name):
    try:
        __import__(name)
        return 'ok'
    except ImportError as error:
        return type(error).__name__
libc = ctypes.CDLL(None, use_errno=True)
result = {
    'uid': os.getuid(), 'gid': os.getgid(), 'euid': os.geteuid(), 'groups': os.getgroups(),
    'cwd': os.getcwd(), 'files': sorted(os.listdir('.')), 'home': os.environ.get('HOME'),
    'env': sorted(os.environ), 'JPY_PARENT_PID': os.environ.get('JPY_PARENT_PID'),
    'readable': {p: can_read(p) for p in PATHS},
    'writable': {p: can_write(p) for p in WRITES},
    'network': connects(PORT),
    'imports': {m: imports(m) for m in ('torch', 'scipy', 'sklearn', 'numpy', 'matplotlib', 'slopegrad', 'courseplots', 'autograder.checks', 'autograder.problems')},
    'golden_dir': str(__import__('autograder.golden').golden.golden_dir()),
    'new_userns': libc.unshare(0x10000000) == 0,
    'tmp': sorted(os.listdir('/tmp')),
}
print(json.dumps(result))
"""


def test_student_code_is_confined(course: Path, tmp_path: Path):
    alice = course / "autograded" / "alice" / "ps1"
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    (Path("/tmp") / f"host-tmp-{port}").write_text("the grader's /tmp")
    secrets = ["/root/.bashrc", "/root/.pyenv/versions/3.12.1", str(ROOT / "autograder" / "golden"), str(ROOT / "source"), str(ROOT / ".venv"),
               str(course / "autograder" / "golden" / "ps1.json"), str(course / "source" / "ps1" / "ps1.ipynb"),
               str(course / "gradebook.db"), str(course / "autograded" / "bob" / "ps1" / "ps1.ipynb"),
               str(course / "autograded" / "bob"), str(alice / "ps1.ipynb"), f"/tmp/host-tmp-{port}"]
    writes = ["/opt/course/autograder/checks.py", f"{os.path.realpath(ROOT / '.venv-student')}/x", "/usr/x", "/submission/mine.txt"]
    os.environ["AUTOGRADER_TEST_SECRET"] = "do-not-leak"
    seen: dict[str, tuple] = {}

    def inspect_from_host(executor, cell_index):
        if cell_index == 1:  # the kernel is up: look at it from outside
            for proc in psutil.Process(executor.km._popen.pid).children(recursive=True):
                if "ipykernel_launcher" in " ".join(proc.cmdline()):
                    seen["kernel"] = (proc.uids().real, proc.uids().effective, proc.gids().real)

    try:
        nb, _ = run_cells(alice, f"PATHS = {secrets!r}\nWRITES = {writes!r}\nPORT = {port}\n" + PROBE,
                          "from autograder.checks import check\ncheck('ps1.answer', [1.0, 2.0])", watch=inspect_from_host)
    finally:
        server.close()
        os.environ.pop("AUTOGRADER_TEST_SECRET")
        (Path("/tmp") / f"host-tmp-{port}").unlink()
    probe = last_json(nb.cells[0])

    assert (probe["uid"], probe["gid"], probe["euid"], probe["groups"]) == (65534, 65534, 65534, [])
    assert seen["kernel"] == (65534, 65534, 65534), "seen from the host too, the kernel runs as nobody"
    assert probe["cwd"] == probe["home"] == "/submission"
    assert probe["files"] == ["data.txt"], "a copy of the submission's files, without its notebooks"
    assert not any(probe["readable"].values()), {p: r for p, r in probe["readable"].items() if r}
    assert probe["writable"] == {**{p: False for p in writes[:-1]}, "/submission/mine.txt": True}
    assert probe["network"] is False
    assert probe["imports"] == {"torch": "ModuleNotFoundError", "scipy": "ModuleNotFoundError",
                                "sklearn": "ModuleNotFoundError", "numpy": "ok", "matplotlib": "ok", "slopegrad": "ok",
                                "courseplots": "ok", "autograder.checks": "ok", "autograder.problems": "ok"}
    assert probe["golden_dir"] == "None"
    assert probe["new_userns"] is False
    assert probe["JPY_PARENT_PID"] is None
    assert "AUTOGRADER_TEST_SECRET" not in probe["env"] and "JUPYTER_CONFIG_DIR" in probe["env"]
    assert f"host-tmp-{port}" not in probe["tmp"], "a private /tmp"
    # A checkout that itself lives under /tmp shows its top folder there: the read-only mounts of the
    # student environment and course copy sit below it. Nothing else of the host's /tmp may appear.
    repo = Path(__file__).resolve().parents[1]
    mount_points = {repo.parts[2]} if repo.parts[1:2] == ("tmp",) else set()
    assert {"matplotlib", "ipython"} | mount_points >= {
        name for name in probe["tmp"] if not name.startswith("autograder-sandbox-")}

    assert errors(nb.cells[1]) == []
    records = collected_records(alice)
    assert records is not None
    assert [json.loads(line) for line in records.read_text().splitlines()] == [{"check": "ps1.answer", "value": [1.0, 2.0]}]
    assert not (alice / "mine.txt").exists(), "the working directory is a throwaway copy"
    assert violations(alice) == []


def test_processes_are_bounded_and_none_survives(tmp_path: Path):
    marker = f"{time.time_ns() % 10**9}.5"  # an unusual sleep argument that names our processes
    boxes: list[str] = []
    nb, _ = run_cells(
        tmp_path,
        # runaway subprocesses: detached sleepers and a double-forked daemon
        "import subprocess, os\n"
        f"for _ in range(3): subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        f"if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '{marker}'])\n"
        "print('started')",
        # a fork bomb: every child forks too, until the process limit says no; all then wait
        "import os, time\nparent, children = os.getpid(), 0\nwhile True:\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid:\n        children += 1\n"
        "if os.getpid() != parent:\n    time.sleep(60)\n    os._exit(0)\nprint(children)",
        limits=SandboxLimits(processes=32),
        watch=lambda executor, _: boxes.append(str(executor.km._box.root)),
    )
    assert text(nb.cells[0]).strip() == "started"
    assert 0 < int(text(nb.cells[1]).strip()) < 32, "the process limit stopped the fork bomb"
    names = [marker, *set(boxes)]  # the kernel's command line (and its forks') names its box
    left = [p.info for p in psutil.process_iter(["pid", "cmdline"]) if any(n in " ".join(p.info["cmdline"] or []) for n in names)]
    assert left == [], "every process the submission started ended with its kernel"
    assert violations(tmp_path) == []


def test_endless_cells_are_interrupted_and_the_wall_clock_stops_the_rest(tmp_path: Path):
    started = time.monotonic()
    nb, _ = run_cells(
        tmp_path,
        "while True:\n    pass",  # interrupted after the cell timeout; the kernel lives on
        "print('still alive')",
        # a loop that swallows KeyboardInterrupt (and uses no CPU): only the wall clock stops it
        "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except KeyboardInterrupt:\n        pass",
        "print('never runs')", "print('never runs')", "print('never runs')",
        limits=SandboxLimits(cell_seconds=1, wall_seconds=8),
    )
    assert "KeyboardInterrupt" in errors(nb.cells[0])
    assert text(nb.cells[1]).strip() == "still alive"
    assert errors(nb.cells[-1]) == ["KernelDied"] and text(nb.cells[-1]) == ""
    assert report.CELL_TIMEOUT in {e.kind for e in events(tmp_path)}
    assert any("longer than 8 s" in reason for reason in violations(tmp_path))
    assert time.monotonic() - started < 30, "bounded by the wall clock, not by the cells"


def test_the_cpu_limit_kills_a_loop_that_ignores_everything(tmp_path: Path):
    nb, _ = run_cells(
        tmp_path,
        "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    try:\n        while True:\n            pass\n"
        "    except KeyboardInterrupt:\n        pass",
        "print('never runs')",
        limits=SandboxLimits(cpu_seconds=1, cell_seconds=30),
    )
    assert errors(nb.cells[0]) == ["KernelDied"] and errors(nb.cells[1]) == ["KernelDied"]
    assert any("CPU time limit (1 s)" in reason for reason in violations(tmp_path)), violations(tmp_path)


def test_output_memory_and_files_are_bounded(tmp_path: Path):
    nb, _ = run_cells(
        tmp_path,
        "for _ in range(2000):\n    print('x' * 1000)",  # 2 MB of prints
        "k = get_ipython().kernel\n"  # messages straight to the output socket, each over the message bound
        "for _ in range(3):\n    k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'z' * 20_000_000}, parent=k.get_parent('shell'))",
        "print('outputs flow again')",
        "hog = bytearray(8 * 2**30)",
        "import numpy as np\nhog = np.ones(2 * 10**9)",
        "open('big.bin', 'wb').write(b'z' * 30_000_000)",
        "import os\nprint(os.path.getsize('big.bin'))",
        limits=SandboxLimits(output_bytes_per_cell=64 * 1024, file_bytes=10**7),
    )
    first = nb.cells[0]
    assert len(text(first).encode()) <= 64 * 1024 + 200 and "output truncated" in text(first)
    assert text(first).startswith("x" * 1000 + "\n"), "the beginning is kept"
    assert len(json.dumps(nb).encode()) < 400_000, "the notebook stays small"
    assert text(nb.cells[2]).strip() == "outputs flow again"
    assert errors(nb.cells[3]) == ["MemoryError"] and errors(nb.cells[4]) == ["MemoryError"]
    assert errors(nb.cells[5]) == ["OSError"]  # EFBIG: file too large
    assert text(nb.cells[6]).strip() == str(10**7), "the kernel survived; the file stopped at the limit"
    kinds = {e.kind for e in events(tmp_path)}
    assert {report.OUTPUT_TRUNCATED, report.MEMORY_ERROR, report.OUTPUT_LOST} <= kinds


@pytest.mark.parametrize(("death", "reason"), [
    ("import os\nos._exit(3)", "the kernel exited with status 3"),
    ("import os\nos.abort()", "the kernel was killed by SIGABRT"),
    ("import ctypes\nctypes.string_at(0)", "the kernel was killed by SIGSEGV"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "the kernel was killed (SIGKILL)"),
])
@pytest.mark.parametrize("last", [False, True], ids=["then-more-cells", "in-the-last-cell"])
def test_a_kernel_that_dies_in_a_cell_is_reported_with_its_reason(tmp_path: Path, death: str, reason: str, last: bool):
    """The grader ends kernels by killing them after the last cell; a death of their own stays visible,
    also when it happens in the last cell."""
    cells = ["print('before')", death] + ([] if last else ["print('never runs')"])
    nb, _ = run_cells(tmp_path, *cells)
    assert text(nb.cells[0]).strip() == "before"
    assert errors(nb.cells[-1]) == ["KernelDied"]
    reasons = violations(tmp_path)
    assert any(r.startswith(reason) for r in reasons), reasons
    assert any("died while running cell 1" in r for r in reasons), reasons
