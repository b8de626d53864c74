"""Bounds on each sandbox as a whole, with hostile cells in real sandboxes: memory and tasks of all its
processes together (a cgroup), the size of its working directory (a tmpfs), a sealed connection folder.

The totals here are smaller than the defaults (4 GiB of memory, 256 MiB of files): the machine running
the suite is shared, and a smaller bound proves the same thing.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.sandbox import SandboxLimits, cgroup, events, report, violations
from autograder.sandbox.check import whole_sandbox_limits
from autograder.sandbox.limits import MiB
from sandbox_helpers import errors, last_json, require_sandbox, run_cells, text, use_project_state

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def sandbox_ready():
    use_project_state()
    require_sandbox()


def test_this_machine_bounds_each_sandbox_as_a_whole():
    """The grading machine (and CI, the same kind) offers cgroups and tmpfs mounts: nothing is missing."""
    assert whole_sandbox_limits() == []
    assert isinstance(cgroup.support(), cgroup.CgroupSupport)


CHILD_MIB = 160
# Children each hold CHILD_MIB of touched memory, then wait; the kernel reports which are alive, which
# were killed, and stops the rest.
MEMORY_HOGS = f"""
import json, os, select, signal, time
children, reader_of = [], {{}}
for _ in range(6):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        hog = b'x' * ({CHILD_MIB} * 2**20)  # written, so really held
        os.write(w, b'held')
        time.sleep(60)
        os._exit(0)
    os.close(w)
    children.append(pid)
    reader_of[r] = pid
pending, deadline = set(reader_of), time.monotonic() + 60
while pending and time.monotonic() < deadline:
    ready, _, _ = select.select(list(pending), [], [], 1)
    for r in ready:
        os.read(r, 4)  # 'held', or end of file: that child died
        pending.discard(r)
time.sleep(0.5)
alive, killed = 0, 0
for pid in children:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        alive += 1
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        killed += 1
print(json.dumps({{'alive': alive, 'killed': killed}}))
"""


def test_processes_together_stay_within_the_sandbox_memory(tmp_path: Path):
    limit = 512 * MiB
    seen = {}

    def look_from_host(executor, cell_index):
        group = executor.km._box.group
        if cell_index == 1:  # after the hogs: what the group held at most, and its limits
            seen["peak"], seen["limits"] = group.peak_memory(), group.limits()

    nb, _ = run_cells(tmp_path, MEMORY_HOGS, "print('the kernel lives on')",
                      limits=SandboxLimits(sandbox_memory_bytes=limit, processes=32), watch=look_from_host)
    hogs = last_json(nb.cells[0])
    assert hogs["alive"] + hogs["killed"] == 6
    assert hogs["alive"] * CHILD_MIB * MiB < limit and hogs["killed"] >= 6 - limit // (CHILD_MIB * MiB)
    assert 0 < seen["peak"] <= limit, "the group never held more than its limit"
    assert seen["limits"] == (limit, 32 + cgroup.WRAPPER_TASKS)
    assert text(nb.cells[1]).strip() == "the kernel lives on"
    assert any("together they used more than 512 MiB of memory" in r for r in violations(tmp_path)), violations(tmp_path)
    # The next submission runs as if nothing happened.
    after = tmp_path / "next"
    after.mkdir()
    nb, _ = run_cells(after, "print(sum(range(10)))")
    assert text(nb.cells[0]).strip() == "45" and events(after) == []


def test_a_kernel_killed_by_the_sandbox_memory_limit_is_reported(tmp_path: Path):
    """Within its 2 GiB address space, but over the sandbox's total: the OOM killer ends the kernel."""
    nb, _ = run_cells(tmp_path, "print('before')", "hog = b'x' * (600 * 2**20)", "print('never runs')",
                      limits=SandboxLimits(sandbox_memory_bytes=384 * MiB))
    assert text(nb.cells[0]).strip() == "before"
    assert errors(nb.cells[1]) == ["KernelDied"] and errors(nb.cells[2]) == ["KernelDied"]
    reasons = violations(tmp_path)
    assert "the kernel was killed: the submission's processes together used more than 384 MiB of memory" in reasons, reasons
    assert any("died while running cell 1" in r for r in reasons), reasons


FILL = """
import errno, json, os
written, error = 0, None
for i in range(1000):
    try:
        with open(f'fill-{i}.bin', 'wb') as out:
            out.write(b'z' * 2**20)
        written += 2**20
    except OSError as e:
        error = e.errno
        break
print(json.dumps({'written': written, 'errno': error}))
"""


