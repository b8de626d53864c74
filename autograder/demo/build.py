"""Build demo submissions from small specs, applied to the released notebook and the reference solution.

A spec says how one student's submission differs from the released notebook:

- ``"solve"``: which solution cells get the reference solution: ``"all"`` (default), ``"none"``
  (the released stubs stay), ``"first"``, ``"last"``, ``"all_but_first"``, or a list of cell ids;
- ``"edits"``: ``{"cell": <id or selector>, "replace": [old, new]}`` (text replaced in that cell, which
  must contain ``old``), ``{"cell": ..., "append": text}``, ``{"cell": ..., "source": text}``;
- ``"metadata"``: ``{"cell": ..., "set": {...}}`` merged into the cell's nbgrader metadata, or
  ``{"cell": ..., "drop": true}`` to remove it (a renamed or unmarked cell);
- ``"delete"`` / ``"duplicate"``: lists of cells; ``"insert_after"``: ``{"cell": ..., "source": text}``
  cells added (``"cell": "@start"`` inserts before the first cell);
- ``"kernel_display_name"``; ``"files"``: extra files ``{name: text}`` in the submission folder;
- ``"notebook"``: ``"missing"`` (no notebook) or ``"invalid"`` (bytes that are not JSON).

Selectors: ``@first_solution``, ``@last_solution``, ``@first_test``, ``@last_test``, ``@every_test``.
A ``replace`` whose text is not found raises: a demo that silently stopped matching its chapter would
test nothing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

SOLUTION_REGION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


class SpecError(ValueError):
    """A demo spec that does not fit its chapter."""


def reference_sources(source_notebook: Path) -> dict[str, str]:
    """Each solution cell's reference solution: the master's cell without its solution markers."""
    nb = nbformat.read(source_notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            found[meta["grade_id"]] = SOLUTION_REGION.sub("", cell.source)
    return found


def _ids(nb, kind: str) -> list[str]:
    ids = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if kind == "solution" and meta.get("solution"):
            ids.append(meta["grade_id"])
        elif kind == "test" and meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            ids.append(meta["grade_id"])
    return ids


def _select(nb, selector: str) -> list[str]:
    if not selector.startswith("@"):
        return [selector]
    solutions, tests = _ids(nb, "solution"), _ids(nb, "test")
    table = {"@first_solution": solutions[:1], "@last_solution": solutions[-1:], "@first_test": tests[:1],
             "@last_test": tests[-1:], "@every_test": tests, "@every_solution": solutions}
    if selector not in table:
        raise SpecError(f"unknown selector {selector}")
    return table[selector]


def _index(nb, grade_id: str) -> int:
    for index, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise SpecError(f"no cell {grade_id!r} in the notebook")


def build_notebook(released: Path, source_notebook: Path, spec: dict) -> nbformat.NotebookNode:
    nb = nbformat.read(released, as_version=4)
    reference = reference_sources(source_notebook)
    solve = spec.get("solve", "all")
    solutions = _ids(nb, "solution")
    named = {"all": solutions, "none": [], "first": solutions[:1], "last": solutions[-1:], "all_but_first": solutions[1:]}
    chosen = named[solve] if isinstance(solve, str) else list(solve)
    for grade_id in chosen:
        nb.cells[_index(nb, grade_id)].source = reference[grade_id]
    for edit in spec.get("edits", []):
        for grade_id in _select(nb, edit["cell"]):
            cell = nb.cells[_index(nb, grade_id)]
            if "replace" in edit:
                old, new = edit["replace"]
                if old not in cell.source:
                    raise SpecError(f"{spec.get('student')}: {old!r} not found in cell {grade_id}")
                cell.source = cell.source.replace(old, new, 1)
            if "append" in edit:
                cell.source = cell.source + "\n" + edit["append"]
            if "source" in edit:
                cell.source = edit["source"]
    for change in spec.get("metadata", []):
        for grade_id in _select(nb, change["cell"]):
            cell = nb.cells[_index(nb, grade_id)]
            if change.get("drop"):
                del cell.metadata["nbgrader"]
            else:
                cell.metadata["nbgrader"].update(copy.deepcopy(change["set"]))
    for selector in spec.get("duplicate", []):
        for grade_id in _select(nb, selector):
            at = _index(nb, grade_id)
            nb.cells.insert(at + 1, copy.deepcopy(nb.cells[at]))
    for selector in spec.get("delete", []):
        for grade_id in _select(nb, selector):
            del nb.cells[_index(nb, grade_id)]
    for insert in spec.get("insert_after", []):
        if insert["cell"] == "@start":
            nb.cells.insert(0, nbformat.v4.new_code_cell(insert["source"]))
            continue
        for grade_id in _select(nb, insert["cell"]):
            nb.cells.insert(_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(insert["source"]))
    if "kernel_display_name" in spec:
        nb.metadata.setdefault("kernelspec", {})["display_name"] = spec["kernel_display_name"]
    for cell in nb.cells:
        cell.pop("id", None)  # as an older front end would save it: ids are not what grading keys on
    nb.nbformat_minor = 4
    return nb


def build_submission(released_folder: Path, source_folder: Path, spec: dict) -> dict[str, bytes]:
    """The files one student submits for one assignment (notebook name -> bytes)."""
    files: dict[str, bytes] = {}
    for released in sorted(released_folder.glob("*.ipynb")):
        if spec.get("notebook") == "missing":
            continue
        if spec.get("notebook") == "invalid":
            files[released.name] = b'{"cells": [{"cell_type": "code", "source": "print(1)"'  # cut short
            continue
        nb = build_notebook(released, source_folder / released.name, spec)
        files[released.name] = nbformat.writes(nb).encode()
    for name, text in spec.get("files", {}).items():
        files[name] = text.encode()
    return files
