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
from autograder.clock import utcnow
from autograder.demo.build import build_submission
from autograder.gradebook import open_gradebook
from autograder.judge import Judgement
from autograder.reasons import Reason, ReasonKind

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
    from autograder.gradebook import Outcome, record

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


def _canvas_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_two_lms_accounts_of_one_student_are_never_merged_and_the_latest_wins(course, tmp_path):
    old, new = _files(course, {"solve": "none"})[f"{ASSIGNMENT}.ipynb"], _files(course)[f"{ASSIGNMENT}.ipynb"]
    archive = _canvas_zip(tmp_path / "two.zip", {
        "lovelaceada_111_5_toy_descent.ipynb": old, "lovelaceada_111_6_scratch.txt": b"old account",
        "adalovelace_222_9_toy_descent.ipynb": new,
    })
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n111,ada2\n222,ada2\n")
    result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
    assert [r.student for r in result.receipts] == ["ada2"]
    submitted = course.submitted("ada2", ASSIGNMENT)
    assert (submitted / f"{ASSIGNMENT}.ipynb").read_bytes() == new
    assert not (submitted / "scratch.txt").exists(), "files of the other account are not mixed in"
    assert len(result.collisions) == 1 and "111 and 222" in result.collisions[0] and "kept the files of 222" in result.collisions[0]


def test_of_two_attachments_the_higher_number_wins_not_the_later_string(course, tmp_path):
    """Canvas attachment ids 9 and 10: as strings "10" < "9", as numbers 10 is the later upload."""
    old, new = _files(course, {"solve": "none"})[f"{ASSIGNMENT}.ipynb"], _files(course)[f"{ASSIGNMENT}.ipynb"]
    archive = _canvas_zip(tmp_path / "two.zip", {"hopper_333_10_toy_descent-1.ipynb": new, "hopper_333_9_toy_descent.ipynb": old})
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n333,hopper\n")
    result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
    assert (course.submitted("hopper", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").read_bytes() == new
    assert result.collisions == [f"hopper: hopper_333_9_toy_descent.ipynb and hopper_333_10_toy_descent-1.ipynb are both "
                                 f"{ASSIGNMENT}.ipynb; kept the later upload, hopper_333_10_toy_descent-1.ipynb"]


def test_a_zip_bomb_is_read_within_one_students_caps_and_stops_no_one(course, tmp_path, monkeypatch):
    import tracemalloc

    monkeypatch.setattr(collect, "MAX_TOTAL_BYTES", 16 * 2**20)
    notebook = _files(course)[f"{ASSIGNMENT}.ipynb"]
    bomb = {f"bomber_444_{i}_part{i}.bin": bytes(4 * 2**20) for i in range(64)}  # 256 MiB inflated, < 1 MiB zipped
    archive = _canvas_zip(tmp_path / "bomb.zip", {**bomb, "honest_555_1_toy_descent.ipynb": notebook})
    assert archive.stat().st_size < 2**20
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n444,bomber\n555,honest\n")
    tracemalloc.start()
    try:
        result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 2**20, f"the grader held {peak} bytes"
    assert [r.student for r in result.receipts] == ["honest"]
    assert result.skipped == [f"bomber: submission larger than {16 * 2**20} bytes; nothing collected for this student"]
    assert not course.submitted("bomber", ASSIGNMENT).exists()


def test_a_student_with_thousands_of_files_is_skipped_alone(course, tmp_path):
    notebook = _files(course)[f"{ASSIGNMENT}.ipynb"]
    many = {f"flood_666_{i}_f{i}.txt": b"x" for i in range(4000)}
    archive = _canvas_zip(tmp_path / "many.zip", {**many, "calm_777_1_toy_descent.ipynb": notebook, "calm_777_2_notes.txt": b"n"})
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n666,flood\n777,calm\n")
    result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
    assert [r.student for r in result.receipts] == ["calm"], "a zip of 4,002 members is not refused whole"
    assert result.skipped == [f"flood: more than {collect.MAX_FILES} files; nothing collected for this student"]


def test_a_zip_name_flagged_utf8_that_is_not_skips_that_file_only(course, tmp_path):
    notebook = _files(course)[f"{ASSIGNMENT}.ipynb"]
    archive = tmp_path / "names.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("carol_888_1_toy_descent.ipynb", notebook)
        zf.writestr("carol_888_2_notes\u00e9.txt", b"notes")  # a non-ASCII name: zipfile flags it UTF-8
        zf.writestr("dave_999_1_toy_descent.ipynb", notebook)
    data = archive.read_bytes()
    assert data.count("notes\u00e9".encode()) == 2  # the local header and the central directory
    archive.write_bytes(data.replace("notes\u00e9".encode(), b"notes\xff\xfe"))  # still flagged, no longer UTF-8
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(archive)  # what stopped the whole collection before
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id\n888,carol\n999,dave\n")
    result = collect.collect_zip(course, ASSIGNMENT, archive, mapping)
    assert sorted(r.student for r in result.receipts) == ["carol", "dave"]
    assert result.skipped == ["carol_888_2_notes\\xff\\xfe.txt: the file name is not valid UTF-8; file skipped"]
    assert sorted(p.name for p in course.submitted("carol", ASSIGNMENT).iterdir()) == ["timestamp.txt", f"{ASSIGNMENT}.ipynb"]


def _with_undecodable_file(folder):
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("fine")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"latin-1 name")


def test_a_folder_file_whose_name_is_not_utf8_is_skipped_with_a_reason(course, tmp_path):
    folder = tmp_path / "erin"
    _with_undecodable_file(folder)
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(_files(course)[f"{ASSIGNMENT}.ipynb"])
    notes = []
    receipt = collect.accept_folder(course, ASSIGNMENT, "erin", folder, note=notes.append)
    assert receipt.student == "erin"
    assert notes == ["caf\\xe9.txt: the file name is not valid UTF-8; file skipped"]
    assert sorted(p.name for p in course.submitted("erin", ASSIGNMENT).iterdir()) == ["notes.txt", "timestamp.txt", f"{ASSIGNMENT}.ipynb"]


def test_one_odd_exchange_submission_stops_no_one(course, tmp_path):
    """nbgrader's own collect from an exchange (inbound folders as nbgrader submit leaves them)."""
    exchange = tmp_path / "exchange"
    inbound = exchange / course.course_id / "inbound"
    notebook = _files(course)[f"{ASSIGNMENT}.ipynb"]
    for student in ("frank", "gwen"):
        folder = inbound / f"{student}+{ASSIGNMENT}+2030-01-01 00:00:00.000000 UTC+abcdef"
        if student == "gwen":
            _with_undecodable_file(folder)
        else:
            folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_bytes(notebook)
        (folder / "timestamp.txt").write_text("2030-01-01 00:00:00.000000 UTC")
    result = collect.collect_exchange(course, ASSIGNMENT, exchange)
    assert sorted(r.student for r in result.receipts) == ["frank", "gwen"]
    assert result.skipped == ["gwen: caf\\xe9.txt: the file name is not valid UTF-8; file skipped"]


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