def test_the_working_directory_is_refused_beyond_its_size(tmp_path: Path):
    limit = 32 * MiB
    mounted = {}

    def look_from_host(executor, cell_index):
        mounted[cell_index] = os.path.ismount(executor.km._box.work)

    nb, _ = run_cells(tmp_path, FILL, "import os\nprint(len(os.listdir('.')))",
                      limits=SandboxLimits(work_bytes=limit), watch=look_from_host)
    filled = last_json(nb.cells[0])
    assert filled["errno"] == errno.ENOSPC, filled
    assert limit - 2 * MiB <= filled["written"] <= limit
    assert int(text(nb.cells[1])) == filled["written"] // MiB + 1, "the kernel lives on"
    assert mounted == {0: True, 1: True}, "a mount of its own, not the grader's disk"
    kinds = {e.kind: e for e in events(tmp_path)}
    assert "filled its working directory (32 MiB)" in kinds[report.WORK_FULL].message
    assert violations(tmp_path) == [], "informational: the student's own cell shows the error"
    assert not any(p.name.startswith("fill-") for p in tmp_path.iterdir()), "nothing reaches the grader's folder"


SEALED = """
import ipykernel, json, os
connection = ipykernel.get_connection_file()
folder = os.path.dirname(connection)
def refused(action):
    try:
        action()
        return False
    except PermissionError:
        return True
sockets = [os.path.join(folder, n) for n in os.listdir(folder) if n != os.path.basename(connection)]
print(json.dumps({
    'sockets': len(sockets),
    'new file': refused(lambda: open(os.path.join(folder, 'planted'), 'w').close()),
    'connection file': refused(lambda: open(connection, 'a').close()),
    'remove socket': refused(lambda: os.remove(sockets[0])),
    'chmod folder': refused(lambda: os.chmod(folder, 0o777)),
}))
"""


def test_the_kernels_connection_folder_is_not_writable_from_inside(tmp_path: Path):
    nb, _ = run_cells(tmp_path, SEALED, "print('still served')")
    sealed = last_json(nb.cells[0])
    assert sealed == {"sockets": 5, "new file": True, "connection file": True, "remove socket": True, "chmod folder": True}
    assert text(nb.cells[1]).strip() == "still served"


def test_without_cgroups_the_sandbox_says_so_and_keeps_its_per_process_limits(tmp_path: Path, monkeypatch, caplog):
    monkeypatch.setattr(cgroup, "_support", "no cgroup hierarchy (as on this test's pretend machine)")
    monkeypatch.setattr("autograder.sandbox.check._announced", False)
    with caplog.at_level("WARNING", logger="autograder.sandbox"):
        missing = whole_sandbox_limits()
    assert len(missing) == 1 and "no memory and pids limit for each sandbox as a whole" in missing[0]
    assert missing[0] in caplog.text
    groups = []
    nb, _ = run_cells(tmp_path, "import os\nprint(os.getuid())", "hog = bytearray(3 * 2**30)",
                      watch=lambda executor, _: groups.append(executor.km._box.group))
    assert groups == [None, None], "no group made"
    assert text(nb.cells[0]).strip() == "65534" and errors(nb.cells[1]) == ["MemoryError"]
    assert json.dumps(violations(tmp_path)) == "[]"


def test_working_directory_mounts_left_behind_are_swept(monkeypatch):
    """A grader killed with its sandboxes leaves their tmpfs mounts: the next one unmounts and removes them,
    also where a removal emptied the folder but could not unmount it."""
    import subprocess
    import tempfile

    from autograder.sandbox import runtime, workdir

    gone = subprocess.Popen(["true"])
    gone.wait()
    killed, half_removed = (Path(tempfile.mkdtemp(prefix="autograder-sandbox-")) for _ in range(2))
    (killed / runtime.OWNER).write_text(str(gone.pid))
    for leftover in (killed, half_removed):
        (leftover / "work").mkdir()
        workdir.mount_tmpfs(leftover / "work", MiB)
    monkeypatch.setattr(runtime, "_swept", set())
    fresh = runtime.owned_tempdir("autograder-sandbox-")
    try:
        assert not killed.exists() and not half_removed.exists()
        assert workdir.mounts_below(killed) == workdir.mounts_below(half_removed) == []
    finally:
        for leftover in (killed, half_removed):
            workdir.unmount_below(leftover)
        shutil.rmtree(fresh)
