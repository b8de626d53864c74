"""A tiny assignment in the chapters' conventions, for grading tests that must not wait for the chapters.

``write_fixture(folder)`` writes ``folder/source/toy_descent/toy_descent.ipynb`` (an nbgrader master:
solution cells between ``### BEGIN/END SOLUTION``, test cells that call ``check``, hidden tests
between ``### BEGIN/END HIDDEN TESTS``) and ``folder/golden/toy_descent.json`` (its expectations, with
known wrong variants and their hints), and returns the demo specs of its common mistakes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np

from tools.golden.store import spec, write

ASSIGNMENT = "toy_descent"

IMPORTS = "import numpy as np"

STEP = '''def descent_step(x, grad, lr):
    """One step of gradient descent: x - lr * grad (x and grad are arrays)."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) - lr * np.asarray(grad, dtype=float)
    ### END SOLUTION'''

RUN = '''def run_descent(x0, lr, steps):
    """Minimise f(x) = sum(x**2) / 2 from x0: return the trajectory, steps + 1 points (x0 included)."""
    ### BEGIN SOLUTION
    points = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        points.append(descent_step(points[-1], points[-1], lr))
    return np.array(points)
    ### END SOLUTION'''

TEST_STEP = '''from autograder.checks import check
check("toy_descent.step_basic", descent_step([1.0, -2.0], [0.5, 0.5], 0.1), expected=[0.95, -2.05])
### BEGIN HIDDEN TESTS
check("toy_descent.step_hidden", descent_step([3.0, 4.0, 5.0], [1.0, -1.0, 2.0], 0.25))
### END HIDDEN TESTS'''

TEST_RUN = '''from autograder.checks import check
trajectory = run_descent([2.0, -1.0], 0.5, 3)
print("trajectory has", len(trajectory), "points")
### BEGIN HIDDEN TESTS
check("toy_descent.run_hidden", run_descent([4.0, 2.0], 0.3, 5))
### END HIDDEN TESTS'''

TEST_ZERO_LR = '''from autograder.checks import check
check("toy_descent.step_zero_lr", descent_step([1.0, 2.0], [3.0, 4.0], 0.0), expected=[1.0, 2.0])'''


def _step(x, grad, lr):
    return np.asarray(x, float) - lr * np.asarray(grad, float)


def _run(x0, lr, steps, *, extra=0, sign=1.0):
    points = [np.asarray(x0, float)]
    for _ in range(steps + extra):
        points.append(points[-1] - sign * lr * points[-1])
    return np.array(points)


SIGN_HINT = "You moved uphill: gradient descent subtracts lr * grad."
OFF_BY_ONE_HINT = "The trajectory holds steps + 1 points: the starting point, then one point per step."


def golden_checks() -> dict[str, dict]:
    up = lambda x, g, lr: np.asarray(x, float) + lr * np.asarray(g, float)  # noqa: E731
    return {
        "toy_descent.step_basic": spec(_step([1.0, -2.0], [0.5, 0.5], 0.1), variants=[(SIGN_HINT, up([1.0, -2.0], [0.5, 0.5], 0.1))]),
        "toy_descent.step_hidden": spec(
            _step([3.0, 4.0, 5.0], [1.0, -1.0, 2.0], 0.25),
            hint="descent_step must work elementwise on arrays of any length.",
            variants=[(SIGN_HINT, up([3.0, 4.0, 5.0], [1.0, -1.0, 2.0], 0.25))],
        ),
        "toy_descent.run_hidden": spec(
            _run([4.0, 2.0], 0.3, 5),
            hint="run_descent returns every point of the trajectory.",
            variants=[(OFF_BY_ONE_HINT, _run([4.0, 2.0], 0.3, 5, extra=1)), (OFF_BY_ONE_HINT, _run([4.0, 2.0], 0.3, 4)),
                      (SIGN_HINT, _run([4.0, 2.0], 0.3, 5, sign=-1.0))],
        ),
        "toy_descent.step_zero_lr": spec(_step([1.0, 2.0], [3.0, 4.0], 0.0)),
    }


def _cell(kind: str, source: str, grade_id: str | None = None, *, grade=False, solution=False, locked=False, points=0):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    if grade_id:
        meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
        if grade:
            meta["points"] = points
        cell.metadata["nbgrader"] = meta
    return cell


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        _cell("markdown", "# A toy descent\nTwo functions, three graded tests.", "intro", locked=True),
        _cell("code", IMPORTS),
        _cell("code", STEP, "descent_step", solution=True),
        _cell("code", TEST_STEP, "test_descent_step", grade=True, locked=True, points=2),
        _cell("code", RUN, "run_descent", solution=True),
        _cell("code", TEST_RUN, "test_run_descent", grade=True, locked=True, points=3),
        _cell("code", TEST_ZERO_LR, "test_zero_lr", grade=True, locked=True, points=1),
    ]
    return nb


# Demo specs of this assignment's common mistakes (see autograder/demo): which solution text to change,
# which test cells it must lose and which hint its feedback must carry.
MISTAKES = [
    {
        "student": "mistake_sign",
        "mistake": "moves uphill (adds lr * grad)",
        "edits": [{"cell": "descent_step", "replace": ["- lr * np.asarray", "+ lr * np.asarray"]}],
        "loses": ["test_descent_step", "test_run_descent"],
        "hint": SIGN_HINT,
    },
    {
        "student": "mistake_off_by_one",
        "mistake": "one step too many",
        "edits": [{"cell": "run_descent", "replace": ["range(steps)", "range(steps + 1)"]}],
        "loses": ["test_run_descent"],
        "hint": OFF_BY_ONE_HINT,
    },
]


def write_fixture(folder: Path) -> dict:
    """Write the toy master notebook and its golden file under ``folder``; return their paths."""
    source = folder / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(), source / f"{ASSIGNMENT}.ipynb")
    golden = folder / "golden"
    write(ASSIGNMENT, golden_checks(), folder=golden)
    return {"source": folder / "source", "golden": golden, "assignment": ASSIGNMENT}


def ensure_state_env() -> None:
    """Jupyter, IPython and matplotlib state under .state/, as the Makefile exports (for direct pytest runs)."""
    import os
    import sys

    state = Path(__file__).resolve().parents[1] / ".state"
    for key, sub in (("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")):
        os.environ.setdefault(key, str(state / sub))
    os.environ.setdefault("MPLBACKEND", "Agg")
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


TOY_SPECS = [
    {"student": "correct"},
    {"student": "partial", "solve": "first"},
    {"student": "nothing", "solve": "none"},
    {"student": "kills_kernel", "solve": "first",
     "insert_after": [{"cell": "@last_solution", "source": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}]},
    {"student": "deletes_tests", "delete": ["@every_test"]},
] + MISTAKES


def toy_course(folder: Path, db_url: str = "", specs: list[dict] | None = None):
    """A course folder on the toy assignment with its submissions collected (not graded)."""
    from autograder.demo import build_demo

    fixture = write_fixture(folder / "instructor")
    demo = build_demo(folder / "course", source=fixture["source"], golden=fixture["golden"], db_url=db_url,
                 assignments=[ASSIGNMENT], specs={ASSIGNMENT: specs or TOY_SPECS})
    return demo.course
