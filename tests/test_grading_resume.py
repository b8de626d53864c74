"""The gradebook stays true: reruns are idempotent, parallel grading equals serial, SIGKILL mid-batch resumes.

One toy class is collected once (receipt times are recorded then), copied, and graded several ways in
the real sandbox; the gradebooks are compared with :func:`autograder.gradebook.dump`, which leaves out only
what differs by nature between two runs: row ids (random UUIDs) and ``graded_at`` (when the grader ran).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from grading_fixture import ASSIGNMENT, TOY_SPECS, ensure_state_env, toy_course

from autograder import pipeline
from autograder.course import Course
from autograder.execute import ExecuteSettings
from autograder.gradebook import GRADED, dump, engine_for, status_rows

pytestmark = pytest.mark.slow
ensure_state_env()
SETTINGS = ExecuteSettings(cell_timeout=10)


def _copy(base: Course, dest) -> Course:
    shutil.copytree(base.root, dest)
    return Course(root=dest, source=base.source, golden=base.golden, course_id=base.course_id)


def _graded(course: Course) -> int:
    engine = engine_for(course.db_url)
    try:
        return sum(r.status != "collected" for r in status_rows(engine))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    # The last student (by name: workers take students in order) sleeps, so that a kill mid-batch always
    # finds work in progress.
    slow = {"student": "zz_sleeps", "insert_after": [{"cell": "@first_solution", "source": "import time\ntime.sleep(5)"}]}
    base = toy_course(folder, specs=[s for s in TOY_SPECS if s["student"] not in ("nothing", "mistake_off_by_one")] + [slow])
    serial = _copy(base, folder / "serial")
    report = pipeline.grade(serial, [ASSIGNMENT], pipeline.Options(settings=SETTINGS, jobs=1, progress=False))
    return {"folder": folder, "base": base, "serial": serial, "report": report, "dump": dump(serial)}


def test_the_toy_class_is_graded_as_expected(toy):
    statuses = toy["dump"]["statuses"]
    score = {key.split("/")[0]: value["score"] for key, value in statuses.items()}
    assert score == {"correct": 6.0, "partial": 3.0, "kills_kernel": 2.0, "deletes_tests": 6.0, "mistake_sign": 1.0,
                     "zz_sleeps": 6.0}
    assert statuses[f"correct/{ASSIGNMENT}"]["status"] == GRADED
    assert any("kernel" in r["detail"] for r in statuses[f"kills_kernel/{ASSIGNMENT}"]["reasons"])
    assert any("deleted" in r["detail"] for r in statuses[f"deletes_tests/{ASSIGNMENT}"]["reasons"])


def test_every_grading_run_rebuilds_the_class_dashboard(toy):
    serial = toy["serial"]
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "--course", str(serial.root), "--source",
                           str(serial.source), "--golden", str(serial.golden), "grade", ASSIGNMENT, "--no-progress",
                           "--cell-timeout", str(SETTINGS.cell_timeout)],  # the same inputs: nothing is regraded
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "0 graded, 6 unchanged" in done.stdout
    page = serial.root / "dashboard" / "index.html"
    assert f"class dashboard: {page}" in done.stdout
    text = page.read_text()
    assert "zz_sleeps" in text and "kills_kernel" in text


def test_a_rerun_grades_nothing_and_changes_nothing(toy):
    report = pipeline.grade(toy["serial"], [ASSIGNMENT], pipeline.Options(settings=SETTINGS, progress=False))
    assert report.graded == []
    assert dump(toy["serial"]) == toy["dump"]


def test_parallel_grading_gives_exactly_the_serial_gradebook(toy):
    parallel = _copy(toy["base"], toy["folder"] / "parallel")
    pipeline.grade(parallel, [ASSIGNMENT], pipeline.Options(settings=SETTINGS, jobs=2, progress=False))
    assert dump(parallel) == toy["dump"]


def test_sigkill_mid_batch_then_rerun_gives_the_uninterrupted_gradebook(toy):
    killed = _copy(toy["base"], toy["folder"] / "killed")
    command = [sys.executable, "-m", "autograder.cli", "--course", str(killed.root), "--source", str(killed.source),
               "--golden", str(killed.golden), "grade", ASSIGNMENT, "--cell-timeout", "10", "--no-progress"]
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _graded(killed) < 2 and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.05)
    assert grader.poll() is None, "the grader finished before it could be killed"
    family = psutil.Process(grader.pid).children(recursive=True)
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    partial = _graded(killed)
    assert 2 <= partial < len(toy["dump"]["statuses"])
    time.sleep(1)
    assert family, "the grader had started no worker"
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"processes outlived the killed grader: {[p.cmdline()[:3] for p in alive]}"
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    assert dump(killed) == toy["dump"]
