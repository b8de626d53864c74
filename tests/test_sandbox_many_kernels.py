"""Correct work is never flagged: many sandboxed kernels of correct submissions end without a single event.

ipykernel 7 races its control thread against its own exit when asked to shut down (a SIGABRT inside
libzmq, or a hang), about once in thirty kernels; the sandbox ends kernels by killing them after the
last cell instead (autograder/sandbox/kernel.py). Hundreds of short kernels make a return of that race
show here, while each test stays short.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import pipeline
from autograder.demo import DEMO_CELL_TIMEOUT, REPO, build_demo
from autograder.execute import ExecuteSettings
from autograder.gradebook import GRADED
from autograder.sandbox import events
from grading_fixture import ensure_state_env, toy_course
from sandbox_helpers import errors, require_sandbox, run_cells, text, use_project_state

pytestmark = pytest.mark.slow

KERNELS = 200
CHAPTER = "ch2_momentum"
SUBMISSIONS = 16  # per assignment, graded through the whole pipeline


@pytest.fixture(scope="module", autouse=True)
def sandbox_ready():
    use_project_state()
    ensure_state_env()
    require_sandbox()


# A short notebook (the race is in the kernel's shutdown, whatever ran before; the chapter test below
# brings numpy, matplotlib and animations): output, a check, a last cell whose output must arrive.
CELLS = (
    "from autograder.checks import check\nprint('ready')",
    "check('toy.sum', float(sum(range(10))), expected=45.0)",
)


def _one_kernel(folder: Path) -> tuple[list, list[str], str]:
    folder.mkdir()
    nb, _ = run_cells(folder, *CELLS)
    return [e for e in events(folder)], [name for cell in nb.cells for name in errors(cell)], text(nb.cells[-1])


def test_hundreds_of_correct_kernels_end_without_an_event(tmp_path: Path):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_one_kernel, [tmp_path / f"k{i}" for i in range(KERNELS)]))
    flagged = [(i, found) for i, (found, _, _) in enumerate(results) if found]
    assert flagged == [], f"{len(flagged)} of {KERNELS} correct kernels ended with events: {flagged[:5]}"
    assert all(errs == [] and out.strip() == "passed: toy.sum" for _, errs, out in results)


def test_correct_chapter_and_toy_submissions_are_all_graded_unflagged(tmp_path: Path):
    correct = [{"student": f"correct{i:02d}"} for i in range(SUBMISSIONS)]
    toy = toy_course(tmp_path / "toy", specs=correct)
    source = tmp_path / "source"
    shutil.copytree(REPO / "source" / CHAPTER, source / CHAPTER)
    chapter = build_demo(tmp_path / "chapter", source=source, golden=REPO / "autograder" / "golden",
                         assignments=[CHAPTER], specs={CHAPTER: correct}).course
    options = pipeline.Options(settings=ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT), jobs=2, progress=False)
    rows = [*pipeline.grade(toy, ["toy_descent"], options).graded, *pipeline.grade(chapter, [CHAPTER], options).graded]
    assert len(rows) == 2 * SUBMISSIONS
    wrong = [(r.assignment, r.student, r.status, r.score, r.max_score, r.reasons) for r in rows
             if r.status != GRADED or r.reasons or r.score != r.max_score]
    assert wrong == []
