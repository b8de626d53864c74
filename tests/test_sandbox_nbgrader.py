"""``nbgrader autograde`` (the real command line) with the sandbox's configuration: records come out,
forged or smuggled records do not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.nbgrader_settings import config_file_text
from autograder.records import RECORDS_ENV, RECORDS_NAME
from autograder.sandbox import SandboxLimits, collected_records, nbgrader_execute_config, report, violations
from sandbox_helpers import require_sandbox, use_project_state

pytestmark = pytest.mark.slow

FORGED = '{"check": "ps1.answer", "value": 1000}\n'


def cell(kind: str, grade_id: str, source: str, **meta):
    made = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    made.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "locked": False, "solution": False, "grade": False, "task": False, **meta}
    return made


def master() -> nbformat.NotebookNode:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return new_notebook(metadata={"kernelspec": kernelspec}, cells=[
        cell("markdown", "intro", "Return the answer.", locked=True),
        cell("code", "answer", "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", solution=True),
        cell("code", "test_answer",
             "from autograder.checks import check\ncheck('ps1.answer', answer())\n### BEGIN HIDDEN TESTS\ncheck('ps1.answer_twice', 2 * answer())\n### END HIDDEN TESTS",
             grade=True, locked=True, points=1),
    ])


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader runs alembic
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def submit(course: Path, student: str, solution: str, plant: bool = False) -> None:
    released = nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4)
    for made in released.cells:
        if made.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            made.source = solution
    folder = course / "submitted" / student / "ps1"
    folder.mkdir(parents=True)
    nbformat.write(released, folder / "ps1.ipynb")
    if plant:  # records that would score full marks if the grader believed them
        (folder / report.REPORT_DIR).mkdir()
        (folder / report.REPORT_DIR / report.RECORDS_FILE).write_text(FORGED)
        (folder / RECORDS_NAME).write_text(FORGED)


def test_autograde_in_the_sandbox_keeps_only_genuine_records(tmp_path: Path):
    use_project_state()
    require_sandbox()
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    nbformat.write(master(), course / "source" / "ps1" / "ps1.ipynb")
    config = nbgrader_execute_config(SandboxLimits(cell_seconds=20))
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'sandbox-test'\n" + config_file_text(config))
    nbgrader(course, "generate_assignment", "ps1", "--force")

    submit(course, "alice", "def answer():\n    return 42", plant=True)
    # mallory swaps her records file for a link to someone else's data
    submit(course, "mallory", f"import os\nos.symlink('/etc/passwd', os.environ[{RECORDS_ENV!r}])\ndef answer():\n    return 42")
    nbgrader(course, "autograde", "ps1", "--force")

    alice = course / "autograded" / "alice" / "ps1"
    assert (alice / "ps1.ipynb").is_file()
    records = collected_records(alice)
    assert records is not None
    assert [json.loads(line) for line in records.read_text().splitlines()] == [
        {"check": "ps1.answer", "value": 42}, {"check": "ps1.answer_twice", "value": 84},
    ], "exactly what the kernel reported: the planted records were never copied"
    assert not (alice / RECORDS_NAME).exists()
    assert violations(alice) == []

    mallory = course / "autograded" / "mallory" / "ps1"
    assert collected_records(mallory) is None
    assert any("records file rejected" in reason for reason in violations(mallory))
