"""nbgrader's formgrader for the demo class, on a real JupyterLab server, over real HTTP.

With the token, the assignment, gradebook and student pages answer, and the JSON API gives the demo
class's grades (the same numbers the dashboard reads from the gradebook). Without the token, or with
a wrong one, nothing is served. The server stops cleanly: no process left, no runtime file left,
the port closed. The one command (``python -m autograder.formgrader``, ``make formgrader``) prints
the URL with its token and stops on Ctrl-C.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pytest
import requests

from test_dashboard_data import ROOT, STATE, state_env

from autograder import formgrader
from autograder.dashboard import data

pytestmark = pytest.mark.slow


@pytest.fixture
def runtime():
    """A fresh Jupyter runtime folder inside the project, to see what the server leaves behind."""
    folder = STATE / "tests" / f"jupyter-runtime-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def api(server: formgrader.Formgrader, path: str, **headers):
    answer = requests.get(server.base + path, headers={"Authorization": f"token {server.token}", **headers}, timeout=30)
    assert answer.status_code == 200, f"{path}: {answer.status_code}"
    return json.loads(answer.text)  # nbgrader's API answers JSON (labelled text/html)


def page(server: formgrader.Formgrader, path: str) -> str:
    answer = requests.get(server.base + path, headers={"Authorization": f"token {server.token}"}, timeout=30)
    assert answer.status_code == 200, f"{path}: {answer.status_code}"
    assert "text/html" in answer.headers["Content-Type"]
    return answer.text


def refused(url: str, **headers) -> requests.Response:
    answer = requests.get(url, headers=headers, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 401, 403), f"{url}: {answer.status_code} without a valid token"
    if answer.status_code == 302:
        assert answer.headers["Location"].startswith("/login"), answer.headers["Location"]
    return answer


def port_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_formgrader_serves_the_demo_grades_only_with_the_token(demo_course, runtime):
    found = data.load(f"sqlite:///{demo_course / 'gradebook.db'}", demo_course)
    assignment = found.assignments[0]
    graded = [s for s in found.of_assignment(assignment.name) if s.score is not None]
    server = formgrader.start(demo_course, env=state_env(runtime))
    try:
        assert server.process.poll() is None
        assert server.token not in " ".join(psutil.Process(server.process.pid).cmdline()), "token on the command line"
        children = psutil.Process(server.process.pid).children(recursive=True)

        # Assignments: the JSON API and the pages.
        listed = {a["name"]: a for a in api(server, "/formgrader/api/assignments")}
        graded_names = {a.name for a in found.assignments}
        assert set(listed) >= graded_names  # and the source folder's other assignments, never submitted
        assert all(a["num_submissions"] == 0 for name, a in listed.items() if name not in graded_names)
        entry = listed[assignment.name]
        assert entry["num_submissions"] == len(found.of_assignment(assignment.name))
        assert entry["max_score"] == pytest.approx(assignment.max_score)
        mean = sum(s.score or 0 for s in found.of_assignment(assignment.name)) / len(found.of_assignment(assignment.name))
        assert entry["average_score"] == pytest.approx(mean)
        assert assignment.name in page(server, f"/formgrader/manage_submissions/{assignment.name}")
        assert "Manage Assignments" in page(server, "/formgrader/manage_assignments")

        # Gradebook: per submission and per notebook.
        submissions = {s["student"]: s for s in api(server, f"/formgrader/api/submissions/{assignment.name}")}
        for submission in graded:
            assert submissions[submission.student]["score"] == pytest.approx(submission.score), submission.student
        notebook = assignment.items[0].notebook
        assert assignment.name in page(server, f"/formgrader/gradebook/{assignment.name}")
        assert notebook in page(server, f"/formgrader/gradebook/{assignment.name}/{notebook}")
        assert {n["name"] for n in api(server, f"/formgrader/api/notebooks/{assignment.name}")} >= {notebook}

        # Students: totals and per-assignment scores.
        students = {s["id"]: s for s in api(server, "/formgrader/api/students")}
        assert set(students) >= {s.id for s in found.students if found.of_student(s.id)}
        for row in data.student_rows(found):
            if row.submissions:
                assert students[row.student.id]["score"] == pytest.approx(row.total), row.student.id
        best = max(graded, key=lambda s: s.score)
        mine = {s["name"]: s for s in api(server, f"/formgrader/api/student_submissions/{best.student}")}
        assert mine[assignment.name]["score"] == pytest.approx(best.score)
        assert best.student in page(server, f"/formgrader/manage_students/{best.student}")
        assert "Manage Students" in page(server, "/formgrader/manage_students")

        # Without the token, or with a wrong one: refused, and no grade in the answer.
        for path in ("/formgrader", "/formgrader/manage_assignments", "/formgrader/gradebook",
                     f"/formgrader/manage_students/{best.student}", "/formgrader/api/assignments",
                     "/formgrader/api/students", f"/formgrader/api/submissions/{assignment.name}"):
            for headers in ({}, {"Authorization": "token not-the-token"}):
                answer = refused(server.base + path, **headers)
                assert best.student not in answer.text and '"score"' not in answer.text
            refused(server.base + path + "?token=not-the-token")
        refused(server.base + "/files/gradebook.db")
        assert list(runtime.glob("jpserver-*.json")), "the server wrote no runtime file where it was told"
    finally:
        code = server.stop()
    assert code == 0, f"the server did not stop cleanly (status {code})"
    assert not psutil.pid_exists(server.process.pid) or psutil.Process(server.process.pid).status() == psutil.STATUS_ZOMBIE
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], "processes left behind"
    # The server's own runtime files are gone (the cookie secret is kept by design, as Jupyter does).
    assert list(runtime.glob("jpserver-*")) == [], f"runtime files left behind: {list(runtime.iterdir())}"
    assert port_closed(server.port)


def test_the_one_command_prints_the_url_and_stops_on_ctrl_c(demo_course, runtime):
    port = formgrader.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder.formgrader", "--course", str(demo_course), "--port", str(port)],
        cwd=ROOT, env=state_env(runtime), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + formgrader.START_TIMEOUT + 10
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.strip().startswith(f"http://127.0.0.1:{port}/formgrader?token="):
                url = line.strip()
        assert url, f"no URL printed:\n{process.stderr.read() if process.poll() is not None else ''}"
        token = url.split("token=", 1)[1]
        answer = requests.get(url, timeout=30)  # the printed URL logs the browser in
        assert answer.status_code == 200 and "Manage Assignments" in answer.text
        api_answer = requests.get(f"http://127.0.0.1:{port}/formgrader/api/assignments",
                                  headers={"Authorization": f"token {token}"}, timeout=30)
        assert api_answer.status_code == 200 and json.loads(api_answer.text)
        refused(f"http://127.0.0.1:{port}/formgrader/api/assignments")
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the server runs as a child of the command"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "formgrader stopped." in out
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], "processes left behind"
    assert list(runtime.glob("jpserver-*")) == []
    assert port_closed(port)


def test_a_folder_that_is_no_course_is_refused(tmp_path):
    with pytest.raises(formgrader.FormgraderError, match="not a course folder"):
        formgrader.start(tmp_path)
