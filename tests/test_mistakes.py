"""Every chapter's common mistakes (``autograder/mistakes``): each loses exactly its cells, with its hint.

The catalogue is the one definition the golden recorder, the demo class and these tests share, so
a mistake tested here is the mistake the golden file names and the demo class submits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from autograder.mistakes import Catalogue, Edit, Mistake, OutOfDate, catalogue, catalogues, mistake
from courseplots.animation import GRADING_VARIABLE
from chapters import BY_NAME
from nbtools import SOURCE, run_in_process

CASES = [(c, m) for c in catalogues() for m in c.mistakes]


@pytest.mark.parametrize(("chapter", "wrong"), CASES, ids=[f"{c.assignment}-{m.name}" for c, m in CASES])
def test_a_common_mistake_fails_exactly_its_cells_with_its_hint(chapter: Catalogue, wrong: Mistake, monkeypatch):
    monkeypatch.setenv(GRADING_VARIABLE, "1")  # as in the sandbox: no animation frames, which no check reads
    with np.errstate(all="ignore"):
        run = run_in_process(chapter.path, replace={**BY_NAME[chapter.assignment].quick(), **wrong.sources(chapter.cells())})
    tests = run.tests(chapter.path)
    assert wrong.loses <= set(tests), "loses names a cell the notebook does not have"
    assert {k for k, v in tests.items() if not v.passed} == wrong.loses
    assert set(run.failed()) == wrong.loses, "only graded cells may fail"
    others = {m.hint for m in chapter.mistakes} - {wrong.hint} - {chapter[name].hint for name in wrong.also}
    for cell in wrong.loses:
        error = run.outcomes[cell].error
        assert isinstance(error, AssertionError), repr(error)
        assert "Hint: " + wrong.hint in str(error), str(error)
        told = [hint[:60] for hint in others if "Hint: " + hint in str(error)]
        assert told == [], f"{cell} tells this student about another mistake"


def test_every_chapter_with_exercises_has_a_catalogue():
    assert [c.assignment for c in catalogues()] == sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb"))
    for chapter in catalogues():
        assert chapter is catalogue(chapter.assignment)
        assert len(chapter.mistakes) >= 3, chapter.assignment
        assert any(m.demo for m in chapter.mistakes), f"{chapter.assignment}: no mistake in the demo class"
        assert all(len(m.hint) > 30 for m in chapter.mistakes)


def test_the_solution_namespace_is_the_reference_and_a_mistake_changes_only_its_copy():
    chapter = catalogue("ch1_gradient_descent")
    from slopegrad.nn import Parameter

    def step_of(namespace):
        p = Parameter(np.array([1.0, -2.0]))
        before = p.data
        p.grad = np.array([0.5, 0.5])
        namespace["gradient_descent_step"](p, 0.1)
        return p.data, p.data is before

    values, same = step_of(chapter.solution())
    assert same and np.array_equal(values, [0.95, -2.05])
    values, same = step_of(chapter.solution("rebinds_data"))
    assert not same and np.array_equal(values, [0.95, -2.05])
    assert step_of(chapter.solution())[1], "the reference is not changed by a mistake's copy"


def test_an_edit_that_no_longer_matches_says_so():
    stale = mistake("stale", "edits text the solution no longer has", "gradient_descent_step",
                    ("this text is not in the solution", "x"), loses={"test_step_visible"}, hint="h" * 40)
    with pytest.raises(OutOfDate, match="occurs 0 times"):
        stale.sources(catalogue("ch1_gradient_descent").cells())
    elsewhere = Mistake("elsewhere", "edits a cell that is not there", (Edit("no_such_cell", "a", "b"),),
                        frozenset({"test_step_visible"}), "h" * 40)
    with pytest.raises(OutOfDate, match="no_such_cell"):
        elsewhere.sources(catalogue("ch1_gradient_descent").cells())
    with pytest.raises(ValueError, match="needs edits"):
        mistake("empty", "nothing", "gradient_descent_step", loses=set(), hint="h")
    with pytest.raises(ValueError, match="unknown mistakes"):
        Catalogue("ch1_gradient_descent", "gradient_descent.ipynb", (dataclasses.replace(stale, also=("nobody",)),))
