"""How long each chapter's graded test cells take with the reference solutions (target: < 10 s).

Every code cell of each source notebook runs in order in one namespace, as a kernel would; only the
graded test cells are timed (the narrative's figures are not part of grading).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def _time_test_cells(path: Path) -> float:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    total = 0.0
    old = os.getcwd()
    os.chdir(path.parent)
    try:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            graded_test = meta.get("grade", False) and not meta.get("solution", False)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, str(path), "exec"), namespace)
            if graded_test:
                total += time.perf_counter() - start
            plt.close("all")
    finally:
        os.chdir(old)
    return total


def run() -> dict:
    seconds = {p.parent.name: round(_time_test_cells(p), 3) for p in sorted(ROOT.glob("source/*/*.ipynb"))}
    return {
        "target_seconds": TARGET_S,
        "test_cell_seconds": seconds,
        "all_within_target": all(s < TARGET_S for s in seconds.values()),
        "load_average_1min": os.getloadavg()[0],
    }


def format_table(result: dict) -> str:
    lines = [f"{'assignment':<24}{'test cells (s)':>16}   target < {result['target_seconds']:.0f} s"]
    for name, s in result["test_cell_seconds"].items():
        lines.append(f"{name:<24}{s:>16.2f}   {'ok' if s < result['target_seconds'] else 'OVER'}")
    return "\n".join(lines)
