"""Grading on real Dask workers gives the serial run's gradebook, survives a killed worker, stops clearly
when the scheduler goes away (a rerun resumes), and never grades without the sandbox."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from dask_helpers import AS_NOBODY, dask_processes
from grading_fixture import ASSIGNMENT, TOY_SPECS, ensure_state_env, toy_course
from postgres import postgres_server

from autograder import pipeline
from autograder.distributed import WORKER_DIED, DaskUnavailable
from autograder.execute import ExecuteSettings, SandboxRefused
from autograder.gradebook import COLLECTED, dump, engine_for, status_rows

pytestmark = pytest.mark.slow
ensure_state_env()
REPORTS_GRADING = {"cell": "@start", "source": "import os\nprint('grading mode:', os.environ.get('COURSE_GRADING'))"}
SPECS = [dict(s, insert_after=[REPORTS_GRADING]) if s["student"] == "mistake_sign" else s
         for s in TOY_SPECS if s["student"] in ("correct", "mistake_sign", "deletes_tests", "kills_kernel")]
SLOW = {"student": "zz_slow", "insert_after": [{"cell": "@last_solution", "source": "import time\ntime.sleep(15)"}]}
SETTINGS = ExecuteSettings(cell_timeout=30)


def options(**kwargs) -> pipeline.Options:
    return pipeline.Options(settings=SETTINGS, progress=False, **kwargs)


def comparable(picture: dict) -> dict:
    """The gradebook without its times: receipt times (and the submissions' hashes, which cover the
    receipt file) differ between two collected classes."""
    for entry in [*picture["grades"].values(), *picture["statuses"].values()]:
        entry.pop("timestamp", None)
        entry.pop("received_at", None)
        entry.pop("inputs_hash", None)
    return picture


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    course = toy_course(tmp_path_factory.mktemp("serial"), specs=SPECS)
    pipeline.grade(course, [ASSIGNMENT], options(jobs=1))
    return comparable(dump(course))


def test_local_cluster_on_postgres_equals_a_serial_run(tmp_path, serial):
    with postgres_server() as url:
        course = toy_course(tmp_path, db_url=url, specs=SPECS)
        report = pipeline.grade(course, [ASSIGNMENT], options(dask="local:2"))
        assert len(report.graded) == len(SPECS)
        assert comparable(dump(course)) == serial
        assert pipeline.grade(course, [ASSIGNMENT], options(dask="local:2")).graded == [], "a rerun regraded"
    # The executed notebook came back from the worker, and the kernel knew it was being graded.
    assert "grading mode: 1" in (course.autograded("mistake_sign", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").read_text()
    assert serial["statuses"][f"correct/{ASSIGNMENT}"]["score"] == 6.0


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path, serial):
    from distributed import Client

    course = toy_course(tmp_path / "class", specs=SPECS)
    with dask_processes(tmp_path / "dask") as dask:
        address = dask.start_scheduler()
        dask.start_worker()
        dask.start_worker()
        dask.wait_for_workers(2)
        outcome: dict = {}
        run = threading.Thread(target=lambda: outcome.update(
            report=pipeline.grade(course, [ASSIGNMENT], options(dask=address))), daemon=True)
        with Client(address, timeout=60) as watcher:
            pids = watcher.run(os.getpid)
            run.start()
            victim = None
            while victim is None and run.is_alive():
                busy = [addr for addr, keys in watcher.processing().items() if keys]
                victim = busy[0] if busy else None
                time.sleep(0.1)
            assert victim is not None, "the batch ended before any worker was seen busy"
            os.kill(pids[victim], signal.SIGKILL)
            run.join(timeout=900)
        assert not run.is_alive()
    report = outcome["report"]
    assert sorted(r.student for r in report.graded) == sorted(s["student"] for s in SPECS)
    assert not any(WORKER_DIED in r.reasons for r in report.graded)
    assert comparable(dump(course)) == serial


def test_losing_the_scheduler_stops_the_run_and_a_rerun_resumes(tmp_path, serial):
    course = toy_course(tmp_path / "class", specs=[*SPECS, SLOW])
    with dask_processes(tmp_path / "dask") as dask:
        address = dask.start_scheduler()
        dask.start_worker()
        dask.wait_for_workers(1)
        outcome: dict = {}

        def grade():
            try:
                outcome["report"] = pipeline.grade(course, [ASSIGNMENT], options(dask=address))
            except Exception as error:  # noqa: BLE001 - what the test is about
                outcome["error"] = error

        run = threading.Thread(target=grade, daemon=True)
        run.start()
        engine = engine_for(course.db_url)
        try:
            while run.is_alive() and all(row.status == COLLECTED for row in status_rows(engine)):
                time.sleep(0.2)
            dask.kill_scheduler()
            run.join(timeout=600)
            assert not run.is_alive(), "the run did not stop after the scheduler went away"
            recorded = {row.student for row in status_rows(engine) if row.status != COLLECTED}
        finally:
            engine.dispose()
        assert isinstance(outcome.get("error"), DaskUnavailable), outcome
        assert "rerun" in str(outcome["error"]) or "run the same command again" in str(outcome["error"])
        assert "zz_slow" not in recorded

        dask.stop()
        address = dask.start_scheduler()
        dask.start_worker()
        report = pipeline.grade(course, [ASSIGNMENT], options(dask=address))
    assert {r.student for r in report.graded} == {s["student"] for s in [*SPECS, SLOW]} - recorded
    picture = comparable(dump(course))
    slow = picture["statuses"].pop(f"zz_slow/{ASSIGNMENT}")
    assert (slow["status"], slow["score"]) == ("graded", 6.0)
    picture["grades"].pop(f"zz_slow/{ASSIGNMENT}")
    assert picture == serial


def test_a_worker_without_the_sandbox_refuses_work(tmp_path):
    course = toy_course(tmp_path / "class", specs=SPECS[:1])
    with dask_processes(tmp_path / "dask") as dask:
        address = dask.start_scheduler()
        # Not root: bubblewrap cannot build the sandbox. With the preload, the worker does not start.
        refusing = dask.start_worker(prefix=AS_NOBODY)
        assert refusing.wait(timeout=300) != 0
        assert "refuses to grade" in dask.log(refusing) and "root" in dask.log(refusing)
        # Without it, the worker refuses each task, and the run stops with the same reason.
        dask.start_worker(prefix=AS_NOBODY, preload=False)
        dask.wait_for_workers(1)
        with pytest.raises(SandboxRefused, match="refuses to grade.*root"):
            pipeline.grade(course, [ASSIGNMENT], options(dask=address))
    engine = engine_for(course.db_url)
    try:
        assert [row.status for row in status_rows(engine)] == [COLLECTED], "something was recorded unsandboxed"
    finally:
        engine.dispose()

