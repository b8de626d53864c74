"""Notebook cells as nbgrader marks them: one reading of the ``nbgrader`` metadata for everyone.

Used by the judge (which test cells an assignment has), the integrity stage (which cells are tracked)
and the restore step, and by the book build and the tests. Pure functions of a cell (a dict or an
``nbformat`` node); nothing here runs code.
"""

from __future__ import annotations


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata, ``{}`` when it has none (or something that is not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def tracked_meta(cell) -> dict | None:
    """The metadata of a cell nbgrader tracks (one with a ``grade_id``), else ``None``."""
    meta = nbgrader_meta(cell)
    return meta if meta.get("grade_id") is not None else None


def is_test_cell(cell) -> bool:
    """An autograded test cell: a graded code cell that is not a solution."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def python_source(cell_source: str) -> str:
    """Cell source as plain Python (IPython magics turned into calls), for parsing only."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # noqa: BLE001 - fall back to the raw text
        return cell_source
