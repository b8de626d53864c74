"""A student's term on the course hub, in a real browser.

A real JupyterHub (deploy/jupyterhub) with configurable-http-proxy, the demo's system accounts, real
kernels and a real nbgrader exchange under a temporary folder. Two students log in with headless
Chromium, pull the student repository with an nbgitpuller link, implement the first exercise of
chapter 1 (one right, one wrong), run the visible tests, validate and submit in nbgrader's
assignment list. The instructor's side collects from the exchange, grades in the sandbox and
releases feedback; each student fetches theirs in the assignment list and reads the score and, for
the wrong answer, the targeted hint, and never a hidden test. Then, as each student's own account,
nothing of the other student's submission or feedback can be found or read in the exchange.

Screenshots of every step are kept in ``_build/test-artifacts/hub/``. Waits are on page elements,
bounded generously (a cold JupyterLab on a busy machine), never sleeps.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from browser import chromium
from nbtools import is_test_cell

from tools.hub.course import prepare_homes, pull_link, release, serve_repository
from tools.hub.run import ensure_proxy, prepare, start
from tools.hub.settings import ROOT, SINGLEUSER_ENV, HubSettings

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "_build" / "test-artifacts" / "hub"
COURSE_ID = "optimizers"
ASSIGNMENT, NOTEBOOK = "ch1_gradient_descent", "gradient_descent"
STUDENTS = ("course-demo-student1", "course-demo-student2")
WAIT = 240_000  # ms: spawning JupyterLab or running a notebook on a loaded 2-core machine

RIGHT = '''def gradient_descent_step(parameter, learning_rate):
    """One gradient-descent step, in place."""
    if parameter.grad is None:
        return
    parameter.data -= learning_rate * parameter.grad
'''
# The classic mistake: a new array is bound to .data, so whoever holds the old one never sees the step.
WRONG = '''def gradient_descent_step(parameter, learning_rate):
    """One gradient-descent step."""
    if parameter.grad is None:
        return
    parameter.data = parameter.data - learning_rate * parameter.grad
'''
REBIND_HINT = "builds a NEW array and rebinds the attribute"  # the judge's hint, in the feedback


@dataclass
class Hub:
    settings: HubSettings
    repository: Path
    password: str
    top: Path

    def link(self) -> str:
        return pull_link(self.settings, self.repository, f"release/{ASSIGNMENT}/{NOTEBOOK}.ipynb")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _student_repository(top: Path) -> Path:
    """The student repository, published fresh (what students' nbgitpuller links pull a clone of)."""
    from tools.publish import publish

    return publish(top / "published", ROOT).dest


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        pytest.fail("the hub test starts servers as the demo accounts: it must run as root (as CI does)")
    if not (SINGLEUSER_ENV / ".installed").is_file():
        pytest.fail(f"{SINGLEUSER_ENV} is missing: run `make hub-env`")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    top = Path(tempfile.mkdtemp(prefix="course-hub-test-", dir="/tmp"))
    top.chmod(0o755)  # the students' accounts reach their homes, the exchange and the repository through it
    port, hub_port, api_port, service_port = _free_ports(4)
    password = secrets.token_urlsafe(12)
    settings = HubSettings(
        course_id=COURSE_ID, instructors=("course-demo-instructor",), students=STUDENTS, grader="course-demo-grader",
        state_dir=top / "hub", homes_dir=top / "homes", exchange_root=top / "exchange", course_dir=top / "course",
        assignment_dir="student-repo/release", proxy_command=ensure_proxy(ROOT / ".state" / "course-hub" / "npm"),
        port=port, hub_port=hub_port, proxy_api_port=api_port, service_port=service_port, demo_password=password,
    )
    try:
        prepare(settings)
        release(settings, [ASSIGNMENT])
        repository = serve_repository(_student_repository(top), top / "repos" / "student-repo")
        prepare_homes(settings, repository)
        running = start(settings)
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise
    try:
        yield Hub(settings, repository, password, top)
    finally:
        try:
            running.stop()
            (ARTIFACTS / "jupyterhub.log").write_text(running.log_tail(200_000))
        finally:
            shutil.rmtree(top, ignore_errors=True)


# -- what a student does in the browser ---------------------------------------------------------------

def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _open_course(browser, hub: Hub, student: str):
    """Log in through the nbgitpuller link: the hub spawns the server, nbgitpuller clones, Lab opens chapter 1."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.goto(hub.link())
    page.fill("input#username_input", student)
    page.fill("input#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=WAIT)
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=WAIT)
    return context, page


def _exercise_cell(page):
    return page.locator(".jp-CodeCell", has_text="def gradient_descent_step(parameter, learning_rate):").first


def _visible_test_cell(page):
    return page.locator(".jp-CodeCell", has_text='"ch1_gradient_descent.step_in_place"').first


def _write_answer(page, code: str) -> None:
    editor = _exercise_cell(page).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)  # one insertion: no auto-indentation of typed lines


def _run_all(page) -> None:
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click(".lm-Menu-item:has-text('Run All Cells')")


def _save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-mod-current.jp-mod-dirty", state="detached", timeout=WAIT)


def _validate(page, name: str) -> str:
    page.click(".jp-Toolbar-item:has-text('Validate') button, button:has-text('Validate')")
    dialog = page.wait_for_selector(".jp-Dialog", timeout=WAIT)
    page.wait_for_selector(".jp-Dialog-body:not(:has-text('Validating'))", timeout=WAIT)
    text = dialog.inner_text()
    _shot(page, name)
    page.click(".jp-Dialog-button.jp-mod-accept, .jp-Dialog-footer button")
    page.wait_for_selector(".jp-Dialog", state="detached")
    return text


def _assignment_list(page):
    page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
    menu = page.locator(".lm-Menu").last
    menu.locator(".lm-Menu-item", has_text="Assignment List").wait_for()
    # a student's Lab has the assignment list and validation, never the formgrader or the assignment creator
    assert not [t for t in menu.inner_text().splitlines() if "Formgrader" in t or "Create Assignment" in t], menu.inner_text()
    menu.locator(".lm-Menu-item", has_text="Assignment List").click()
    page.wait_for_selector(f"#fetched_assignments_list:has-text('{ASSIGNMENT}')", timeout=WAIT)


def _submit(page, name: str) -> None:
    _assignment_list(page)
    row = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
    row.locator("button:has-text('Submit')").click()
    page.wait_for_selector(f"#submitted_assignments_list:has-text('{ASSIGNMENT}')", timeout=WAIT)
    _shot(page, name)


def _fetch_feedback(page, name: str):
    page.click("#refresh_assignments_list")
    fetch = page.locator("#submitted_assignments_list button:has-text('Fetch Feedback')").first
    fetch.wait_for(timeout=WAIT)
    fetch.click()
    view = page.locator("#submitted_assignments_list a:has-text('view feedback')").first
    view.wait_for(timeout=WAIT)
    _shot(page, f"{name}-assignment-list")
    view.click()  # the file browser goes to the fetched feedback's folder; the student opens the page
    page.locator(".jp-DirListing-item", has_text=f"{NOTEBOOK}.html").first.dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe").first
    frame.locator("text=Score:").wait_for(timeout=WAIT)
    _shot(page, name)
    return frame.locator("html").inner_html(), frame.locator("body").inner_text()


def _student_works(browser, hub: Hub, student: str, answer: str, step: str):
    context, page = _open_course(browser, hub, student)
    _shot(page, f"{step}-1-pulled")
    _write_answer(page, answer)
    _run_all(page)
    return context, page


# -- the instructor's side ------------------------------------------------------------------------------

def _course_grade(hub: Hub, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "--course", str(hub.settings.course_dir), *args],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert done.returncode == 0, f"course-grade {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _hidden_test_lines() -> list[str]:
    source = nbformat.read(ROOT / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    lines = []
    for cell in source.cells:
        if is_test_cell(cell):
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif inside and len(line.strip()) > 15:
                    lines.append(line.strip())
    assert lines, "the chapter has hidden tests"
    return lines


def _score(text: str) -> tuple[float, float]:
    match = re.search(r"Score: ([\d.]+) / ([\d.]+)", text)
    assert match, text[:2000]
    return float(match.group(1)), float(match.group(2))


def test_a_term_pull_work_submit_grade_and_fetch_feedback_in_the_browser(hub):
    with chromium() as browser:
        first, page1 = _student_works(browser, hub, STUDENTS[0], RIGHT, "student1")
        _visible_test_cell(page1).locator(".jp-OutputArea-output", has_text="passed: ch1_gradient_descent.step_in_place").wait_for(timeout=WAIT)
        _shot(page1, "student1-2-visible-tests-pass")
        user_url = f"{hub.settings.url}/user/{STUDENTS[0]}"
        assert page1.request.get(f"{user_url}/formgrader/api/assignments").status == 404, "formgrader is on for a student"
        assert page1.request.get(f"{user_url}/assignments?course_id={COURSE_ID}").ok
        _save(page1)
        report = _validate(page1, "student1-3-validate")
        # the first exercise passes its visible tests; the first failure is exercise 2, not done yet
        assert "descent_valley_visible" in report and "step_in_place" not in report, report
        _submit(page1, "student1-4-submitted")

        second, page2 = _student_works(browser, hub, STUDENTS[1], WRONG, "student2")
        # no golden values on the hub: the visible test compares with its inline expectation, and says so
        failed = _visible_test_cell(page2).locator(".jp-OutputArea-output", has_text="step_in_place' failed")
        failed.wait_for(timeout=WAIT)
        _shot(page2, "student2-2-visible-test-fails-with-hint")
        _save(page2)
        _submit(page2, "student2-3-submitted")

        collected = _course_grade(hub, "collect", "exchange", ASSIGNMENT)
        assert all(student in collected for student in STUDENTS), collected
        graded = _course_grade(hub, "grade", ASSIGNMENT, "--no-progress")
        assert "2 graded" in graded, graded
        released = _course_grade(hub, "release-feedback", ASSIGNMENT)
        assert "2 feedback page(s) released" in released, released

        hidden = _hidden_test_lines()
        html1, text1 = _fetch_feedback(page1, "student1-5-feedback")
        html2, text2 = _fetch_feedback(page2, "student2-4-feedback")
        earned1, possible = _score(text1)
        earned2, possible2 = _score(text2)
        assert possible == possible2 and earned1 == 10, text1[:3000]  # exercise 1: 3 visible + 7 hidden points
        assert earned2 < earned1 and REBIND_HINT in text2, text2[:3000]
        assert REBIND_HINT not in text1
        for html in (html1, html2):
            assert not [line for line in hidden if line in html], "feedback shows hidden-test source"
        assert STUDENTS[1] not in html1 and STUDENTS[0] not in html2
        first.close()
        second.close()


# -- students cannot reach each other's work through the exchange (nbgrader #978, #1202) -----------------

PROBE = r'''
import glob, hashlib, json, os, sys
exchange, other_home, targets = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
course = os.path.join(exchange, "optimizers")
out = {}
def attempt(name, action):
    try:
        out[name] = ["allowed", repr(action())[:200]]
    except OSError as error:
        out[name] = ["refused", type(error).__name__]
attempt("list inbound", lambda: os.listdir(os.path.join(course, "inbound")))
attempt("list feedback", lambda: os.listdir(os.path.join(course, "feedback")))
attempt("glob inbound", lambda: glob.glob(os.path.join(course, "inbound", "*")) or (_ for _ in ()).throw(PermissionError("nothing listed")))
attempt("list other home", lambda: os.listdir(other_home))
attempt("read other cache", lambda: open(targets["cache_secret"]).read())
attempt("rename course folder", lambda: os.rename(course, os.path.join(exchange, "stolen")))
attempt("write outbound", lambda: open(os.path.join(course, "outbound", "planted.txt"), "w").close())
attempt("replace feedback page", lambda: open(targets["feedback_page"], "w").close())
# #1202: with a copy of the other student's notebook and submission time, the names nbgrader used to
# derive feedback from lead nowhere
legacy = [hashlib.md5(targets["notebook"].encode() + key.encode()).hexdigest() for key in targets["keys"]]
out["legacy names exist"] = [n for n in legacy if os.path.exists(os.path.join(course, "feedback", n + ".html"))]
print(json.dumps(out))
'''


def _as_account(user: str, *argv: str) -> dict:
    account = pwd.getpwnam(user)
    python = SINGLEUSER_ENV / "bin" / "python"
    done = subprocess.run(["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
                           str(python), "-c", PROBE, *argv], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_students_cannot_reach_each_others_submissions_or_feedback(hub):
    """Run after the term test: both students have submitted and have feedback in the exchange."""
    course = hub.settings.exchange_root / COURSE_ID
    submissions = sorted((course / "inbound").iterdir())
    pages = sorted((course / "feedback").glob("*.html"))
    if len(submissions) < 2 or len(pages) < 2:
        pytest.fail("needs the submissions and feedback of the term test (run the whole module)")
    for victim, intruder in (STUDENTS, STUDENTS[::-1]):
        home = hub.settings.homes_dir / victim
        cached = next((home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID).glob(f"{victim}+{ASSIGNMENT}+*"))
        timestamp = (cached / "timestamp.txt").read_text()
        notebook = (cached / f"{NOTEBOOK}.ipynb").read_text()
        secret = (cached / "submission_secret.txt").read_text()
        from nbgrader.utils import make_unique_key, notebook_hash

        page = course / "feedback" / f"{notebook_hash(secret=secret, notebook_id=NOTEBOOK)}.html"
        assert page.is_file(), "the victim's feedback is in the exchange"
        targets = {"cache_secret": str(cached / "submission_secret.txt"), "feedback_page": str(page),
                   "notebook": notebook, "keys": ["", make_unique_key(COURSE_ID, ASSIGNMENT, NOTEBOOK, victim, timestamp)]}
        seen = _as_account(intruder, str(hub.settings.exchange_root), str(home), json.dumps(targets))
        (ARTIFACTS / f"isolation-{intruder}.json").write_text(json.dumps(seen, indent=1))
        for attempt in ("list inbound", "list feedback", "glob inbound", "list other home", "read other cache",
                        "rename course folder", "write outbound", "replace feedback page"):
            assert seen[attempt][0] == "refused", (attempt, seen[attempt])
        assert seen["legacy names exist"] == []
        # and the owner can read their own (the browser fetched it through the assignment list)
        own = _as_account(victim, str(hub.settings.exchange_root), str(hub.settings.homes_dir / intruder), json.dumps(targets))
        assert own["read other cache"][0] == "allowed"
