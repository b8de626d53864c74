"""Run course notebooks in tests: in-process (fast, per-cell outcomes) or on a real kernel."""

from __future__ import annotations

import ast
import contextlib
import re
import io
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.cells import is_test_cell as is_test_cell  # test modules import them from here
from autograder.cells import nbgrader_meta as nbgrader_meta

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"


def assignments() -> list[str]:
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def source_notebooks() -> list[Path]:
    return sorted(SOURCE.glob("*/*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@dataclass
class Outcome:
    grade_id: str | None
    points: float
    error: BaseException | None
    output: str

    @property
    def passed(self) -> bool:
        return self.error is None


@dataclass
class Run:
    outcomes: dict[str, Outcome]
    namespace: dict

    def tests(self, path: Path) -> dict[str, Outcome]:
        """Only the graded test cells' outcomes."""
        ids = {nbgrader_meta(c).get("grade_id") for c in read(path).cells if is_test_cell(c)}
        return {k: v for k, v in self.outcomes.items() if k in ids}

    def failed(self) -> dict[str, Outcome]:
        return {k: v for k, v in self.outcomes.items() if not v.passed}


def run_in_process(path: Path, replace: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Execute every code cell in order in one fresh namespace; return each cell's outcome.

    As in a kernel, a cell that calls ``check`` reports every check and fails at its end if one failed.

    Keys are nbgrader ``grade_id``s (``cell-<index>`` for cells without one). ``replace`` maps a
    ``grade_id`` to source that runs instead (to inject a student's mistake).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    replace = dict(replace or {})
    namespace: dict = {"__name__": "__main__"}
    outcomes: dict[str, Outcome] = {}
    old_cwd = os.getcwd()
    os.chdir(cwd or path.parent)
    try:
        for index, cell in enumerate(read(path).cells):
            if cell.cell_type != "code":
                continue
            meta = nbgrader_meta(cell)
            key = meta.get("grade_id") or f"cell-{index}"
            source = replace.pop(key, cell.source)
            buffer = io.StringIO()
            error = None
            try:
                with contextlib.redirect_stdout(buffer):
                    exec(compile(as_in_a_kernel(source), f"<{path.name}:{key}>", "exec"), namespace)
            except Exception as exc:  # noqa: BLE001 - the outcome records it
                error = exc
            outcomes[key] = Outcome(meta.get("grade_id"), float(meta.get("points", 0) or 0), error, buffer.getvalue())
            plt.close("all")
    finally:
        os.chdir(old_cwd)
    if replace:
        raise KeyError(f"no cells with grade_id {sorted(replace)} in {path.name}")
    return Run(outcomes, namespace)


def as_in_a_kernel(source: str) -> ast.Module:
    """The cell as the course's kernels run it: a cell that calls ``check`` reports all its checks."""
    from autograder.checks import ReportCellChecksTogether

    return ReportCellChecksTogether().visit(ast.parse(source))


def code_cells(path: Path) -> dict:
    """Code cells by nbgrader ``grade_id`` (``cell-<index>`` for cells without one)."""
    cells = {}
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type == "code":
            cells[nbgrader_meta(cell).get("grade_id") or f"cell-{index}"] = cell
    return cells


def cell_source(path: Path, grade_id: str) -> str:
    for cell in read(path).cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(grade_id)


def stated(path: Path, pattern: str) -> tuple[str, ...]:
    """The groups of the first match of ``pattern`` in the notebook's markdown: what the text states."""
    for cell in read(path).cells:
        if cell.cell_type == "markdown" and (found := re.search(pattern, cell.source)):
            return found.groups()
    raise AssertionError(f"{path.name} no longer states {pattern!r}")


def check_names(path: Path, assignment: str, pattern: str = r'check\(\s*"({name})"') -> list[str]:
    """Every check name the notebook's code cells use, in order (with repeats)."""
    name = re.escape(assignment) + r"\.[a-z0-9_]+"
    found = []
    for cell in read(path).cells:
        if cell.cell_type == "code":
            found += re.findall(pattern.format(name=name), cell.source)
    return found
