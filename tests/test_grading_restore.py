"""Restoring tampered cells (autograder.restore.RestoreTrackedCells), one behaviour per test, run on
a notebook against a real nbgrader gradebook, as nbgrader's own preprocessor tests do."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grading_fixture import ensure_state_env

from autograder.cells import nbgrader_meta
from autograder.restore import SCHEMA_VERSION, RestoreTrackedCells
from autograder.tool_path import ensure_tool_path

ensure_state_env()

# The master notebook: an intro, a solution cell, a locked test cell worth 2 points, a locked text cell.
MASTER = [
    ("intro", "markdown", False, "# Intro", None),
    ("answer", "code", False, "def f(x):\n    raise NotImplementedError()", None),
    ("test_f", "code", True, "assert f(1) == 2", 2.0),
    ("notes", "markdown", True, "Locked notes.", None),
]


def _cell(grade_id, cell_type, locked, source, points):
    cell = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    meta = {"grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION, "grade": points is not None,
            "solution": grade_id == "answer"}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    from nbgrader.api import Gradebook

    ensure_tool_path()
    folder = tmp_path_factory.mktemp("restore")
    (folder / "source" / "hw").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[_cell(*spec) for spec in MASTER]), folder / "source" / "hw" / "nb.ipynb")
    url = f"sqlite:///{folder / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw")
        gb.add_notebook("nb", "hw")
        for grade_id, cell_type, locked, source, points in MASTER:
            if grade_id == "intro":
                continue
            gb.add_source_cell(grade_id, "nb", "hw", cell_type=cell_type, locked=locked, source=source, checksum="c")
            if points is not None:
                gb.add_grade_cell(grade_id, "nb", "hw", max_score=points, cell_type=cell_type)
            if grade_id == "answer":
                gb.add_solution_cell(grade_id, "nb", "hw")
    return url, folder / "source"


def restore(gradebook, cells):
    url, source = gradebook
    preprocessor = RestoreTrackedCells(source_directory=str(source))
    resources = {"nbgrader": {"notebook": "nb", "assignment": "hw", "db_url": url}}
    nb, _ = preprocessor.preprocess(new_notebook(cells=cells), resources)
    return nb


def submitted():
    """What the student was given, with the answer written."""
    cells = [_cell(*spec) for spec in MASTER[1:]]
    cells[0].source = "def f(x):\n    return 2 * x"
    return [new_markdown_cell("# Intro")] + cells


def tracked(nb) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]


def test_an_untampered_notebook_keeps_its_cells_and_answers(gradebook):
    nb = restore(gradebook, submitted())
    assert tracked(nb) == ["answer", "test_f", "notes"]
    assert nb.cells[1].source == "def f(x):\n    return 2 * x"


def test_an_edited_locked_cell_gets_its_source_back(gradebook):
    cells = submitted()
    cells[2].source = "pass  # the test, gone"
    nb = restore(gradebook, cells)
    assert nb.cells[2].source == "assert f(1) == 2"


def test_edited_points_and_flags_get_the_gradebooks_values(gradebook):
    cells = submitted()
    cells[2].metadata["nbgrader"].update(points=99, locked=False, grade=False, solution=True)
    cells[2].metadata["nbgrader"]["schema_version"] = 99
    meta = nbgrader_meta(restore(gradebook, cells).cells[2])
    assert (meta["points"], meta["locked"], meta["grade"], meta["solution"]) == (2.0, True, True, False)
    assert meta["schema_version"] == SCHEMA_VERSION


def test_a_deleted_test_cell_is_put_back_after_its_predecessor(gradebook):
    cells = [c for c in submitted() if nbgrader_meta(c).get("grade_id") != "test_f"]
    nb = restore(gradebook, cells)
    assert tracked(nb) == ["answer", "test_f", "notes"]
    assert nb.cells[2].source == "assert f(1) == 2" and nbgrader_meta(nb.cells[2])["points"] == 2.0


def test_a_duplicated_cell_is_tracked_once_the_last_copy(gradebook):
    cells = submitted()
    copy_of_answer = copy.deepcopy(cells[1])
    copy_of_answer.source = "def f(x):\n    return 0"
    cells.insert(2, copy_of_answer)
    nb = restore(gradebook, cells)
    assert tracked(nb) == ["answer", "test_f", "notes"]
    assert [c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == "answer"] == ["def f(x):\n    return 0"]
    assert nb.cells[1].source == "def f(x):\n    return 2 * x" and not nbgrader_meta(nb.cells[1]), "the first copy is plain"


def test_an_unknown_or_malformed_id_becomes_a_plain_cell(gradebook):
    cells = submitted()
    stray = new_code_cell("x = 1")
    stray.metadata["nbgrader"] = {"grade_id": "not_in_the_gradebook", "grade": True, "points": 50}
    odd = new_code_cell("y = 2")
    odd.metadata["nbgrader"] = "not a dict"
    nb = restore(gradebook, cells + [stray, odd])
    assert tracked(nb) == ["answer", "test_f", "notes"]
    assert "nbgrader" not in nb.cells[-2].metadata and "nbgrader" not in nb.cells[-1].metadata


def test_a_changed_cell_type_is_changed_back(gradebook):
    cells = submitted()
    cells[2] = new_markdown_cell("assert True", metadata=cells[2].metadata)
    nb = restore(gradebook, cells)
    assert nb.cells[2].cell_type == "code" and nb.cells[2].source == "assert f(1) == 2"
