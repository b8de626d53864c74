"""release/ is what students get: generated from source/, with no solution or hidden test in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chapters import CHAPTERS
from courseplots.animation import GRADING_VARIABLE
from nbtools import RELEASE, ROOT, SOURCE, assignments, code_cells, nbgrader_meta, read, run_in_process, source_notebooks
from tools.leaks import course_secret_lines, find_leaks, secret_lines


def all_secret_lines() -> set[str]:
    return course_secret_lines(SOURCE)


def test_every_assignment_is_released():
    assert assignments(), "no assignments in source/"
    for assignment in assignments():
        for notebook in (SOURCE / assignment).glob("*.ipynb"):
            assert (RELEASE / assignment / notebook.name).is_file(), f"release/ lacks {assignment}/{notebook.name}: run make release"


def test_source_notebooks_are_committed_without_outputs():
    for path in source_notebooks():
        for cell in read(path).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs: clear them"


def test_no_solution_or_hidden_test_line_reaches_release():
    secrets = all_secret_lines()
    assert len(secrets) > 20, "the secret regions were not found: is the parser broken?"
    assert find_leaks(RELEASE, secrets) == []


def test_public_lines_are_not_secret():
    text = "x = 1\n### BEGIN SOLUTION\nx = 1\ny = compute(x)\n    return y\n### END SOLUTION\n"
    assert secret_lines([text]) == {"y = compute(x)", "return y"}


def test_the_leak_search_finds_a_planted_line(tmp_path):
    scratch = tmp_path / "release"
    shutil.copytree(RELEASE, scratch)
    planted = sorted(all_secret_lines())[0]
    victim = next(scratch.rglob("*.ipynb"))
    victim.write_text(victim.read_text().replace('"source": [', f'"source": [{planted!r},', 1))
    assert any(planted in hit for hit in find_leaks(scratch, all_secret_lines()))


def test_release_is_up_to_date_with_source(tmp_path):
    """Regenerating release/ from source/ gives exactly the committed files."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    course = tmp_path / "course"
    shutil.copytree(SOURCE, course / "source")
    config = course / "nbgrader_config.py"
    config.write_text((ROOT / "nbgrader_config.py").read_text())
    for assignment in assignments():
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=ERROR"],
            cwd=course, env=env, check=True, capture_output=True,
        )
        for notebook in (RELEASE / assignment).glob("*.ipynb"):
            regenerated = read(course / "release" / assignment / notebook.name)
            assert regenerated == read(notebook), f"release/{assignment}/{notebook.name} is stale: run make release"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_released_notebook_runs_with_only_stubs_raising(chapter):
    """Only the visible test cells and the cells tagged ``uses-solution`` fail, each on a stub; the
    hidden test cells are released without their tests."""
    released = RELEASE / chapter.assignment / chapter.notebook
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(GRADING_VARIABLE, "1")  # no animation frames: they take seconds and test nothing here
        run = run_in_process(released)
    cells = code_cells(released)
    assert set(run.failed()) == chapter.uses_solution() | chapter.visible
    for key, outcome in run.failed().items():
        assert isinstance(outcome.error, NotImplementedError) or isinstance(
            outcome.error.__context__, NotImplementedError
        ), f"{released.name} cell {key} failed with something other than a stub: {outcome.error!r}"
    for grade_id in chapter.hidden:
        assert "check(" not in cells[grade_id].source
    assert any(nbgrader_meta(c).get("solution") for c in cells.values()), "no exercise cells in the release"
