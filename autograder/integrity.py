"""Inspect a submission before it runs: is each notebook there, readable, and untampered?

Compares the submitted notebooks with the released ones (what the student was given), cell by cell
for the cells nbgrader tracks (graded, solution and locked cells, by ``grade_id``). It only reports:
undoing the tampering is :mod:`autograder.restore`'s job during execution. Extra cells, extra prints
and another kernel display name are not tampering. It also flags, statically, a student's own code
that imports a library shipping ready-made optimizers (the sandbox lacks them; the instructor sees why
such a submission failed).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .cells import python_source, tracked_meta
from .reasons import Reason, ReasonKind

MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
SHADOWED_MODULES = {
    "numpy", "matplotlib", "autograder", "slopegrad", "courseplots", "IPython", "ipykernel", "json", "os", "sys",
    "builtins", "sitecustomize", "usercustomize", "math", "random", "pathlib", "importlib", "io",
}


# Libraries that ship ready-made optimizers: a solution importing one is flagged for the instructor.
FLAGGED_MODULES = (
    "torch", "tensorflow", "tf_keras", "keras", "jax", "jaxlib", "optax", "flax", "haiku", "sklearn",
    "mxnet", "paddle", "theano", "chainer", "autograd", "trax", "lightning", "pytorch_lightning", "scipy.optimize",
)


@dataclass
class Inspection:
    runnable: bool  # every notebook readable (missing ones just score zero)
    reasons: list[Reason] = field(default_factory=list)  # for the needs-review status
    missing: list[str] = field(default_factory=list)
    flagged_imports: list[str] = field(default_factory=list)  # optimizer libraries its own code imports

    def flag(self, kind: ReasonKind, detail: str) -> None:
        self.reasons.append(Reason(kind, detail))




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
    student_sources: list[str] = []  # code the student wrote or kept (not test cells)
    for name in notebooks:
        path = submitted / f"{name}.ipynb"
        if not path.is_file() or path.is_symlink():
            result.missing.append(name)
            result.flag(ReasonKind.MISSING_NOTEBOOK, f"missing notebook: {name}.ipynb")
            continue
        try:
            nb = read_notebook(path)
        except ValueError as error:
            result.runnable = False
            result.flag(ReasonKind.INVALID_NOTEBOOK, f"invalid notebook: {error}")
            continue
        released = nbformat.read(release / f"{name}.ipynb", as_version=4)
        tampered = _compare(nb, released)
        if tampered:
            shown = "; ".join(tampered[:6]) + (f"; and {len(tampered) - 6} more" if len(tampered) > 6 else "")
            result.flag(ReasonKind.TAMPERED, f"tampered cells restored in {name}.ipynb: {shown}")
        test_ids = {m["grade_id"] for c in released.cells if (m := tracked_meta(c)) and m.get("grade") and not m.get("solution")}
        for cell in nb.cells:
            meta = tracked_meta(cell)
            if cell.get("cell_type") == "code" and not (meta and meta.get("grade_id") in test_ids):
                student_sources.append(_norm(cell.get("source", "")))
    if result.runnable and len(result.missing) == len(notebooks):
        result.runnable = False
    shadows = sorted(
        p.name for p in submitted.iterdir()
        if (p.suffix == ".py" and p.stem in SHADOWED_MODULES) or (p.is_dir() and p.name in SHADOWED_MODULES)
        or p.suffix in {".pth"}
    ) if submitted.is_dir() else []
    if shadows:
        result.flag(ReasonKind.SHADOWED_MODULES, f"submission ships files that shadow modules: {', '.join(shadows)}")
    result.flagged_imports = flagged_imports(student_sources)
    if result.flagged_imports:
        result.flag(ReasonKind.OPTIMIZER_IMPORT,
                    f"imports a library that ships optimizers: {', '.join(result.flagged_imports)}")
    return result


def flagged_imports(sources: list[str]) -> list[str]:
    """Optimizer-shipping libraries imported by these cells (static: ``import``, ``from``, ``__import__``)."""
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(python_source(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in {"__import__", "import_module"} and isinstance(node.args[0].value, str):
                    modules = [node.args[0].value]
            for module in modules:
                for flagged in FLAGGED_MODULES:
                    if module == flagged or module.startswith(flagged + "."):
                        found.add(flagged)
    return sorted(found)


def _compare(nb, released) -> list[str]:
    problems: list[str] = []
    expected = {m["grade_id"]: (c, m) for c in released.cells if (m := tracked_meta(c))}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        meta = tracked_meta(cell)
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
