"""Inspect a submission before it runs: is each notebook there, readable, and untampered?

Compares the submitted notebooks with the released ones (what the student was given), cell by cell
for the cells nbgrader tracks (graded, solution and locked cells, by ``grade_id``). It only reports:
undoing the tampering is :mod:`autograder.restore`'s job during execution. Extra cells, extra prints
and another kernel display name are not tampering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
SHADOWED_MODULES = {
    "numpy", "matplotlib", "autograder", "slopegrad", "courseplots", "IPython", "ipykernel", "json", "os", "sys",
    "builtins", "sitecustomize", "usercustomize", "math", "random", "pathlib", "importlib", "io",
}


@dataclass
class Inspection:
    runnable: bool  # every notebook readable (missing ones just score zero)
    reasons: list[str] = field(default_factory=list)  # for the needs-review status
    missing: list[str] = field(default_factory=list)
    student_sources: list[str] = field(default_factory=list)  # code the student wrote or kept (not test cells)


def _tracked(cell) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) and meta.get("grade_id") is not None else None


def _norm(text) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A submitted notebook, bounded in size; raises ValueError with a reason if unreadable."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"{path.name} is {size} bytes (limit {MAX_NOTEBOOK_BYTES})")
    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({str(error)[:80]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or raw.get("nbformat") != 4:
        raise ValueError(f"{path.name} is not a version-4 notebook")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # noqa: BLE001 - any parse failure is the submission's
        raise ValueError(f"{path.name} cannot be read as a notebook ({type(error).__name__})") from None
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in {"code", "markdown", "raw"}:
            raise ValueError(f"{path.name} has a malformed cell")
        if not isinstance(cell.get("source", ""), (str, list)):
            raise ValueError(f"{path.name} has a cell whose source is not text")
    return nb


def inspect(submitted: Path, release: Path, notebooks: list[str]) -> Inspection:
    """Compare the submission folder with the release folder of one assignment."""
    result = Inspection(runnable=True)
    for name in notebooks:
        path = submitted / f"{name}.ipynb"
        if not path.is_file() or path.is_symlink():
            result.missing.append(name)
            result.reasons.append(f"missing notebook: {name}.ipynb")
            continue
        try:
            nb = read_notebook(path)
        except ValueError as error:
            result.runnable = False
            result.reasons.append(f"invalid notebook: {error}")
            continue
        released = nbformat.read(release / f"{name}.ipynb", as_version=4)
        tampered = _compare(nb, released)
        if tampered:
            shown = "; ".join(tampered[:6]) + (f"; and {len(tampered) - 6} more" if len(tampered) > 6 else "")
            result.reasons.append(f"tampered cells restored in {name}.ipynb: {shown}")
        test_ids = {m["grade_id"] for c in released.cells if (m := _tracked(c)) and m.get("grade") and not m.get("solution")}
        for cell in nb.cells:
            meta = _tracked(cell)
            if cell.get("cell_type") == "code" and not (meta and meta.get("grade_id") in test_ids):
                result.student_sources.append(_norm(cell.get("source", "")))
    if result.runnable and len(result.missing) == len(notebooks):
        result.runnable = False
    shadows = sorted(
        p.name for p in submitted.iterdir()
        if (p.suffix == ".py" and p.stem in SHADOWED_MODULES) or (p.is_dir() and p.name in SHADOWED_MODULES)
        or p.suffix in {".pth"}
    ) if submitted.is_dir() else []
    if shadows:
        result.reasons.append(f"submission ships files that shadow modules: {', '.join(shadows)}")
    return result


def _compare(nb, released) -> list[str]:
    problems: list[str] = []
    expected = {m["grade_id"]: (c, m) for c in released.cells if (m := _tracked(c))}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        meta = _tracked(cell)
        if meta is None:
            continue
        grade_id = str(meta.get("grade_id"))
        seen[grade_id] = seen.get(grade_id, 0) + 1
        if grade_id not in expected:
            problems.append(f"unknown cell id {grade_id[:40]!r}")
            continue
        original, original_meta = expected[grade_id]
        for key in ("grade", "solution", "locked"):
            if bool(meta.get(key)) != bool(original_meta.get(key)):
                problems.append(f"{grade_id}: '{key}' changed")
        if original_meta.get("grade") and _points(meta) != float(original_meta.get("points", 0)):
            problems.append(f"{grade_id}: points changed")
        if meta.get("schema_version") != original_meta.get("schema_version"):
            problems.append(f"{grade_id}: schema version {meta.get('schema_version')!r}")
        if cell.get("cell_type") != original.cell_type:
            problems.append(f"{grade_id}: cell type changed")
        if original_meta.get("locked") and _norm(cell.get("source", "")) != _norm(original.source):
            problems.append(f"{grade_id}: locked cell edited")
    for grade_id, count in seen.items():
        if count > 1:
            problems.append(f"{grade_id}: duplicated")
    for grade_id, (_, meta) in expected.items():
        if grade_id not in seen and (meta.get("grade") or meta.get("solution")):
            problems.append(f"{grade_id}: deleted or renamed")
    return problems


def _points(meta: dict) -> float | None:
    try:
        return float(meta.get("points", 0))
    except (TypeError, ValueError):
        return None
