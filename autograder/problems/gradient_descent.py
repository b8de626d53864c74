"""Chapter 1's problems: one gradient-descent step, the descent loop, the step-size analysis.

Each function runs a student's function on fixed inputs and returns plain data for
:func:`autograder.checks.check`: arrays, numbers, bools, or a string ``"error: <Name>"`` when
the student's code raised (so that a crash is *recorded* and the judge can recognise a known
mistake by it, e.g. ``"error: TypeError"`` from stepping a parameter whose grad is ``None``).
``NotImplementedError`` is never caught: an unfinished stub fails its cells as a stub.

The loss functions are written once against :mod:`autograder.problems.backends`, so
``tools/golden`` can build the very same problems on PyTorch and record ``torch.optim.SGD``'s
answers. The inputs are not secret; the expected outputs are.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from slopegrad.nn import Parameter
from slopegrad.optim import Optimizer

from .student_code import ERROR_PREFIX, Raised as _Raised, attempt as _call
from .backends import SLOPEGRAD, Backend
from .trajectories import trajectory


# ---------------------------------------------------------------------------------------- inputs
VALLEY_START = (-5.0, -2.0)  # the same start as courseplots.VALLEY_START
VALLEY_HALF_DIAGONAL = (0.1, 2.0)  # f(x1, x2) = 0.1 x1^2 + 2 x2^2
VALLEY_EIGENVALUES = (0.2, 4.0)
OPTIMAL_VALLEY_STEP = 2.0 / (0.2 + 4.0)  # 2/(mu + L) = 0.47619...

# Step sizes drawn in the chapter: a slow crawl, the optimum, a zig-zag, a divergence.
VALLEY_STEPS = {"alpha=0.1": 0.1, "alpha=2/(mu+L)": OPTIMAL_VALLEY_STEP, "alpha=0.49": 0.49, "alpha=0.6": 0.6}
VALLEY_ITERATIONS = 30


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def hidden_step_cases() -> dict[str, tuple[np.ndarray, np.ndarray | None, float]]:
    """``name -> (initial value, gradient or None, learning rate)`` for single steps."""
    rng = _rng(101)
    return {
        "scalar": (np.array(1.5), np.array(-0.25), 0.2),
        "matrix": (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.05),
        "float32": (rng.normal(size=(4,)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32), 0.3),
        "missing_grad_matrix": (rng.normal(size=(2, 3)), None, 0.05),
    }


def alias_cases() -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    rng = _rng(202)
    return {
        "scalar": (np.array(-0.75), np.array(2.0), 0.1),
        "matrix": (rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), 0.2),
    }


STEP_TRAJECTORY_LR = 0.1
STEP_TRAJECTORY_STEPS = 60


def random_spd(n: int = 5, seed: int = 303) -> np.ndarray:
    """A symmetric positive-definite matrix with eigenvalues spread over [0.5, 10]."""
    rng = _rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = np.sort(rng.uniform(0.5, 10.0, size=n))
    eigenvalues[0], eigenvalues[-1] = 0.5, 10.0
    matrix = (q * eigenvalues) @ q.T
    return (matrix + matrix.T) / 2


def spd_problem() -> tuple[np.ndarray, np.ndarray, float, int]:
    """``(A, start, learning rate, steps)`` for gradient descent on ``x^T A x / 2``."""
    return random_spd(), _rng(304).normal(size=5), 0.15, 40


def least_squares_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """``(X, Y, W0, learning rate, steps)`` for ``0.5 * mean((X @ W - Y)^2)`` over a (3, 2) matrix W."""
    rng = _rng(405)
    x, y, w0 = rng.normal(size=(8, 3)), rng.normal(size=(8, 2)), rng.normal(size=(3, 2))
    return x, y, w0, 0.3, 25


STALE_GRADIENT = (100.0, -100.0)  # junk left in .grad before the loop starts
STALE_STEPS = 5


# ----------------------------------------------------------------------------------- losses
def valley_loss(backend: Backend = SLOPEGRAD) -> Callable[[Any], Any]:
    """``f(x) = 0.1 x1^2 + 2 x2^2`` on a parameter of shape (2,)."""
    half = backend.constant(np.array(VALLEY_HALF_DIAGONAL))
    return lambda x: (half * x * x).sum()


def quadratic_loss(matrix: np.ndarray, backend: Backend = SLOPEGRAD) -> Callable[[Any], Any]:
    """``f(x) = x^T A x / 2`` on a vector parameter."""
    a = backend.constant(matrix)
    return lambda x: (x * (a @ x)).sum() * 0.5


def least_squares_loss(x: np.ndarray, y: np.ndarray, backend: Backend = SLOPEGRAD) -> Callable[[Any], Any]:
    """``0.5 * mean((X @ W - Y)^2)`` on a matrix parameter W."""
    xs, ys = backend.constant(x), backend.constant(y)
    return lambda w: ((xs @ w - ys) * (xs @ w - ys)).mean() * 0.5


# ------------------------------------------------------------------------ running student code
def _parameter(initial: Any, gradient: Any) -> Parameter:
    """A fresh parameter (lists become float64, arrays keep their dtype) with the given grad."""
    parameter = Parameter(initial if isinstance(initial, np.ndarray) else np.array(initial, dtype=np.float64))
    parameter.grad = None if gradient is None else np.array(gradient, dtype=parameter.data.dtype)
    return parameter


# ------------------------------------------------------------------------------ one step
def step_once(step: Callable[[Any, float], Any], initial: Any, gradient: Any, learning_rate: float) -> Any:
    """The parameter's value after ``step(parameter, learning_rate)`` (or ``"error: ..."``)."""
    parameter = _parameter(initial, gradient)
    outcome = _call(step, parameter, learning_rate)
    if isinstance(outcome, _Raised):
        return outcome.record
    return np.array(parameter.data, copy=True)


