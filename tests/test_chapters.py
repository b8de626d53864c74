"""What every chapter must satisfy, checked once over the table of chapters (``tests/chapters.py``).

Each chapter's own test module keeps what is particular to it (its numbers, its parity with
torch); the checks here were copies in each of them.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest

import nbtools
from autograder.compare import first_mismatch, variant_tolerance, verdict_for
from autograder.golden import GOLDEN_DIR_ENV, expectation, load_assignment
from autograder.records import RECORDS_ENV, decode
from chapters import CHAPTERS, GOLDEN_DIR, Chapter, reference_run
from courseplots.animation import GRADING_VARIABLE
from nbtools import SOURCE, nbgrader_meta, read, run_in_process

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
SOLUTION_META = {"grade": False, "solution": True, "locked": False, "task": False, "schema_version": 3}
TEST_META = {"grade": True, "solution": False, "locked": True, "schema_version": 3}
LOCKED_META = {"grade": False, "solution": False, "locked": True, "schema_version": 3}
ABSOLUTE_PATH = re.compile(r"""["'](/[a-z]+)+/""")  # a folder of the author's machine in a string


def passed_checks(chapter: Chapter) -> list[str]:
    """The name of every check the reference run passed, in order (with repeats)."""
    return [name for outcome in reference_run(chapter).tests(chapter.path).values()
            for name in re.findall(r"^passed: (.+)$", outcome.output, re.M)]


chapters = pytest.mark.parametrize("chapter", CHAPTERS, ids=str)


# ---------------------------------------------------------------------------- the reference notebook
@chapters
def test_reference_notebook_passes_every_cell_and_every_check(chapter):
    run = reference_run(chapter)
    assert {k: repr(v.error) for k, v in run.failed().items()} == {}
    tests = run.tests(chapter.path)
    assert set(tests) == chapter.tests
    for grade_id, outcome in tests.items():
        assert f"passed: {chapter.assignment}." in outcome.output, f"{grade_id} checked nothing"
    passed = passed_checks(chapter)
    assert len(passed) == len(set(passed)), "a check name is used twice"
    assert set(passed) >= chapter.check_names(), "a check the notebook spells out did not run"


