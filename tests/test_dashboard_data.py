"""The dashboard's data, read back from real gradebooks: one written here through nbgrader's Gradebook
API and the grader's own recording functions (SQLite, and PostgreSQL on a real server), and one
chapter of the bundled demo class graded by the real pipeline in the sandbox.

Also home of the fixtures the other dashboard tests share (``graded_demo``, ``state_env``).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from grading_fixture import ensure_state_env

from autograder.dashboard import DashboardError, build_dashboard, data
from autograder.dashboard.html import GENERATOR
from autograder.gradebook import Outcome, engine_for, receive, record
from autograder.judge import CellResult, CheckResult, Judgement
from autograder.execute import _sandbox_reason
from autograder.reasons import Reason, ReasonKind, reasons_from_json, reasons_to_json
from autograder.sandbox import report
from autograder.sandbox.report import Event
from autograder.status import COLLECTED, NEEDS_REVIEW

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".state"
ensure_state_env()

# -- shared: project-local state for servers and kernels, and the graded demo chapter ---------------

def state_env(runtime: Path | None = None) -> dict[str, str]:
    """This process's environment with Jupyter, IPython and matplotlib state inside the project."""
    env = dict(os.environ)
    for key, sub in (("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")):
        env[key] = str(STATE / sub)
    if runtime is not None:
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


DEMO_DEST = STATE / "tests" / "dashboard-demo"
# Spends the whole 60 s submission limit; test_grading_demo grades it. The others all stay.
SLOW_STUDENTS = {"swallows_interrupt"}


def demo_chapter_specs() -> tuple[str, list[dict]]:
    """The first chapter of the bundled demo class and its students (as ``make grade-demo`` has them)."""
    from autograder.course import gradable_assignments
    from autograder.demo.mistakes import MISTAKES
    from autograder.demo.students import specs_for

    names = gradable_assignments(ROOT / "source", ROOT / "autograder" / "golden")
    assert names, "no chapter with a golden file: no demo class"
    specs = specs_for(names, MISTAKES)[names[0]]
    return names[0], [s for s in specs if s["student"] not in SLOW_STUDENTS]


GRADE_DEMO_CHAPTER = """
import json, sys
from pathlib import Path
from autograder.demo import DEMO_CELL_TIMEOUT, DEMO_SUBMISSION_TIMEOUT, build_demo
from autograder import pipeline
from autograder.execute import ExecuteSettings
from autograder.dashboard import build_dashboard

dest, assignment, specs = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
demo = build_demo(dest, assignments=[assignment], specs={assignment: specs})
options = pipeline.Options(settings=ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT), jobs=2,
                           submission_timeout=DEMO_SUBMISSION_TIMEOUT, progress=False)
pipeline.grade(demo.course, [assignment], options)
print(build_dashboard(None, demo.course.root))
"""


