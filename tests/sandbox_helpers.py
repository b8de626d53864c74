"""Shared by the sandbox tests: the Jupyter state folders, the sandbox check, running cells."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from nbtools import ROOT

STATE = ROOT / ".state"
JUPYTER_ENV = {
    "JUPYTER_CONFIG_DIR": STATE / "jupyter" / "config",
    "JUPYTER_DATA_DIR": STATE / "jupyter" / "data",
    "JUPYTER_RUNTIME_DIR": STATE / "jupyter" / "runtime",
    "IPYTHONDIR": STATE / "ipython",
    "MPLCONFIGDIR": STATE / "matplotlib",
}


def use_project_state() -> None:
    """What the Makefile exports, for a pytest run started by hand."""
    for key, value in JUPYTER_ENV.items():
        os.environ.setdefault(key, str(value))


def require_sandbox() -> None:
    """Fail (never skip) with the sandbox's own explanation when it cannot run here."""
    from autograder.sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as error:
        pytest.fail(f"the grading sandbox cannot run: {error}", pytrace=False)


def notebook(*sources: str) -> nbformat.NotebookNode:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return new_notebook(cells=[new_code_cell(s) for s in sources], metadata={"kernelspec": kernelspec})


def run_cells(folder: Path, *sources: str, limits=None, watch=None):
    """Run ``sources`` as the cells of one notebook in the sandbox, with ``folder`` as nbgrader's cwd.

    ``watch(executor, cell_index)`` is called before each cell runs, to look at the kernel from outside.
    """
    from autograder.sandbox import BoundedExecute, SandboxLimits, nbgrader_execute_config

    config = Config(nbgrader_execute_config(limits or SandboxLimits()))
    nb = notebook(*sources)
    executor = BoundedExecute(config=config)
    if watch is not None:
        executor.on_cell_execute = lambda cell_index, **_: watch(executor, cell_index)
    executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    return nb, executor


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def errors(cell) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


def last_json(cell) -> dict:
    """The JSON object a probing cell printed on its last line."""
    return json.loads(text(cell).strip().splitlines()[-1])