def step_with_dtype(step: Callable[[Any, float], Any], initial: Any, gradient: Any, learning_rate: float) -> Any:
    """``{"dtype": name, "value": array}`` after one step (or ``"error: ..."``)."""
    parameter = _parameter(initial, gradient)
    outcome = _call(step, parameter, learning_rate)
    if isinstance(outcome, _Raised):
        return outcome.record
    return {"dtype": np.asarray(parameter.data).dtype.name, "value": np.array(parameter.data, copy=True)}


def step_in_place(step: Callable[[Any, float], Any], initial: Any, gradient: Any, learning_rate: float) -> Any:
    """Does ``step`` update the parameter's existing array?

    Returns ``{"same_array": parameter.data is still the array it was before,
    "alias_sees_update": an alias the caller took beforehand now holds the parameter's
    new, changed values}`` (or ``"error: ..."``).
    """
    parameter = _parameter(initial, gradient)
    alias = parameter.data
    before = np.array(alias, copy=True)
    outcome = _call(step, parameter, learning_rate)
    if isinstance(outcome, _Raised):
        return outcome.record
    now = np.asarray(parameter.data)
    return {
        "same_array": parameter.data is alias,
        "alias_sees_update": bool(
            alias.shape == now.shape and np.array_equal(alias, now) and not np.array_equal(alias, before)
        ),
    }


class StepOptimizer(Optimizer):
    """An optimizer whose ``step()`` calls ``step_function(parameter, lr)`` on every parameter."""

    def __init__(self, params: Any, step_function: Callable[[Any, float], Any], lr: float) -> None:
        super().__init__(params, {"lr": lr})
        self.step_function = step_function

    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for parameter in group["params"]:
                self.step_function(parameter, group["lr"])


def step_trajectory(
    step: Callable[[Any, float], Any], learning_rate: float = STEP_TRAJECTORY_LR, steps: int = STEP_TRAJECTORY_STEPS
) -> Any:
    """The four-parameter problem of :mod:`.trajectories` driven by ``step`` (or ``"error: ..."``).

    Its last parameter never receives a gradient (its grad stays ``None``).
    """
    outcome = _call(lambda: trajectory(lambda ps: StepOptimizer(ps, step, learning_rate), steps))
    return outcome.record if isinstance(outcome, _Raised) else outcome


# ------------------------------------------------------------------------------ the loop
def descent_path(
    descend: Callable[..., Any],
    loss_fn: Callable[[Any], Any],
    initial: Any,
    learning_rate: float,
    steps: int,
    stale_gradient: Any = None,
) -> Any:
    """``descend(loss_fn, parameter, learning_rate, steps)`` as a float64 array (or ``"error: ..."``)."""
    parameter = _parameter(initial, stale_gradient)
    outcome = _call(descend, loss_fn, parameter, learning_rate, steps)
    if isinstance(outcome, _Raised):
        return outcome.record
    try:
        return np.array(outcome, dtype=np.float64)
    except (TypeError, ValueError):
        print(f"the function returned {type(outcome).__name__}, which is not an array of positions")
        return ERROR_PREFIX + "not an array"


def valley_path(descend: Callable[..., Any], learning_rate: float, steps: int = VALLEY_ITERATIONS) -> Any:
    """The path on the valley from ``VALLEY_START``: shape ``(steps + 1, 2)``."""
    return descent_path(descend, valley_loss(), VALLEY_START, learning_rate, steps)