def graded_demo() -> Path:
    """One chapter of the demo class, graded in the sandbox by the real pipeline, with its dashboard.

    Built once in ``.state/tests/dashboard-demo/course`` under a file lock (test files run in
    parallel workers share it; a later session regrades only what changed), in a process of its own
    (as ``make grade-demo`` and ``make dashboards`` run), and returned."""
    DEMO_DEST.mkdir(parents=True, exist_ok=True)
    course = DEMO_DEST / "course"
    with open(DEMO_DEST / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assignment, specs = demo_chapter_specs()
        done = subprocess.run([sys.executable, "-c", GRADE_DEMO_CHAPTER, str(course), assignment, json.dumps(specs)],
                              cwd=ROOT, env=state_env(), capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"the demo chapter was not graded:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return course


# -- a class written here: every case the page must show ---------------------------------------------

T0 = datetime(2026, 1, 10, 12, 0, 0)
SIGN_HINT = "You moved uphill: gradient descent subtracts lr * grad."
STEP_HINT = "descent_step works elementwise on arrays of any length."
RUN_HINT = "run_descent returns every point of the trajectory."


def _verdict(assignment: str, cells: list[tuple[str, float, list[tuple[str, bool, str]]]], flagged=()) -> Judgement:
    results = []
    for grade_id, points, checks in cells:
        found = [CheckResult(name, passed, 1 if passed or hint else 0, "" if passed else "differs", hint,
                             0 if hint == SIGN_HINT else None)  # the sign error: a known mistake
                 for name, passed, hint in checks]
        results.append(CellResult("nb", grade_id, points, points if all(c.passed for c in found) else 0.0, found))
    return Judgement(assignment, results, [], list(flagged))


def _a1(step_ok: bool, run_ok: bool, step_hint: str = "", run_hint: str = "") -> list:
    return [("t_step", 2.0, [("a1.step", step_ok, "" if step_ok else step_hint), ("a1.step_hidden", step_ok, "")]),
            ("t_run", 3.0, [("a1.run", run_ok, "" if run_ok else run_hint)])]


def write_class(db_url: str, course_dir: Path) -> Path:
    """A two-assignment class in ``db_url``. Feedback pages for some students."""
    from nbgrader.api import Gradebook

    from autograder.tool_path import ensure_tool_path

    ensure_tool_path()
    with Gradebook(db_url, "toy") as gb:
        gb.add_assignment("a1", duedate=T0)
        gb.add_notebook("nb", "a1")
        gb.add_grade_cell("t_step", "nb", "a1", max_score=2, cell_type="code")
        gb.add_grade_cell("t_run", "nb", "a1", max_score=3, cell_type="code")
        gb.add_assignment("a2")
        gb.add_notebook("nb", "a2")
        gb.add_grade_cell("t_only", "nb", "a2", max_score=4, cell_type="code")
        gb.add_student("alice", first_name="Alice", last_name="Archer")
        engine = engine_for(db_url)
        try:
            cases = [  # assignment, student, received, verdict, reasons
                ("a1", "alice", T0 - timedelta(hours=1), _verdict("a1", _a1(True, True)), []),
                ("a1", "bob", T0 + timedelta(hours=3), _verdict("a1", _a1(False, True, SIGN_HINT)), []),
                ("a1", "carol", T0 + timedelta(days=2, hours=1), _verdict("a1", _a1(False, False, STEP_HINT, RUN_HINT)),
                 [Reason(ReasonKind.TAMPERED, "tampered cells restored in nb.ipynb: t_run: deleted or renamed"),
                  Reason(ReasonKind.TIMEOUT, "timeout: 1 cell(s) exceeded the time limit (nb:t_run)")]),
                ("a1", "dave", T0, _verdict("a1", _a1(False, False)),
                 [Reason(ReasonKind.INVALID_NOTEBOOK, "invalid notebook: nb.ipynb is not valid JSON")]),
                ("a1", "frank", T0 - timedelta(minutes=5), _verdict("a1", _a1(True, False, run_hint=RUN_HINT), ["torch"]),
                 [Reason(ReasonKind.SANDBOX_VIOLATION, "sandbox violation: wrote outside its folder"),
                  Reason(ReasonKind.OPTIMIZER_IMPORT, "imports a library that ships optimizers: torch")]),
                ("a2", "alice", T0, _verdict("a2", [("t_only", 4.0, [("a2.only", True, "")])]), []),
                ("a2", "erin", T0, _verdict("a2", [("t_only", 4.0, [("a2.only", False, "a2 hint")])]), []),
            ]
            for assignment, student, received, verdict, reasons in cases:
                receive(engine, assignment, student, f"hash-{student}", "folder", received)
                record(gb, Outcome(assignment, student, verdict, reasons, "inputs", received + timedelta(minutes=1)))
            receive(engine, "a1", "gina", "hash-gina", "folder", T0 + timedelta(minutes=30))  # collected, not graded
        finally:
            engine.dispose()
        gb.grant_extension("a1", "bob", hours=24)
        grade = gb.find_grade("t_only", "nb", "a2", "erin")  # the instructor's manual grade wins
        grade.manual_score = 3.0
        gb.db.commit()
    for student, assignment in (("alice", "a1"), ("bob", "a1"), ("alice", "a2")):
        folder = course_dir / "feedback" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nb.html").write_text(f"<!DOCTYPE html><title>Feedback: {assignment} / nb</title><h1>{student}</h1>")


def check_class(found: data.ClassData) -> None:
    """What :func:`write_class` wrote, as the dashboard must read it."""
    assert [a.name for a in found.assignments] == ["a1", "a2"]
    a1 = found.assignments[0]
    assert a1.duedate == T0 and a1.max_score == 5.0 and [i.grade_id for i in a1.items] == ["t_step", "t_run"]
    assert found.assignments[1].duedate is None
    assert [s.id for s in found.students] == ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]
    assert found.students[0].name == "Alice Archer"
    get = found.submission
    assert (get("a1", "alice").score, get("a1", "bob").score, get("a1", "carol").score) == (5.0, 3.0, 0.0)
    assert get("a2", "erin").score == 3.0, "the manual grade did not win over the autograder's"
    assert get("a1", "gina").status == COLLECTED and get("a1", "gina").score is None
    assert get("a1", "carol").status == NEEDS_REVIEW
    assert get("a1", "carol").flags == ["tampered cells restored", "timeout"]
    assert get("a1", "frank").flags == ["sandbox violation", "optimizer library imported"]
    assert get("a1", "dave").kinds == ["invalid notebook"] and get("a1", "dave").flags == []
    # Lateness from the receipt time against the due date plus the extension.
    assert get("a1", "carol").late_by == timedelta(days=2, hours=1)
    assert get("a1", "bob").late_by == timedelta(0), "the 24 h extension was not applied"
    assert get("a1", "alice").late_by == timedelta(0) and get("a2", "alice").late_by is None
    assert get("a1", "gina").late_by == timedelta(minutes=30), "collected but not graded: still late"
    # Item difficulty, per check, and the hints that fired (targeted ones told apart from general ones).
    items = {(i.assignment, i.grade_id): i for i in data.item_stats(found)}
    assert (items["a1", "t_step"].attempts, items["a1", "t_step"].full) == (5, 2)
    assert (items["a1", "t_run"].full, items["a2", "t_only"].full) == (2, 1)
    checks = {(c.assignment, c.name): (c.attempts, c.passed) for c in data.check_stats(found)}
    assert checks["a1", "a1.step"] == (5, 2)
    hints = {h.hint: h for h in data.hint_stats(found)}
    assert hints[SIGN_HINT].kind == "targeted" and hints[SIGN_HINT].students == ("bob",)
    assert hints[STEP_HINT].kind == "general" and hints[STEP_HINT].students == ("carol",)
    assert hints[RUN_HINT].students == ("carol", "frank") and hints[RUN_HINT].checks == ("a1.run",)
    assert hints["a2 hint"].kind == "general"  # recorded without a known mistake
    rows = {r.student.id: r for r in data.student_rows(found)}
    assert (rows["alice"].total, rows["alice"].possible) == (9.0, 9.0)
    assert rows["carol"].late == ["a1"] and rows["carol"].needs_review
    summary = {s.name: s for s in data.assignment_summaries(found)}
    assert (summary["a1"].submitted, summary["a1"].graded, summary["a1"].late) == (6, 5, 2)
    assert summary["a1"].needs_review == 3 and summary["a1"].flagged == 2


@pytest.fixture(scope="module")
def toy_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("toy") / "course"
    url = f"sqlite:///{course / 'gradebook.db'}"
    course.mkdir()
    write_class(url, course)
    return course, url


def test_a_written_gradebook_reads_back(toy_class):
    course, url = toy_class
    found = data.load(url, course)
    check_class(found)
    assert found.backend == "sqlite" and found.course_id == "toy"
    assert found.submission("a1", "alice").feedback == ["feedback/alice/a1/nb.html"]
    assert found.submission("a1", "carol").feedback == []


def test_reading_writes_nothing(toy_class):
    course, url = toy_class
    before = (course / "gradebook.db").read_bytes()
    build_dashboard(url, course)
    assert (course / "gradebook.db").read_bytes() == before


def test_a_gradebook_without_the_status_table_still_shows_grades(tmp_path):
    from nbgrader.api import Gradebook

    from autograder.tool_path import ensure_tool_path

    ensure_tool_path()
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:  # graded by stock nbgrader only
        gb.add_assignment("hw")
        gb.add_notebook("nb", "hw")
        gb.add_grade_cell("t", "nb", "hw", max_score=2, cell_type="code")
        gb.add_student("sam")
        gb.add_submission("hw", "sam")
        grade = gb.find_grade("t", "nb", "hw", "sam")
        grade.auto_score = 2.0
        gb.db.commit()
    found = data.load(url, tmp_path)
    assert found.submission("hw", "sam").score == 2.0 and found.submission("hw", "sam").status == data.NOT_RECORDED
    assert any("autograder_submission" in n for n in found.notes)
    assert build_dashboard(url, tmp_path).is_file()


@pytest.mark.slow
def test_postgres_gradebook_reads_the_same(tmp_path, toy_class):
    from postgres import postgres_server

    course, url = toy_class
    expected = data.load(url, course)
    with postgres_server() as pg_url:
        other = tmp_path / "pg-course"
        other.mkdir()
        write_class(pg_url, other)
        found = data.load(pg_url, other)
        check_class(found)
        assert found.backend == "postgresql"
        page = build_dashboard(pg_url, other)
    found.backend = expected.backend
    assert found == expected
    assert "postgresql" in page.read_text()


def test_reason_kinds():
    def kind(reason: Reason) -> tuple[str, bool]:
        return reason.kind.group, reason.kind.flag

    assert kind(Reason(ReasonKind.TAMPERED, "in adam.ipynb: rmsprop: schema version 99")) == ("tampered cells restored", True)
    assert kind(_sandbox_reason(Event(report.CELL_TIMEOUT, "a cell ran longer than 10 s and was interrupted"))) == ("timeout", True)
    assert kind(Reason(ReasonKind.TIMEOUT, "timeout: the submission ran longer than 60 s")) == ("timeout", True)
    assert kind(Reason(ReasonKind.SHADOWED_MODULES, "numpy.py")) == ("sandbox violation", True)
    assert kind(Reason(ReasonKind.SANDBOX_VIOLATION, "anything")) == ("sandbox violation", True)
    assert kind(Reason(ReasonKind.OPTIMIZER_IMPORT, "torch")) == ("optimizer library imported", True)
    assert kind(_sandbox_reason(Event(report.KERNEL_DIED, "the kernel died while running cell 11"))) == ("kernel died", False)
    assert kind(_sandbox_reason(Event(report.OUTPUT_LOST, "the output of cell 3 was lost"))) == ("output lost", False)
    assert kind(Reason(ReasonKind.MISSING_NOTEBOOK, "adam.ipynb")) == ("missing notebook", False)
    # Stored before reasons had kinds: read, shown, and counted as "other".
    assert reasons_from_json('["something new: details"]') == [Reason(ReasonKind.OTHER, "something new: details")]
    assert reasons_to_json([Reason(ReasonKind.TIMEOUT, "t")]) == '[{"kind": "timeout", "detail": "t"}]'
    assert reasons_from_json(reasons_to_json([Reason(ReasonKind.TIMEOUT, "t")])) == [Reason(ReasonKind.TIMEOUT, "t")]


# -- the page ----------------------------------------------------------------------------------------

class Page(HTMLParser):
    """Every URL a page refers to, its images and its meta tags."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.images: list[dict] = []
        self.meta: dict[str, str] = {}
        self.scripts_with_src = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src", "action", "srcset", "poster", "data"):
            if attrs.get(name):
                self.urls.append((tag, attrs[name]))
        if tag == "img":
            self.images.append(attrs)
        if tag == "meta" and (attrs.get("name") or attrs.get("http-equiv")):
            self.meta[(attrs.get("name") or attrs.get("http-equiv")).lower()] = attrs.get("content", "")
        if tag == "script" and attrs.get("src"):
            self.scripts_with_src += 1


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def test_the_page_is_self_contained_and_links_existing_feedback(toy_class):
    course, url = toy_class
    out = build_dashboard(url, course)
    assert out == course / "dashboard" / "index.html"
    assert out.stat().st_mode & 0o077 == 0, "the page names students: readable by the instructor only"
    page = parse(out)
    assert page.meta["generator"] == GENERATOR
    assert "default-src 'none'" in page.meta["content-security-policy"]
    assert page.scripts_with_src == 0
    assert len(page.images) == 1 + 2 + 2  # overall, per assignment, pass rate per assignment
    assert all(img["src"].startswith("data:image/png;base64,") and img.get("alt") for img in page.images)
    feedback = []
    for tag, link in page.urls:
        parsed = urlparse(link)
        if tag == "img" or link.startswith("#"):
            continue
        assert not parsed.scheme and not parsed.netloc, f"a link that leaves the course folder: {link}"
        target = (out.parent / unquote(parsed.path)).resolve()
        assert target.is_file(), f"broken link {link}"
        feedback.append(target.relative_to(course).as_posix())
    assert sorted(feedback) == ["feedback/alice/a1/nb.html", "feedback/alice/a2/nb.html", "feedback/bob/a1/nb.html"]
    text = out.read_text()
    for shown in ("carol", "tampered cells restored", "2 d 1 h", SIGN_HINT, "targeted", "Alice Archer",
                  "No due date in the gradebook for: a2", "invalid notebook: nb.ipynb is not valid JSON"):
        assert shown in text, shown
    assert "http://" not in text and "https://" not in text


def test_a_rebuild_from_the_same_gradebook_is_identical(toy_class, tmp_path):
    course, url = toy_class
    when = datetime(2026, 2, 1, 9, 30)
    first = build_dashboard(url, course, course / "dashboard" / "first.html", built_at=when).read_bytes()
    again = build_dashboard(url, course, course / "dashboard" / "again.html", built_at=when).read_bytes()
    assert first == again
    assert not list((course / "dashboard").glob(".dashboard-*")), "a temporary file was left behind"


def test_the_page_goes_nowhere_students_can_reach(toy_class, tmp_path):
    course, url = toy_class
    for bad in (course / "feedback" / "alice" / "dashboard.html", course / "release" / "a1" / "index.html",
                tmp_path / "elsewhere" / "index.html", course / "dashboard" / "index.txt"):
        with pytest.raises(DashboardError):
            build_dashboard(url, course, bad)
        assert not bad.exists()
    custom = build_dashboard(url, course, course / "reports" / "class.html")
    assert any(link.endswith("../feedback/alice/a1/nb.html") for _, link in parse(custom).urls)
    with pytest.raises(DashboardError, match="no gradebook"):
        build_dashboard(None, tmp_path / "empty")


def test_the_command_builds_the_page(toy_class):
    course, url = toy_class
    (course / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.db_url = {url!r}\n"
                                               "c.CourseDirectory.course_id = 'toy'\n")
    done = subprocess.run([sys.executable, "-m", "autograder.dashboard", "--course", str(course)],
                          cwd=ROOT, env=state_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (course / "dashboard" / "index.html").is_file()
    done = subprocess.run([sys.executable, "-m", "autograder.dashboard", "--course", str(course / "nowhere")],
                          cwd=ROOT, env=state_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no gradebook" in done.stderr


# -- the bundled demo class ---------------------------------------------------------------------------

@pytest.mark.slow
def test_the_demo_class_as_the_dashboard_reads_it(demo_course):
    from autograder.gradebook import status_rows

    assignment, specs = demo_chapter_specs()
    found = data.load(f"sqlite:///{demo_course / 'gradebook.db'}", demo_course)
    engine = engine_for(f"sqlite:///{demo_course / 'gradebook.db'}")
    rows = {r.student: r for r in status_rows(engine, assignment)}
    engine.dispose()
    assert {s.student for s in found.of_assignment(assignment)} == {s["student"] for s in specs} == set(rows)
    for spec in specs:
        submission = found.submission(assignment, spec["student"])
        row = rows[spec["student"]]
        assert submission.status == row.status and submission.reasons == reasons_from_json(row.reasons)
        assert submission.score == row.score, f"{spec['student']}: nbgrader's total differs from the judge's"
        assert submission.received_at == row.received_at
        assert submission.feedback, f"no feedback link for {spec['student']}"
        if spec.get("expect") == "full":
            assert submission.score == submission.max_score
        if spec.get("status") == "needs_review":
            assert submission.needs_review and any(spec["reason"] in str(r) for r in submission.reasons), spec["student"]
    hints = data.hint_stats(found)
    mistakes = [s for s in specs if "hint" in s]
    assert mistakes, "the chapter has no common mistake"
    for spec in mistakes:  # each common mistake's targeted hint is counted, with its student
        fired = [h for h in hints if spec["hint"] in h.hint and spec["student"] in h.students]
        assert fired, f"{spec['student']}: hint {spec['hint']!r} not counted"
        assert any(h.kind == "targeted" for h in fired), f"{spec['student']}: {[h.kind for h in fired]}"
    flagged = {s.student for s in found.submissions if s.flags}
    for spec in specs:
        if spec.get("reason") in ("tampered", "shadow", "ships optimizers", "longer than", "deleted", "duplicated"):
            assert spec["student"] in flagged, spec["student"]
    page = (demo_course / "dashboard" / "index.html").read_text()
    assert all(f'data-student="{s["student"]}"' in page for s in specs)
