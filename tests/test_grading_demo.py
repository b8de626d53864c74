"""The bundled demo class, graded once in the real sandbox with a real gradebook; many checks on the result.

Reference solutions score full marks; each common mistake loses exactly its tests and shows its hint;
every hostile submission (one or more per principle of grading-threats.md) gets no unearned point,
reads nothing secret, leaves no process, and ends in a status instead of stopping the batch; feedback
shows no test source; the exports parse.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil

import nbformat
import psutil
import pytest

from grading_fixture import ensure_state_env

from autograder import export, pipeline
from autograder.course import gradable_assignments
from autograder.demo import DEMO_CELL_TIMEOUT, DEMO_SUBMISSION_TIMEOUT, REPO, build_demo
from autograder.demo.students import ORPHAN_MARKER, STOLEN_MARKER
from autograder.execute import ExecuteSettings
from autograder.gradebook import GRADED, NEEDS_REVIEW, engine_for, open_gradebook, status_rows
from autograder.judge import Judgement
from autograder.reasons import reasons_from_json

pytestmark = pytest.mark.slow
ensure_state_env()

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
TRIVIAL = re.compile(r"^[\s\W]*$|^\s*(return|pass|else:|continue|break|try:|finally:)\s*$")


# The suite grades the first three chapters (its time budget on CI's two cores: about 40 submissions);
# GRADING_DEMO_ALL=1 grades every chapter, as `make grade-demo` does.
CHAPTERS = None if os.environ.get("GRADING_DEMO_ALL") == "1" else 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    # A snapshot of the chapters and golden files: chapters edited while the suite runs change nothing here.
    source, golden = folder / "source", folder / "golden"
    shutil.copytree(REPO / "source", source)
    shutil.copytree(REPO / "autograder" / "golden", golden)
    chapters = gradable_assignments(source, golden)[:CHAPTERS]
    built = build_demo(folder / "course", source=source, golden=golden, assignments=chapters)
    assert built.assignments, "no chapter with a golden file: nothing to grade"
    options = pipeline.Options(settings=ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT), jobs=2,
                               submission_timeout=DEMO_SUBMISSION_TIMEOUT, progress=False)
    report = pipeline.grade(built.course, built.assignments, options)
    engine = engine_for(built.course.db_url)
    rows = {(r.assignment, r.student): r for r in status_rows(engine)}
    engine.dispose()
    return {"demo": built, "report": report, "rows": rows}


def _judgement(demo, assignment, student) -> Judgement:
    return Judgement.from_json(demo["rows"][(assignment, student)].judgement)


def _cases(demo):
    for assignment, specs in demo["demo"].specs.items():
        for spec in specs:
            yield assignment, spec


def test_every_submission_was_graded_and_none_stopped_the_batch(demo):
    expected = {(a, s["student"]) for a, s in _cases(demo)}
    assert set(demo["rows"]) == expected
    assert all(r.status in (GRADED, NEEDS_REVIEW) and r.judgement for r in demo["rows"].values())
    per_chapter = {a: len(s) for a, s in demo["demo"].specs.items()}
    assert all(n >= 12 for n in per_chapter.values()), per_chapter


def test_expected_scores_and_statuses(demo):
    problems = []
    for assignment, spec in _cases(demo):
        row = demo["rows"][(assignment, spec["student"])]
        verdict = _judgement(demo, assignment, spec["student"])
        earned = {c.grade_id: c.earned for c in verdict.cells}
        expect = spec.get("expect")
        if "loses" in spec:  # a common mistake: exactly its tests lost
            lost = sorted(c.grade_id for c in verdict.cells if c.earned < c.points)
            if lost != sorted(spec["loses"]):
                problems.append(f"{assignment}/{spec['student']}: lost {lost}, expected {sorted(spec['loses'])}")
        elif expect == "full" and row.score != row.max_score:
            problems.append(f"{assignment}/{spec['student']}: {row.score}/{row.max_score}, expected full marks")
        elif expect == "zero" and row.score != 0:
            problems.append(f"{assignment}/{spec['student']}: {row.score}, expected zero")
        elif expect == "partial":
            partial = {c.grade_id: c.earned for c in _judgement(demo, assignment, "partial").cells}
            if earned != partial:
                problems.append(f"{assignment}/{spec['student']}: {earned}, expected the partial solution's {partial}")
        status = spec.get("status", GRADED if expect in ("full", "partial") or "loses" in spec else None)
        reasons = [str(r) for r in reasons_from_json(row.reasons)]
        if status and row.status != status:
            problems.append(f"{assignment}/{spec['student']}: status {row.status} {reasons}, expected {status}")
        if spec.get("reason") and not any(spec["reason"] in r for r in reasons):
            problems.append(f"{assignment}/{spec['student']}: reasons {reasons} lack {spec['reason']!r}")
    assert problems == []


def test_partial_solutions_score_between_zero_and_full(demo):
    """Solving only the first exercise earns something short of full marks (nothing, if the chapter's
    first test also needs a later exercise)."""
    scores = [demo["rows"][(a, "partial")] for a in demo["demo"].assignments]
    assert all(0 <= row.score < row.max_score for row in scores)
    assert any(row.score > 0 for row in scores)


def test_each_common_mistake_gets_its_hint_in_the_feedback(demo):
    course = demo["demo"].course
    mistakes = [(a, s) for a, s in _cases(demo) if "loses" in s]
    assert mistakes, "no common mistakes in the demo"
    for assignment, spec in mistakes:
        pages = "".join(p.read_text() for p in course.feedback(spec["student"], assignment).glob("*.html"))
        assert spec["hint"] in html.unescape(pages), (assignment, spec["student"])


def test_hostile_submissions_read_no_secret(demo):
    course = demo["demo"].course
    for assignment, spec in _cases(demo):
        if spec["student"] != "reads_secrets":
            continue
        nb = nbformat.read(course.autograded("reads_secrets", assignment) / f"{course.notebook_names(assignment)[0]}.ipynb", 4)
        texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        reports = [line for text in texts for line in text.splitlines() if line.startswith(STOLEN_MARKER)]
        assert reports == [f"{STOLEN_MARKER} []"], reports


def test_no_process_outlives_grading(demo):
    leftovers = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if ORPHAN_MARKER in line or "autograder.worker" in line and str(demo["demo"].course.root) in line:
            leftovers.append(line)
    assert leftovers == []


def test_the_gradebook_holds_the_judges_scores(demo):
    """formgrader and nbgrader export read these: the judge's verdict, not nbgrader's asserts."""
    with open_gradebook(demo["demo"].course) as gb:
        for (assignment, student), row in demo["rows"].items():
            assert gb.find_submission(assignment, student).score == pytest.approx(row.score), (assignment, student)


def test_receipt_time_is_the_graders(demo):
    for assignment, spec in _cases(demo):
        if spec["student"] == "fake_timestamp":
            row = demo["rows"][(assignment, "fake_timestamp")]
            with open_gradebook(demo["demo"].course) as gb:
                stamp = gb.find_submission(assignment, "fake_timestamp").timestamp
            assert stamp == row.received_at and row.received_at.year > 2000


def test_feedback_shows_no_test_source_and_reads_offline(demo):
    course = demo["demo"].course
    secrets, sources = set(), set()
    for assignment in demo["demo"].assignments:
        for path in course.source_notebooks(assignment):
            for cell in nbformat.read(path, 4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade") and not meta.get("solution"):
                    for block in HIDDEN.findall(cell.source + "\n"):
                        secrets |= {line.strip() for line in block.splitlines() if not TRIVIAL.match(line)}
                    sources |= {line.strip() for line in cell.source.splitlines() if len(line.strip()) > 12 and not TRIVIAL.match(line)}
    assert len(secrets) > 20
    pages = sorted((course.root / "feedback").rglob("*.html"))
    assert len(pages) == len(demo["rows"])
    for page in pages:
        text = page.read_text()
        unescaped = text.replace("&quot;", '"').replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        leaked = [line for line in secrets | sources if line in unescaped]
        assert leaked == [], f"{page}: {leaked[:3]}"
        assert "http://" not in text and "https://" not in text and "<script" not in text and "<link" not in text


def test_exports_parse(demo, tmp_path):
    course = demo["demo"].course
    path = export.nbgrader_csv(course, tmp_path / "grades.csv")
    rows = list(csv.DictReader(path.open()))
    assert {(r["assignment"], r["student_id"]) for r in rows} >= set(demo["rows"])
    for r in rows:
        if (r["assignment"], r["student_id"]) in demo["rows"]:
            assert float(r["score"]) == pytest.approx(demo["rows"][(r["assignment"], r["student_id"])].score)
    canvas = export.canvas_csv(course, tmp_path / "canvas.csv", canvas_ids={demo["demo"].assignments[0]: "4242"})
    table = list(csv.reader(canvas.open()))
    assert table[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert table[0][5] == f"{demo['demo'].assignments[0]} (4242)"
    assert table[1][0] == "Points Possible" and float(table[1][5]) > 0
    correct = next(r for r in table if r[2] == "correct")
    assert float(correct[5]) == float(table[1][5])


def test_timing_is_reported(demo):
    graded = demo["report"].graded
    per = sum(r.seconds for r in graded) / len(graded)
    print(json.dumps({"submissions": len(graded), "seconds": demo["report"].seconds, "per_submission": round(per, 2)}))
    assert per < DEMO_SUBMISSION_TIMEOUT


def test_the_command_line_reports_and_exports(demo, tmp_path):
    import subprocess
    import sys

    course = demo["demo"].course
    base = [sys.executable, "-m", "autograder.cli", "--course", str(course.root), "--source", str(course.source),
            "--golden", str(course.golden)]
    status = subprocess.run([*base, "status", *demo["demo"].assignments], capture_output=True, text=True, check=True)
    assert status.stdout.splitlines()[0].split()[:2] == ["student", demo["demo"].assignments[0]]
    assert "needs_review" in status.stdout and "correct" in status.stdout
    regrade = subprocess.run([*base, "grade", *demo["demo"].assignments, "--no-progress",
                              "--cell-timeout", str(DEMO_CELL_TIMEOUT)], capture_output=True, text=True, check=True)
    assert f"0 graded, {len(demo['rows'])} unchanged" in regrade.stdout
    out = tmp_path / "canvas.csv"
    subprocess.run([*base, "export", "--canvas-csv", str(out)], check=True,
                   capture_output=True)
    assert out.read_text().splitlines()[1].startswith("Points Possible")