@chapters
def test_notebook_structure_and_points(chapter):
    notebook = read(chapter.path)
    assert notebook.metadata["kernelspec"] == KERNELSPEC
    points, solutions = {}, set()
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            assert meta == {}, "only code cells are graded or locked"
            continue
        assert cell.outputs == [] and cell.execution_count is None
        assert not any(line.lstrip().startswith(("%", "!")) for line in cell.source.splitlines()), "no magics or shell"
        assert not ABSOLUTE_PATH.search(cell.source), "no folder of the author's machine"
        grade_id = meta.get("grade_id")
        if meta.get("solution"):
            solutions.add(grade_id)
            assert meta == {**SOLUTION_META, "grade_id": grade_id}
            markers = re.findall(r"^( *)### (BEGIN|END) SOLUTION$", cell.source, re.M)
            assert markers and [kind for _, kind in markers] == ["BEGIN", "END"] * (len(markers) // 2)
            assert all(len(indent) >= 4 for indent, _ in markers), "markers only inside function or method bodies"
            if grade_id in chapter.exercises:
                for head in cell.source.split("### BEGIN SOLUTION")[:-1]:
                    function = head[head.rindex("def "):]
                    assert '"""' in function, f"{grade_id}: each stub has a docstring"
                    assert "example" in function.lower(), f"{grade_id}: each stub's docstring shows an example"
        elif meta.get("grade"):
            assert meta == {**TEST_META, "grade_id": grade_id, "points": meta["points"]}
            points[grade_id] = meta["points"]
            assert "check(" in cell.source
            assert not re.search(r"^\s*assert\b", cell.source, re.M), "test cells report only through check()"
            assert ("### BEGIN HIDDEN TESTS" in cell.source) == (grade_id in chapter.hidden)
        elif meta:
            assert meta == {**LOCKED_META, "grade_id": grade_id}
    assert solutions == chapter.exercises | set(chapter.bring)
    assert set(points) == chapter.tests
    visible = sum(points[k] for k in chapter.visible)
    assert (visible, sum(points.values())) == chapter.points
    assert visible / sum(points.values()) == pytest.approx(0.3)  # visible 30 %, hidden 70 %


@chapters
def test_exactly_the_cells_tagged_uses_solution_need_a_solution(chapter):
    """With every exercise a raising stub (as released), only the test cells and the cells tagged
    ``uses-solution`` fail, each with NotImplementedError (hidden tests are still in the source)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(GRADING_VARIABLE, "1")
        run = run_in_process(chapter.path, replace=chapter.stubbed())
    assert set(run.failed()) == chapter.uses_solution() | chapter.tests
    for key, outcome in run.failed().items():
        assert isinstance(outcome.error, NotImplementedError), (key, outcome.error)


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.bring], ids=str)
def test_the_bring_cells_are_the_earlier_chapters_cells_verbatim(chapter):
    """The reference optimizers live only in solution cells; these copies must not drift from the
    chapters that teach them (copy the cell again from the named notebook when this fails)."""
    cells = nbtools.code_cells(chapter.path)
    for grade_id, (notebook, there) in chapter.bring.items():
        master = nbtools.code_cells(SOURCE / notebook)[there]
        assert cells[grade_id].source == master.source, f"{grade_id} differs from {notebook}:{there}"
        assert nbgrader_meta(cells[grade_id])["grade"] is False and nbgrader_meta(master)["solution"] is True


# ----------------------------------------------------------------------------------------- golden data
@chapters
def test_records_from_a_student_sandbox_pass_the_judge(chapter, tmp_path, monkeypatch):
    """Without golden files (as in the sandbox) visible checks compare with their inline ``expected=``
    and hidden ones only record; the judge, outside, then accepts every value the reference recorded."""
    graded = reference_run(chapter).outcomes  # (with the golden files: before the variables below are set)
    empty = tmp_path / "no-golden"
    empty.mkdir()
    records = tmp_path / "records.jsonl"
    monkeypatch.setenv(GOLDEN_DIR_ENV, str(empty))
    monkeypatch.setenv(RECORDS_ENV, str(records))
    monkeypatch.setenv(GRADING_VARIABLE, "1")
    run = run_in_process(chapter.path, replace=chapter.quick())
    assert {k: repr(v.error) for k, v in run.failed().items()} == {}
    for grade_id in chapter.visible:  # every check of a visible cell compares inline, as with the golden files
        compared = run.outcomes[grade_id].output.count("passed: ")
        assert compared == graded[grade_id].output.count("passed: ") > 0, f"{grade_id}: visible checks compare inline"
    for grade_id in chapter.hidden:
        assert "passed: " not in run.outcomes[grade_id].output, f"{grade_id}: hidden checks only record"
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    names = [line["check"] for line in lines]
    assert len(names) == len(set(names)) and set(names) == set(load_assignment(GOLDEN_DIR, chapter.assignment))
    monkeypatch.delenv(GOLDEN_DIR_ENV)
    for line in lines:
        verdict = verdict_for(decode(line["value"]), expectation(line["check"], GOLDEN_DIR))
        assert verdict.passed, (line["check"], verdict.message)


@chapters
def test_golden_covers_exactly_the_notebooks_checks(chapter):
    golden = load_assignment(GOLDEN_DIR, chapter.assignment)
    assert set(golden) == set(passed_checks(chapter))
    assert len(golden) == chapter.checks
    assert chapter.golden.stat().st_size < 1_500_000


@chapters
def test_every_variant_is_wrong_and_every_hint_says_something(chapter):
    for name, spec in load_assignment(GOLDEN_DIR, chapter.assignment).items():
        assert len(spec.hint) > 30, name
        for variant in spec.variants:
            assert len(variant.hint) > 30
            verdict = verdict_for(variant.value, spec)  # a wrong answer that fails, and gets its own hint
            assert not verdict.passed and verdict.hint == variant.hint, (name, variant.hint)


@pytest.mark.torch
@chapters
def test_golden_file_is_what_the_recorder_writes_now(chapter):
    import torch

    recorder = importlib.import_module(f"tools.golden.{chapter.assignment}")
    default = torch.get_default_dtype()
    try:
        fresh = json.loads(json.dumps(recorder.record(), sort_keys=True))
    finally:
        torch.set_default_dtype(default)  # a recorder may work in float64; leave other tests' torch as it was
    stored = json.loads(chapter.golden.read_text())["checks"]
    assert set(fresh) == set(stored)
    for name in fresh:
        now, then = fresh[name], stored[name]
        assert first_mismatch(decode(now["expected"]), decode(then["expected"]), 1e-12, 1e-12) is None, name
        assert (now["hint"], now["rtol"], now["atol"]) == (then["hint"], then["rtol"], then["atol"]), name
        assert [v["hint"] for v in now["variants"]] == [v["hint"] for v in then["variants"]], name
        tolerance = variant_tolerance(now["rtol"], now["atol"])  # variants still name the same wrong answers
        for fresh_variant, stored_variant in zip(now["variants"], then["variants"]):
            assert first_mismatch(decode(fresh_variant["value"]), decode(stored_variant["value"]), *tolerance) is None, name
