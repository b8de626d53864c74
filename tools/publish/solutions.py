"""Reference solutions for students, after a deadline: the solution code only.

A solution notebook is the *released* notebook (so its test cells are exactly the visible tests
students already have: no hidden test, and no expected value beyond the inline ``expected=``)
whose exercise cells hold the instructor's code instead of the stub. From the instructor's cell,
only the lines of its solution regions are kept, without nbgrader's delimiters; a hidden-test
region is dropped whole.
"""

from __future__ import annotations

import re

import nbformat

from tools.leaks import REGION

DELIMITER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


class SolutionError(ValueError):
    """The instructor's notebook and the released one do not match cell for cell."""


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_source(text: str) -> str:
    """``text`` with hidden-test regions removed and the solution delimiters dropped."""
    without_hidden = REGION.sub(lambda m: m.group(0) if m.group(1) == "SOLUTION" else "", text)
    return DELIMITER.sub("", without_hidden)


def solution_notebook(source: nbformat.NotebookNode, released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with each exercise cell's code taken from ``source``."""
    solutions = {}
    for cell in source.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            solutions[_grade_id(cell)] = cell.source
    result = nbformat.from_dict(released)
    filled = set()
    for cell in result.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        grade_id = _grade_id(cell)
        if grade_id not in solutions:
            raise SolutionError(f"released exercise cell {grade_id!r} has no cell in the instructor's notebook")
        cell.source = solution_source(solutions[grade_id])
        filled.add(grade_id)
    missing = set(solutions) - filled
    if missing:
        raise SolutionError(f"exercise cells {sorted(missing)} are not in the released notebook: run make release")
    return result
