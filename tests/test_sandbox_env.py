"""The sandbox's pieces that need no kernel: the student environment, the course copy, the checks
that refuse to grade, the report's guards on records."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from autograder.records import RECORDS_NAME
from autograder.sandbox import SandboxLimits, SandboxUnavailable, check_sandbox, course_copy, nbgrader_execute_config, report
from autograder.sandbox import check as check_module
from autograder.sandbox.kernel import exit_event
from nbtools import ROOT

FORBIDDEN = {"torch", "scipy", "scikit-learn", "sklearn", "jax", "jaxlib", "tensorflow", "keras", "optax", "flax", "autograd", "mxnet", "theano"}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_student_requirements_are_the_dev_pins_without_optimizer_libraries():
    student, dev = pins(ROOT / "requirements" / "student.txt"), pins(ROOT / "requirements" / "dev.txt")
    assert {"numpy", "matplotlib", "ipykernel"} <= set(student)
    assert not FORBIDDEN & set(student)
    assert {name: version for name, version in student.items() if dev.get(name) != version} == {}, "versions differ from requirements/dev.txt"


def test_the_student_environment_holds_only_its_requirements():
    python = ROOT / ".venv-student" / "bin" / "python"
    if not python.exists():
        pytest.fail(".venv-student is missing: run `make student-env`", pytrace=False)
    listed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout.split()
    installed = {name.lower().replace("_", "-") for name in listed} - {"pip", "setuptools", "wheel"}
    assert not FORBIDDEN & installed
    assert installed == set(pins(ROOT / "requirements" / "student.txt")), "run `make student-env` to rebuild it"


def test_the_course_copy_holds_only_what_student_cells_import(tmp_path: Path):
    copy = course_copy(tmp_path / "course")
    files = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    tops = {f.split("/")[0] for f in files}
    assert tops == {"slopegrad", "courseplots", "autograder"}
    autograder_files = {f.removeprefix("autograder/") for f in files if f.startswith("autograder/")}
    assert {f.split("/")[0] for f in autograder_files} == {"__init__.py", "checks.py", "records.py", "compare.py", "golden.py", "problems"}
    assert not any("golden/" in f or f.endswith((".db", ".pyc")) for f in files)
    assert not any(f.endswith((".json", ".npz")) for f in files if f.startswith("autograder/")), "no golden data"
    assert all(oct(p.stat().st_mode)[-3:] in ("644", "755") for p in copy.rglob("*"))
    assert (copy / "slopegrad" / "__init__.py").read_bytes() == (ROOT / "slopegrad" / "__init__.py").read_bytes()


def test_grading_is_refused_with_a_clear_reason(monkeypatch, tmp_path: Path):
    with pytest.raises(SandboxUnavailable, match=r"make student-env"):
        check_sandbox(tmp_path / "no-such-env")
    monkeypatch.setattr(check_module, "tool", lambda name: None if name == "bwrap" else f"/usr/bin/{name}")
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(bwrap\) is not installed: run \.ci/system-packages"):
        check_sandbox()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable, match=r"root"):
        check_sandbox()


def test_limits_are_validated():
    assert SandboxLimits.from_dict({"cpu_seconds": 5}).cpu_seconds == 5
    with pytest.raises(ValueError, match="unknown"):
        SandboxLimits.from_dict({"cpu": 5})
    with pytest.raises(ValueError, match="positive"):
        SandboxLimits.from_dict({"processes": 0})


def test_only_a_bounded_regular_records_file_is_collected(tmp_path: Path):
    folder, box = tmp_path / "autograded", tmp_path / "box"
    folder.mkdir(), box.mkdir()
    (box / "ok").write_text('{"check": "a.b", "value": 1}')
    assert report.collect_records(box / "ok", folder, 100) is None
    assert report.collected_records(folder).read_text() == '{"check": "a.b", "value": 1}\n'

    (tmp_path / "bob.jsonl").write_text('{"check": "a.b", "value": 2}\n')
    (box / "link").symlink_to(tmp_path / "bob.jsonl")
    os.mkfifo(box / "fifo")
    (box / "big").write_text("x" * 101)
    for name, reason in (("link", "opened safely"), ("fifo", "not a regular file"), ("big", "larger than 100 bytes")):
        event = report.collect_records(box / name, folder, 100)
        assert event is not None and event.kind == report.RECORDS_REJECTED and reason in event.message
    assert report.collect_records(box / "missing", folder, 100) is None
    assert report.collected_records(folder).read_text() == '{"check": "a.b", "value": 1}\n', "nothing rejected was appended"


def test_a_planted_report_is_forgotten(tmp_path: Path):
    report.add_event(tmp_path, report.Event(report.WALL_CLOCK, "planted"))
    assert report.violations(tmp_path) == ["planted"]
    report.reset(tmp_path)
    assert report.events(tmp_path) == [] and report.collected_records(tmp_path) is None


def test_exit_statuses_name_the_limit():
    limits = SandboxLimits(cpu_seconds=7)
    assert exit_event(0, limits) is None
    assert "CPU time limit (7 s)" in exit_event(128 + signal.SIGXCPU, limits).message
    assert "CPU time limit (7 s) or ran out of memory" in exit_event(128 + signal.SIGKILL, limits).message
    assert "SIGSEGV" in exit_event(128 + signal.SIGSEGV, limits).message
    assert exit_event(3, limits).kind == report.EXITED


def test_nbgrader_configuration():
    config = nbgrader_execute_config(SandboxLimits(cell_seconds=12))
    assert config["Execute"]["timeout"] == 12
    assert config["Execute"]["kernel_manager_class"] == "autograder.sandbox.kernel.SandboxedKernelManager"
    assert config["Autograde"]["autograde_preprocessors"][0] == "autograder.sandbox.bounded_execute.BoundedExecute"
    assert not any(p.endswith(".Execute") for p in config["Autograde"]["autograde_preprocessors"])
    assert {report.REPORT_DIR, RECORDS_NAME, ".ipynb_checkpoints"} <= set(config["CourseDirectory"]["ignore"])
    unsafe = nbgrader_execute_config(sandbox=False)
    assert "kernel_manager_class" not in unsafe["Execute"] and "SandboxedKernelManager" not in unsafe


@pytest.mark.parametrize("home, bound", [("/usr/bin", False), ("/usr/local/python/bin", True), ("/tmp/py/bin", True)])
def test_the_interpreter_is_shown_without_undoing_what_is_hidden(tmp_path: Path, home: str, bound: bool):
    from autograder.sandbox.command import Mounts, bwrap_argv

    env = tmp_path / "env"
    env.mkdir()
    (env / "pyvenv.cfg").write_text(f"home = {home}\n")
    mounts = Mounts(work=tmp_path, kernel=tmp_path, etc=tmp_path, course=tmp_path, student_env=env)
    argv = " ".join(bwrap_argv(["python"], mounts, SandboxLimits(), "bwrap", "setpriv", "prlimit"))
    prefix = str(Path(home).parent)
    assert argv.count("--ro-bind /usr /usr") == 1 and "--tmpfs /usr/local" in argv, "bound once, so /usr/local stays hidden"
    if bound:
        assert argv.index("--tmpfs /usr/local") < argv.index(f"--ro-bind {prefix} {prefix}"), "mounts apply in order"
