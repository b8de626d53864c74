"""The Gradescope entry point: run_autograder grades /autograder/submission into results.json (paths from env)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading_fixture import ASSIGNMENT, ensure_state_env, write_fixture

from autograder.demo.build import build_submission
from autograder.gradescope import COURSE_SOURCE_ENV, GOLDEN_ENV, PYTHON_ENV, ROOT_ENV, SOURCE_ENV

pytestmark = pytest.mark.slow
ensure_state_env()
ROOT = Path(__file__).resolve().parents[1]


def test_run_autograder_writes_gradescope_results(tmp_path):
    fixture = write_fixture(tmp_path / "instructor")
    gradescope = tmp_path / "autograder"
    submission = gradescope / "submission"
    submission.mkdir(parents=True)
    # What a student uploads: their notebook (here: the release with one mistake), built from a scratch release.
    release = tmp_path / "release"
    subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from autograder.course import Course; from autograder import pipeline;"
        f"c = Course(root=Path({str(release)!r}), source=Path({str(fixture['source'])!r}), golden=Path({str(fixture['golden'])!r}));"
        f"pipeline.prepare(c, [{ASSIGNMENT!r}])")], check=True, cwd=ROOT, capture_output=True)
    spec = {"edits": [{"cell": "run_descent", "replace": ["range(steps)", "range(steps + 1)"]}]}
    for name, data in build_submission(release / "release" / ASSIGNMENT, fixture["source"] / ASSIGNMENT, spec).items():
        (submission / name).write_bytes(data)
    (submission / os.fsdecode(b"notes-\xff.txt")).write_text("a file whose name is not UTF-8")  # left out, and said so
    (gradescope / "submission_metadata.json").write_text(json.dumps({"created_at": "2030-02-03T04:05:06.000+00:00"}))
    env = dict(os.environ, **{ROOT_ENV: str(gradescope), SOURCE_ENV: str(ROOT), PYTHON_ENV: sys.executable,
                              COURSE_SOURCE_ENV: str(fixture["source"]), GOLDEN_ENV: str(fixture["golden"])})
    done = subprocess.run([str(ROOT / "autograder" / "gradescope" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((gradescope / "results" / "results.json").read_text())
    assert results["score"] == 3.0
    tests = {t["name"]: t for t in results["tests"]}
    assert tests[f"{ASSIGNMENT}: test_run_descent"]["score"] == 0 and tests[f"{ASSIGNMENT}: test_run_descent"]["max_score"] == 3
    assert "steps + 1 points" in tests[f"{ASSIGNMENT}: test_run_descent"]["output"]
    assert tests[f"{ASSIGNMENT}: test_descent_step"]["score"] == 2
    assert "2030-02-03 04:05:06" in results["output"]
    assert "Not graded: notes-" in results["output"] and "not valid UTF-8; file skipped" in results["output"]
    hidden = "descent_step([3.0, 4.0, 5.0]"
    assert hidden not in json.dumps(results)
