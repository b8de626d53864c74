"""Collect (exchange, LMS zip), receipt times and lateness, and the stages that need no kernel: judge,
inspection, feedback rendering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta

import numpy as np
import pytest

from grading_fixture import ASSIGNMENT, ensure_state_env, toy_course, write_fixture

from autograder import collect, feedback, integrity, judge
from autograder.course import utcnow
from autograder.demo.build import build_submission
from autograder.judge import Judgement
from autograder.reasons import Reason, ReasonKind
from autograder.record import open_gradebook

ensure_state_env()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The toy course, prepared (gradebook, release), with nothing collected."""
    return toy_course(tmp_path_factory.mktemp("collect"), specs=[{"student": "seed"}])


def _files(course, spec=None):
    return build_submission(course.release(ASSIGNMENT), course.source / ASSIGNMENT, spec or {"student": "x"})


# -- receipt times -----------------------------------------------------------------------------------

def test_receipt_time_is_the_graders_and_survives_an_identical_recollect(course):
    files = _files(course) | {"timestamp.txt": b"2000-01-01 00:00:00.000000 UTC\n"}
    before = utcnow()
    first = collect.accept(course, ASSIGNMENT, "ada", files, "folder")
    assert first.new and before <= first.received_at <= utcnow() + timedelta(seconds=1)
    stamp = (course.submitted("ada", ASSIGNMENT) / "timestamp.txt").read_text()
    assert stamp.startswith(first.received_at.strftime("%Y-%m-%d %H:%M:%S")), "the student's timestamp file was kept"
    again = collect.accept(course, ASSIGNMENT, "ada", files, "folder", received_at=datetime(2030, 1, 1))
    assert not again.new and again.received_at == first.received_at
    changed = collect.accept(course, ASSIGNMENT, "ada", _files(course, {"solve": "none"}), "folder",
                             received_at=datetime(2030, 1, 1))
    assert changed.new and changed.received_at == datetime(2030, 1, 1)


def test_lateness_is_receipt_time_against_the_due_date(course):
    from autograder.record import Outcome, record

    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime(2029, 12, 31))
    collect.accept(course, ASSIGNMENT, "late_lou", _files(course) | {"timestamp.txt": b"2000-01-01 00:00:00 UTC"},
                   "folder", received_at=datetime(2030, 1, 1, 12))
    the_plan = judge.plan(course.source_notebooks(ASSIGNMENT), ASSIGNMENT, course.golden)
    verdict = judge.judge(the_plan, judge.Records({}, []), course.golden)
    with open_gradebook(course) as gb:
        record(gb, Outcome(ASSIGNMENT, "late_lou", verdict, [], "h", utcnow()))
        submission = gb.find_submission(ASSIGNMENT, "late_lou")
        assert submission.timestamp == datetime(2030, 1, 1, 12)
        assert submission.total_seconds_late == pytest.approx(36 * 3600)
        gb.update_or_create_assignment(ASSIGNMENT, duedate=None)


# -- the nbgrader exchange ---------------------------------------------------------------------------

def test_collect_from_a_real_exchange(course, tmp_path):
    """release_assignment, then fetch and submit as a student with nbgrader's own commands, then collect."""
    exchange, home = tmp_path / "exchange", tmp_path / "student"
    exchange.mkdir()
    home.mkdir()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"))
    common = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={course.course_id}"]
    run = lambda args, cwd: subprocess.run([sys.executable, "-m", "nbgrader", *args, *common, "--log-level=ERROR"],  # noqa: E731
                                           cwd=cwd, env=env, check=True, capture_output=True, text=True)
    run(["release_assignment", ASSIGNMENT, "--force"], course.root)
    run(["fetch_assignment", ASSIGNMENT], home)
    fetched = home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    fetched.write_bytes(_files(course)[f"{ASSIGNMENT}.ipynb"])
    (home / ASSIGNMENT / "timestamp.txt").write_text("1999-01-01 00:00:00 UTC")
    subprocess.run([sys.executable, "-m", "nbgrader", "submit", ASSIGNMENT, *common, "--student=grace", "--log-level=ERROR"],
                   cwd=home, env=dict(env, USER="grace"), check=True, capture_output=True, text=True)
    before = utcnow()
    result = collect.collect_exchange(course, ASSIGNMENT, exchange)
    assert [r.student for r in result.receipts] == ["grace"] and result.skipped == []
    assert result.receipts[0].received_at >= before
    submitted = course.submitted("grace", ASSIGNMENT)
    assert (submitted / f"{ASSIGNMENT}.ipynb").is_file()
    assert not (submitted / "timestamp.txt").read_text().startswith("1999")


# -- an LMS zip --------------------------------------------------------------------------------------

