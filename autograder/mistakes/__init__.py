"""Each chapter's common mistakes, each defined once, as an edit of the reference solution.

A :class:`Mistake` is what a student would write: text replaced in a solution cell of
``source/<assignment>/<notebook>``. The one definition serves three users:

* the golden recorder (``tools/golden``) runs the edited solution (:meth:`Catalogue.solution`)
  on the chapter's problems and stores what it records as a variant with the mistake's hint, so
  a student who makes the mistake is told about it;
* the tests (``tests/test_mistakes.py``) run the edited notebook and require that it loses
  exactly the test cells in :attr:`Mistake.loses`, each showing :attr:`Mistake.hint`;
* the demo and synthetic classes (``autograder/demo``) submit it.

Instructor-side only: the edits quote the solutions, so this package is never released (the
student repository's and the sandbox's copies of ``autograder`` leave it out).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import nbformat

from autograder.cells import nbgrader_meta

SOURCE = Path(__file__).resolve().parents[2] / "source"
SETUP_CELL = "setup"  # the imports every solution cell relies on


class OutOfDate(LookupError):
    """A mistake's edit no longer matches its chapter's solution: update the catalogue with the chapter."""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once) by ``new`` in the solution cell ``cell``."""

    cell: str
    old: str
    new: str

    def apply(self, source: str) -> str:
        if source.count(self.old) != 1:
            raise OutOfDate(f"cell {self.cell!r}: {self.old!r} occurs {source.count(self.old)} times, not once")
        return source.replace(self.old, self.new)


@dataclass(frozen=True)
class Mistake:
    """A common mistake: the edits that make it, what it costs and what the student is told.

    ``hint`` is the targeted hint, word for word as the golden file stores it; ``loses`` the test
    cells it must fail (every other test cell keeps its points). ``also``: other mistakes of the
    catalogue whose behaviour this one has too, so their hints are true of it as well (no other hint
    may be shown to it). ``demo`` puts it in the demo class.
    """

    name: str
    what: str
    edits: tuple[Edit, ...]
    loses: frozenset[str]
    hint: str
    demo: bool = False
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.edits or not self.loses:
            raise ValueError(f"mistake {self.name!r} needs edits and the cells it loses")

    def sources(self, cells: dict[str, str]) -> dict[str, str]:
        """The edited source of every cell the mistake touches, from ``cells`` (grade_id -> source)."""
        edited: dict[str, str] = {}
        for edit in self.edits:
            if edit.cell not in cells:
                raise OutOfDate(f"mistake {self.name!r}: no solution cell {edit.cell!r}")
            edited[edit.cell] = edit.apply(edited.get(edit.cell, cells[edit.cell]))
        return edited


def mistake(name: str, what: str, cell: str, *replacements: tuple[str, str], loses, hint: str,
            demo: bool = False, also: tuple[str, ...] = ()) -> Mistake:
    """A mistake made in one cell, by ``(old, new)`` replacements (the common case)."""
    edits = tuple(Edit(cell, old, new) for old, new in replacements)
    return Mistake(name, what, edits, frozenset(loses), hint, demo, also)


@dataclass(frozen=True)
class Catalogue:
    """One chapter's mistakes, and the reference notebook they edit."""

    assignment: str
    notebook: str
    mistakes: tuple[Mistake, ...]
    context: tuple[str, ...] = field(default=())  # locked cells the solutions need beyond the setup cell

    def __post_init__(self) -> None:
        names = [m.name for m in self.mistakes]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.assignment}: mistake names repeat")
        unknown = {other for m in self.mistakes for other in m.also} - set(names)
        if unknown:
            raise ValueError(f"{self.assignment}: 'also' names unknown mistakes {sorted(unknown)}")

    @property
    def path(self) -> Path:
        return SOURCE / self.assignment / self.notebook

    def __getitem__(self, name: str) -> Mistake:
        for entry in self.mistakes:
            if entry.name == name:
                return entry
        raise KeyError(f"{self.assignment} has no mistake {name!r}")

    def cells(self) -> dict[str, str]:
        """The reference notebook's code cells that have a grade_id, by grade_id."""
        notebook = nbformat.read(self.path, as_version=4)
        return {meta["grade_id"]: cell.source for cell in notebook.cells
                if cell.cell_type == "code" and (meta := nbgrader_meta(cell)).get("grade_id")}

    def solution_cells(self) -> list[str]:
        """The setup cell, the ``context`` cells and every solution cell, in notebook order."""
        notebook = nbformat.read(self.path, as_version=4)
        wanted = []
        for cell in notebook.cells:
            meta = nbgrader_meta(cell)
            if meta.get("solution") or meta.get("grade_id") in (SETUP_CELL, *self.context):
                wanted.append(meta["grade_id"])
        return wanted

    def solution(self, mistake: Mistake | str | None = None) -> dict[str, Any]:
        """The namespace of the reference solution, with ``mistake`` made (``None``: as written)."""
        name = mistake.name if isinstance(mistake, Mistake) else mistake
        return dict(_solution(self, name))


@cache
def _solution(catalogue: Catalogue, mistake: str | None) -> dict[str, Any]:
    cells = catalogue.cells()
    if mistake is not None:
        cells.update(catalogue[mistake].sources(cells))
    namespace: dict[str, Any] = {"__name__": f"{catalogue.assignment}_solution"}
    for grade_id in catalogue.solution_cells():
        exec(compile(cells[grade_id], f"<{catalogue.notebook}:{grade_id}>", "exec"), namespace)  # the instructor's own solution
    return namespace


def catalogue(assignment: str) -> Catalogue:
    """The catalogue of ``assignment`` (``autograder.mistakes.<assignment>.CATALOGUE``)."""
    return importlib.import_module(f"{__name__}.{assignment}").CATALOGUE


def catalogues() -> list[Catalogue]:
    """Every chapter that has a catalogue."""
    return [catalogue(path.stem) for path in sorted(Path(__file__).parent.glob("ch*.py"))]
