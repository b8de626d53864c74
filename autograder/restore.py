"""Undo tampering before a submission runs: an nbgrader preprocessor for autograde's sanitising step.

nbgrader's own ``OverwriteCells`` restores locked cells and edited points, but a renamed or
duplicated graded cell, an unknown schema version or several deleted cells make it (or the metadata
check after it) fail the whole submission. This preprocessor runs first and leaves nbgrader a
notebook it can handle: every cell nbgrader tracks appears exactly once, with the gradebook's
metadata (and, if locked, its source), in the source notebook's order; cells with unknown or
malformed nbgrader metadata become plain cells; deleted graded cells are put back.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .cells import nbgrader_meta, tracked_meta

SCHEMA_VERSION = 3


class RestoreTrackedCells(NbGraderPreprocessor):
    source_directory = Unicode("", help="The instructor's source folder (for the cells' order).").tag(config=True)

    def preprocess(self, nb, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            master = gb.find_notebook(notebook_id, assignment_id)
            source = {c.name: (c.cell_type, c.locked, c.source, c.checksum) for c in master.source_cells}
            points = {c.name: float(c.max_score) for c in master.grade_cells}
            solutions = {c.name for c in master.solution_cells}
            tasks = {c.name: float(c.max_score) for c in master.task_cells}
        order = self._order(assignment_id, notebook_id, source)

        # 1. One tracked cell per known id (the last, as nbgrader's DeduplicateIds keeps); others plain.
        last: dict[str, int] = {}
        for index, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {}).get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if isinstance(grade_id, str) and grade_id in source:
                last[grade_id] = index
            else:
                del cell.metadata["nbgrader"]
        for index, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {}).get("nbgrader")
            if meta is not None and last.get(meta["grade_id"]) != index:
                del cell.metadata["nbgrader"]

        # 2. The gradebook's metadata (and locked source) on every tracked cell.
        for grade_id, index in last.items():
            nb.cells[index] = self._canonical(nb.cells[index], grade_id, source, points, solutions, tasks)

        # 3. Deleted graded, solution and task cells put back after their predecessor in the source.
        wanted = [g for g in order if g in points or g in solutions or g in tasks]
        for grade_id in wanted:
            if grade_id in last:
                continue
            self.log.warning("Restoring deleted cell %s", grade_id)
            cell_type = source[grade_id][0]
            blank = nbformat.v4.new_code_cell("") if cell_type == "code" else nbformat.v4.new_markdown_cell("")
            cell = self._canonical(blank, grade_id, source, points, solutions, tasks, restore_source=True)
            position = self._position(nb, order, grade_id)
            nb.cells.insert(position, cell)
            last = {m["grade_id"]: i for i, c in enumerate(nb.cells) if (m := tracked_meta(c))}
        return nb, resources

    def _order(self, assignment_id: str, notebook_id: str, source: dict) -> list[str]:
        path = Path(self.source_directory) / assignment_id / f"{notebook_id}.ipynb"
        ids: list[str] = []
        if path.is_file():
            for cell in nbformat.read(path, as_version=4).cells:
                grade_id = nbgrader_meta(cell).get("grade_id")
                if grade_id in source and grade_id not in ids:
                    ids.append(grade_id)
        return ids + sorted(set(source) - set(ids))

    @staticmethod
    def _position(nb, order: list[str], grade_id: str) -> int:
        present = {m["grade_id"]: i for i, c in enumerate(nb.cells) if (m := tracked_meta(c))}
        at = order.index(grade_id)
        for previous in reversed(order[:at]):
            if previous in present:
                return present[previous] + 1
        for following in order[at + 1:]:
            if following in present:
                return present[following]
        return len(nb.cells)

    @staticmethod
    def _canonical(cell, grade_id, source, points, solutions, tasks, restore_source=False):
        cell_type, locked, text, checksum = source[grade_id]
        if cell.cell_type != cell_type:
            cell = nbformat.v4.new_code_cell(cell.source) if cell_type == "code" else nbformat.v4.new_markdown_cell(cell.source)
        meta = {
            "grade": grade_id in points,
            "grade_id": grade_id,
            "locked": bool(locked),
            "schema_version": SCHEMA_VERSION,
            "solution": grade_id in solutions,
            "checksum": checksum,
            "cell_type": cell_type,
        }
        if grade_id in points:
            meta["points"] = points[grade_id]
        if grade_id in tasks:
            meta["task"] = True
            meta["points"] = tasks[grade_id]
        cell.metadata["nbgrader"] = meta
        if locked or restore_source:
            cell.source = text
        if cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        return cell