def valley_paths(descend: Callable[..., Any], steps: int = VALLEY_ITERATIONS) -> dict[str, Any]:
    """``{label: path}`` for every step size of :data:`VALLEY_STEPS`."""
    return {label: valley_path(descend, lr, steps) for label, lr in VALLEY_STEPS.items()}


def contraction_ratios(path: Any) -> Any:
    """``path[k+1] / path[k]`` entry by entry: per eigen-direction, the factor ``1 - alpha*lambda``."""
    if isinstance(path, str):
        return path
    path = np.asarray(path, dtype=np.float64)
    if path.ndim < 1 or len(path) < 2:
        return ERROR_PREFIX + "too short a path"
    with np.errstate(divide="ignore", invalid="ignore"):
        return path[1:] / path[:-1]


def spd_path(descend: Callable[..., Any]) -> Any:
    matrix, start, lr, steps = spd_problem()
    return descent_path(descend, quadratic_loss(matrix), start, lr, steps)


def least_squares_path(descend: Callable[..., Any]) -> Any:
    x, y, w0, lr, steps = least_squares_problem()
    return descent_path(descend, least_squares_loss(x, y), w0, lr, steps)


def stale_gradient_path(descend: Callable[..., Any]) -> Any:
    """The valley path at alpha = 0.1 when junk was left in ``.grad`` before the call."""
    return descent_path(descend, valley_loss(), VALLEY_START, 0.1, STALE_STEPS, stale_gradient=STALE_GRADIENT)


# --------------------------------------------------------------------------- step-size analysis
ANALYSIS_KEYS = ("stable", "optimal", "rate")


def _plain(value: Any) -> Any:
    """A number or a tuple of numbers (complex with zero imaginary part accepted as real)."""
    try:
        array = np.asarray(value)
        if array.dtype.kind == "c" and not np.any(array.imag):
            array = array.real
        array = array.astype(np.float64)
    except (TypeError, ValueError):
        return ERROR_PREFIX + f"not a number ({type(value).__name__})"
    return float(array) if array.ndim == 0 else tuple(float(v) for v in array.ravel())


def analysis_report(analyse: Callable[[np.ndarray], Any], hessian: Any) -> dict[str, Any]:
    """``{"stable": (low, high), "optimal": alpha, "rate": r}`` from ``analyse(hessian)``.

    Always a dict with these three keys, so that a test cell can check each one: an entry
    is ``"error: ..."`` if the call raised, ``"missing"`` if the result lacked that key.
    """
    outcome = _call(analyse, np.array(hessian, dtype=np.float64))
    if isinstance(outcome, _Raised):
        return {key: outcome.record for key in ANALYSIS_KEYS}
    if not isinstance(outcome, dict):
        print(f"step_size_analysis returned {type(outcome).__name__}, not a dict")
        return {key: ERROR_PREFIX + "not a dict" for key in ANALYSIS_KEYS}
    return {key: _plain(outcome[key]) if key in outcome else "missing" for key in ANALYSIS_KEYS}


def analysis_cases() -> dict[str, np.ndarray]:
    """Symmetric positive-definite Hessians beyond the valley."""
    return {
        "rotated": np.array([[2.0, 1.0], [1.0, 2.0]]),  # eigenvalues 1 and 3
        "one_by_one": np.array([[5.0]]),  # kappa = 1: one step reaches the minimum
        "random": random_spd(4, seed=506),
    }


def rejection_cases() -> dict[str, Any]:
    """Matrices ``step_size_analysis`` must refuse with a ValueError."""
    return {
        "not_symmetric": np.array([[1.0, 2.0], [0.0, 3.0]]),  # real, positive eigenvalues, yet not symmetric
        "indefinite": np.array([[1.0, 2.0], [2.0, 1.0]]),  # eigenvalues -1 and 3
        "singular": np.diag([0.0, 3.0]),  # positive semi-definite only
        "not_square": np.ones((2, 3)),
    }


def rejection_report(analyse: Callable[[np.ndarray], Any]) -> dict[str, str]:
    """For each matrix of :func:`rejection_cases`: ``"error: ValueError"`` if it was refused
    with a ValueError (or a subclass), else what happened instead."""
    report = {}
    for name, matrix in rejection_cases().items():
        try:
            analyse(np.array(matrix, copy=True))
        except NotImplementedError:
            raise
        except ValueError as error:
            print(f"{name}: refused with {type(error).__name__}: {error}")
            report[name] = ERROR_PREFIX + "ValueError"
        except Exception as error:  # noqa: BLE001 - recorded, then judged
            print(f"{name}: raised {type(error).__name__}: {error} (a ValueError was expected)")
            report[name] = ERROR_PREFIX + type(error).__name__
        else:
            print(f"{name}: returned a result (a ValueError was expected)")
            report[name] = "no error"
    return report