def test_collect_a_canvas_zip_through_a_mapping_and_a_regex(course, tmp_path):
    archive = tmp_path / "submissions.zip"
    notebook = _files(course)[f"{ASSIGNMENT}.ipynb"]
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("smithjane_12345_678_toy_descent.ipynb", notebook)
        zf.writestr("doejohn_LATE_23456_789_toy_descent-1.ipynb", notebook)
        zf.writestr("doejohn_LATE_23456_790_notes.txt", "my notes")
        zf.writestr("stranger_99999_1_toy_descent.ipynb", notebook)
        zf.writestr("../../evil_1_2_x.ipynb", notebook)
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n12345,jsmith\n23456,jdoe\n")
    result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
    assert sorted(r.student for r in result.receipts) == ["jdoe", "jsmith"]
    assert any("stranger" in s for s in result.skipped)
    assert (course.submitted("jdoe", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").is_file()
    assert (course.submitted("jdoe", ASSIGNMENT) / "notes.txt").read_text() == "my notes"
    assert not (course.root.parent / "evil_1_2_x.ipynb").exists()
    by_regex = collect.collect_zip(course, ASSIGNMENT, archive, pattern=r"^(?P<student>[a-z]+)_(?:LATE_)?\d+_\d+_(?P<filename>.+)$")
    assert "smithjane" in {r.student for r in by_regex.receipts}


# -- judge, inspection, feedback (no kernel) ---------------------------------------------------------

def test_records_are_read_with_bounds_and_malformed_lines_are_noted(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    good = json.dumps({"check": "a.x", "value": 1.0})
    path.write_text("\n".join([good, "not json", json.dumps({"check": 3, "value": 1}), json.dumps({"check": "b.y", "value": 1}),
                               json.dumps({"check": "a.x", "value": {"__ndarray__": True, "dtype": "object", "shape": [1], "data": [1]}}),
                               "[" * 50000, "x" * 300]) + "\n")
    monkeypatch.setattr(judge, "MAX_RECORD_LINE", 200)
    read = judge.read_records(path, {"a.x"})
    assert read.values == {"a.x": [1.0]}
    assert any("longer than" in n for n in read.notes) and any("not a valid record" in n for n in read.notes)
    assert judge.read_records(tmp_path / "absent", {"a.x"}).values == {}


def test_a_cell_earns_its_points_only_if_every_record_of_every_check_passes(tmp_path):
    fixture = write_fixture(tmp_path)
    the_plan = judge.plan(sorted((fixture["source"] / ASSIGNMENT).glob("*.ipynb")), ASSIGNMENT, fixture["golden"])
    assert [(c.grade_id, c.checks) for c in the_plan.cells][0] == (
        "test_descent_step", ("toy_descent.step_basic", "toy_descent.step_hidden"))
    good = {"toy_descent.step_basic": [np.array([0.95, -2.05])], "toy_descent.step_hidden": [np.array([2.75, 4.25, 4.5])]}
    verdict = judge.judge(the_plan, judge.Records(good, []), fixture["golden"])
    assert [c.earned for c in verdict.cells] == [2.0, 0.0, 0.0]
    twice = dict(good, **{"toy_descent.step_hidden": [np.array([2.75, 4.25, 4.5]), np.zeros(3)]})
    assert judge.judge(the_plan, judge.Records(twice, []), fixture["golden"]).cells[0].earned == 0.0
    wrong = dict(good, **{"toy_descent.step_basic": [np.array([1.05, -1.95])]})
    failed = judge.judge(the_plan, judge.Records(wrong, []), fixture["golden"]).cells[0].checks[0]
    assert not failed.passed and "uphill" in failed.hint


def test_computed_check_names_are_matched_to_golden_names():
    names, patterns = judge.check_calls('for o in GRID:\n    check("ch3_adam." + name("adam", o), 1)\ncheck("ch3_adam.x", 2)', "t")
    assert names == ("ch3_adam.x",) and patterns == (("ch3_adam.", "adam"),)
    assert judge._matches("ch3_adam.adam[lr=0.1]", patterns[0]) and not judge._matches("ch3_adam.adamw[lr=0.1]", patterns[0])
    with pytest.raises(judge.PlanError):
        judge.check_calls("check(some_name, 1)", "t")


def test_optimizer_imports_are_flagged():
    sources = ["import torch.optim as o", "from sklearn.linear_model import SGDRegressor", "x = __import__('jax')",
               "from scipy import optimize", "import numpy", "import tensorflow as tf"]
    assert integrity.flagged_imports(sources) == ["jax", "scipy.optimize", "sklearn", "tensorflow", "torch"]


def test_inspection_reports_invalid_missing_and_tampered_notebooks(course, tmp_path):
    release = course.release(ASSIGNMENT)
    folder = tmp_path / "sub"
    folder.mkdir()
    assert integrity.inspect(folder, release, [ASSIGNMENT]).reasons == [
        Reason(ReasonKind.MISSING_NOTEBOOK, f"missing notebook: {ASSIGNMENT}.ipynb")]
    (folder / f"{ASSIGNMENT}.ipynb").write_text("{not json")
    found = integrity.inspect(folder, release, [ASSIGNMENT])
    assert not found.runnable and "invalid notebook" in str(found.reasons[0])
    assert found.reasons[0].kind is ReasonKind.INVALID_NOTEBOOK
    spec = {"metadata": [{"cell": "@first_test", "set": {"points": 99}}], "duplicate": ["@last_test"]}
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(_files(course, spec)[f"{ASSIGNMENT}.ipynb"])
    found = integrity.inspect(folder, release, [ASSIGNMENT])
    assert found.runnable and "points changed" in str(found.reasons[0]) and "duplicated" in str(found.reasons[0])
    assert [r.kind for r in found.reasons] == [ReasonKind.TAMPERED]
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(_files(course, {"kernel_display_name": "Mine"})[f"{ASSIGNMENT}.ipynb"])
    assert integrity.inspect(folder, release, [ASSIGNMENT]).reasons == []


def test_feedback_is_escaped_and_self_contained():
    verdict = Judgement("a", [judge.CellResult("nb", "t1", 2, 0, [judge.CheckResult("a.x", False, 1, "<script>alert(1)</script>", "try <b>")])])
    page = feedback.render("a", "nb", "s", verdict, "needs_review",
                           [Reason(ReasonKind.TIMEOUT, "timeout: cell 3 of secret source")], "2030-01-01 00:00:00")
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "secret source" not in page and "timeout" in page
    assert "http" not in page
