"""``course-grade collect homes`` (notebooks from students' home folders, receipt times, one student at a time) and
``course-grade release-feedback`` (pages to the exchange under the submission secret's name)."""

from __future__ import annotations

import os

import pytest

from grading_fixture import ASSIGNMENT, ensure_state_env, toy_course

from autograder import cli, collect
from autograder.clock import utcnow
from autograder.course import CourseError
from autograder.demo.build import build_submission

ensure_state_env()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return toy_course(tmp_path_factory.mktemp("homes"), specs=[{"student": "seed"}])


def _notebook(course, spec=None) -> bytes:
    return build_submission(course.release(ASSIGNMENT), course.source / ASSIGNMENT, spec or {"student": "x"})[f"{ASSIGNMENT}.ipynb"]


def _home(homes, student, notebook: bytes | None, extra: dict | None = None):
    folder = homes / student / "course-repo" / "release" / ASSIGNMENT
    folder.mkdir(parents=True)
    if notebook is not None:
        (folder / f"{ASSIGNMENT}.ipynb").write_bytes(notebook)
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return folder


def test_each_students_notebook_is_collected_and_broken_homes_are_skipped_one_by_one(course, tmp_path):
    homes = tmp_path / "homes"
    good = _notebook(course)
    _home(homes, "ana", good, {"scratch.csv": b"1,2\n", "timestamp.txt": b"1999-01-01 00:00:00 UTC"})
    _home(homes, "ben", None)  # never saved the notebook
    victim = _home(homes, "cy", _notebook(course, {"student": "cy", "solve": "none"}))
    thief = _home(homes, "dan", None)
    (thief / f"{ASSIGNMENT}.ipynb").symlink_to(victim / f"{ASSIGNMENT}.ipynb")  # a link to someone else's work
    (homes / "eve" / "course-repo").mkdir(parents=True)
    (homes / "eve" / "course-repo" / "release").symlink_to(victim.parent)  # a linked folder on the way
    before = utcnow()
    result = collect.collect_homes(course, ASSIGNMENT, str(homes / "{student}" / "course-repo" / "release" / "{assignment}"))
    assert [r.student for r in result.receipts] == ["ana", "cy"]
    assert all(r.received_at >= before and r.new for r in result.receipts)
    skipped = dict(s.split(": ", 1) for s in result.skipped)
    assert set(skipped) == {"ben", "dan", "eve"}
    assert "no " in skipped["ben"] and "regular file" in skipped["dan"] and "symbolic link" in skipped["eve"]
    submitted = course.submitted("ana", ASSIGNMENT)
    assert (submitted / f"{ASSIGNMENT}.ipynb").read_bytes() == good
    assert not (submitted / "scratch.csv").exists(), "only the assignment's notebooks are collected"
    assert not (submitted / "timestamp.txt").read_text().startswith("1999")
    assert not course.submitted("dan", ASSIGNMENT).exists() and not course.submitted("eve", ASSIGNMENT).exists()

    again = collect.collect_homes(course, ASSIGNMENT, str(homes / "{student}" / "course-repo" / "release" / "{assignment}"),
                                  students=["ana"])
    assert [(r.student, r.new, r.received_at) for r in again.receipts] == [("ana", False, result.receipts[0].received_at)]


def test_the_command_line_collects_homes_and_rejects_a_pattern_without_a_student(course, tmp_path, capsys):
    homes = tmp_path / "homes"
    _home(homes, "fay", _notebook(course))
    pattern = str(homes / "{student}" / "course-repo" / "release" / "{assignment}")
    assert cli.main(["--course", str(course.root), "collect", "homes", ASSIGNMENT, pattern]) == 0
    assert "fay\t" in capsys.readouterr().out
    assert (course.submitted("fay", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").is_file()
    assert cli.main(["--course", str(course.root), "collect", "homes", ASSIGNMENT, str(homes / "all")]) == 1
    assert "{student}" in capsys.readouterr().err
    with pytest.raises(CourseError):
        collect.collect_homes(course, ASSIGNMENT, str(homes / "x{student}"))
    assert os.path.isdir(homes)


# -- feedback back through the exchange --------------------------------------------------------------

def test_release_feedback_names_each_page_after_the_submission_secret_and_skips_submissions_without_one(course, tmp_path):
    from nbgrader.utils import notebook_hash

    from autograder import judge
    from autograder.gradebook import Outcome, open_gradebook, record
    from autograder.release_feedback import release_feedback

    exchange = tmp_path / "exchange"
    (exchange / course.course_id / "feedback").mkdir(parents=True)
    secret = "a1b2" * 32
    collect.accept(course, ASSIGNMENT, "gil", {f"{ASSIGNMENT}.ipynb": _notebook(course), "submission_secret.txt": secret.encode()},
                   "exchange")
    collect.accept(course, ASSIGNMENT, "hal", {f"{ASSIGNMENT}.ipynb": _notebook(course)}, "zip")
    the_plan = judge.plan(course.source_notebooks(ASSIGNMENT), ASSIGNMENT, course.golden)
    verdict = judge.judge(the_plan, judge.Records({}, []), course.golden)
    with open_gradebook(course) as gb:
        for student in ("gil", "hal"):
            record(gb, Outcome(ASSIGNMENT, student, verdict, [], "h", utcnow()))
    result = release_feedback(course, ASSIGNMENT, exchange)
    expected = exchange / course.course_id / "feedback" / f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
    assert expected in result.pages
    assert "Student gil" in expected.read_text() and oct(expected.stat().st_mode & 0o777) == "0o644"
    assert any(s.startswith("hal: not submitted through the exchange") for s in result.skipped)
    assert not list((exchange / course.course_id / "feedback").glob(".*"))  # no partial page left behind
    with pytest.raises(CourseError):
        release_feedback(course, ASSIGNMENT, tmp_path / "no-exchange")
