"""release/ is what students get: generated from source/, with no solution or hidden test in it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nbtools import RELEASE, ROOT, SOURCE, assignments, nbgrader_meta, read, run_in_process, source_notebooks

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
# Lines too generic to identify a solution (blank, lone brackets, "return", "pass", ...).
TRIVIAL = re.compile(r"^[\s\W]*$|^\s*(return|pass|else:|continue|break|try:|finally:)\s*$")


def split_regions(text: str) -> tuple[list[str], str]:
    """The stripped lines inside solution/hidden-test regions of ``text``, and the text outside them."""
    inside = [line.strip() for m in REGION.finditer(text) for line in m.group(2).splitlines()]
    return inside, REGION.sub("", text)


def secret_lines(texts: list[str]) -> set[str]:
    """Lines that only the instructor's regions contain.

    A line inside a solution or hidden-test region is secret unless it is trivial (``return``,
    a lone bracket) or also appears in the public part of some source notebook (narrative,
    provided code, visible tests), where students see it anyway.
    """
    regions, public = [], []
    for text in texts:
        inside, outside = split_regions(text)
        regions += inside
        public.append(outside)
    public_text = "\n".join(public)
    return {line for line in regions if not TRIVIAL.match(line) and line not in public_text}


def all_secret_lines() -> set[str]:
    return secret_lines([cell.source + "\n" for path in source_notebooks() for cell in read(path).cells])


def find_leaks(folder, secrets: set[str]) -> list[str]:
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_text(errors="replace")
            hits += [f"{path.relative_to(folder)}: {line}" for line in secrets if line in text]
            hits += [f"{path.relative_to(folder)}: marker" for m in ("BEGIN SOLUTION", "HIDDEN TESTS") if m in text]
    return hits


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


@pytest.mark.parametrize("assignment", assignments())
def test_released_notebook_runs_with_only_stubs_raising(assignment):
    for notebook in (RELEASE / assignment).glob("*.ipynb"):
        run = run_in_process(notebook)
        cells = {nbgrader_meta(c).get("grade_id"): c for c in read(notebook).cells}
        for key, outcome in run.failed().items():
            assert isinstance(outcome.error, NotImplementedError) or isinstance(
                outcome.error.__context__, NotImplementedError
            ), f"{notebook.name} cell {key} failed with something other than a stub: {outcome.error!r}"
            assert key in cells or key.startswith("cell-")
        stubbed = [c for c in cells.values() if nbgrader_meta(c).get("solution")]
        assert stubbed, "no exercise cells in the release"
