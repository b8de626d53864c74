"""Golden expectations for Chapter 1 (gradient descent).

Expected values: ``torch.optim.SGD`` with a plain ``lr`` (no momentum, no weight decay) on the
same problems, built through :data:`tools.golden.torch_backend.TORCH`, and closed forms
(``numpy.linalg.eigvalsh``) for the step-size analysis. Variants: the same problems run
through the reference solution with one of the chapter's common mistakes made
(:mod:`autograder.mistakes.ch1_gradient_descent`), each with that mistake's hint, which names
the misconception and the fix.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, Iterable

import numpy as np
import torch

from autograder.mistakes.ch1_gradient_descent import CATALOGUE, HINT_REBIND, HINT_REJECT, HINT_ZERO_LATE
from autograder.problems import gradient_descent as problems
from autograder.problems.trajectories import trajectory

from .store import spec
from .torch_backend import TORCH

ASSIGNMENT = "ch1_gradient_descent"
FLOAT32_RTOL = 1e-6


def name(check: str) -> str:
    return f"{ASSIGNMENT}.{check}"


# ------------------------------------------------------------------------------ torch references
def torch_step(initial: Any, gradient: Any, lr: float) -> dict[str, Any]:
    """One ``torch.optim.SGD`` step; returns ``{"dtype", "value"}`` in the input's dtype."""
    initial = np.asarray(initial, dtype=np.float64) if not isinstance(initial, np.ndarray) else initial
    parameter = torch.nn.Parameter(torch.from_numpy(np.array(initial, copy=True)))
    if gradient is not None:
        parameter.grad = torch.from_numpy(np.array(gradient, dtype=initial.dtype))
    torch.optim.SGD([parameter], lr=lr).step()
    value = parameter.detach().numpy().copy()
    return {"dtype": value.dtype.name, "value": value}


def torch_descent(loss_fn: Callable[[Any], Any], initial: Any, lr: float, steps: int, stale: Any = None) -> np.ndarray:
    """The positions of ``torch.optim.SGD(lr=lr)`` before and after each of ``steps`` steps."""
    parameter = TORCH.parameter(np.asarray(initial, dtype=np.float64))
    if stale is not None:
        parameter.grad = torch.tensor(np.asarray(stale, dtype=np.float64))
    optimizer = torch.optim.SGD([parameter], lr=lr)
    path = [TORCH.values(parameter)]
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(parameter).backward()
        optimizer.step()
        path.append(TORCH.values(parameter))
    return np.stack(path)


def closed_form_analysis(hessian: np.ndarray) -> dict[str, Any]:
    eigenvalues = np.linalg.eigvalsh(hessian)
    mu, big_l = float(eigenvalues[0]), float(eigenvalues[-1])
    kappa = big_l / mu
    return {"stable": (0.0, 2.0 / big_l), "optimal": 2.0 / (mu + big_l), "rate": (kappa - 1.0) / (kappa + 1.0)}


# ------------------------------------------------------------------------------ the mistakes
def wrong(mistake: str, function: str) -> Callable[..., Any]:
    """The solution's ``function`` as written by a student who made ``mistake`` (autograder.mistakes)."""
    return CATALOGUE.solution(mistake)[function]


def mistake_variants(function: str, mistakes: Iterable[str], run: Callable[[Callable[..., Any]], Any]) -> list[tuple[str, Any]]:
    """``(hint, what run records)`` for ``function`` with each of ``mistakes`` made."""
    return [(CATALOGUE[m].hint, run(wrong(m, function))) for m in mistakes]


STEP_MISTAKES = ("no_skip",)
IN_PLACE_MISTAKES = ("rebinds_data",)
LOOP_MISTAKES = ("no_zero_grad", "no_copy", "no_start")
ANALYSIS_MISTAKES = {  # which entry of the result each wrong formula spoils
    "stable": ("two_over_mu", "one_over_l"),
    "optimal": ("half_optimal_step",),
    "rate": ("rate_at_one_over_l", "inverted_kappa"),
}


# ------------------------------------------------------------------------------------- hints
# The general hints; each mistake's targeted hint is its own (the catalogue's).
HINT_STEP = "one step is theta <- theta - learning_rate * grad, entry by entry, in the parameter's own dtype."
HINT_DTYPE = (
    "the parameter's dtype changed. Updating in place (`parameter.data -= ...`) keeps float32 "
    "parameters float32; building a new float64 array does not."
)
HINT_LOOP = (
    "each step: parameter.grad = None; loss = loss_fn(parameter); loss.backward(); "
    "gradient_descent_step(parameter, learning_rate); record a copy of parameter.data."
)
HINT_ANALYSIS = (
    "with mu and L the smallest and largest eigenvalues (numpy.linalg.eigvalsh sorts them), "
    "stable = (0.0, 2/L), optimal = 2/(mu + L), rate = (kappa - 1)/(kappa + 1) with kappa = L/mu."
)


# ------------------------------------------------------------------------------------- record
def _step_variants(run: Callable[[Callable[..., Any]], Any], mistakes: Iterable[str] = STEP_MISTAKES) -> list[tuple[str, Any]]:
    return mistake_variants("gradient_descent_step", mistakes, run)


def _step_checks() -> dict[str, dict]:
    checks = {}
    visible_vector = ([1.0, -2.0], [0.5, 0.5], 0.1)
    visible_missing = ([1.0, 2.0], None, 0.1)
    checks["step_vector"] = spec(torch_step(*visible_vector)["value"], hint=HINT_STEP)
    checks["step_skips_missing_grad"] = spec(
        torch_step(*visible_missing)["value"],
        hint="a parameter whose grad is None must be left unchanged.",
        variants=_step_variants(lambda step: problems.step_once(step, *visible_missing)),
    )
    visible_alias = ([1.0, -2.0], [0.5, 0.5], 0.1)
    checks["step_in_place"] = spec(
        {"same_array": True, "alias_sees_update": True},
        hint=HINT_REBIND,
        variants=_step_variants(lambda step: problems.step_in_place(step, *visible_alias), IN_PLACE_MISTAKES),
    )
    cases = problems.hidden_step_cases()
    checks["step_scalar"] = spec(torch_step(*cases["scalar"])["value"], hint=HINT_STEP)
    checks["step_matrix"] = spec(torch_step(*cases["matrix"])["value"], hint=HINT_STEP)
    checks["step_float32"] = spec(torch_step(*cases["float32"]), rtol=FLOAT32_RTOL, atol=1e-7, hint=HINT_DTYPE)
    checks["step_skips_missing_grad_matrix"] = spec(
        torch_step(*cases["missing_grad_matrix"])["value"],
        hint="a parameter whose grad is None must be left unchanged.",
        variants=_step_variants(lambda step: problems.step_once(step, *cases["missing_grad_matrix"])),
    )
    checks["step_in_place_cases"] = spec(
        {key: {"same_array": True, "alias_sees_update": True} for key in problems.alias_cases()},
        hint=HINT_REBIND,
        variants=_step_variants(
            lambda step: {key: problems.step_in_place(step, *case) for key, case in problems.alias_cases().items()},
            IN_PLACE_MISTAKES,
        ),
    )
    checks["step_trajectory"] = spec(
        trajectory(
            lambda ps: torch.optim.SGD(ps, lr=problems.STEP_TRAJECTORY_LR), problems.STEP_TRAJECTORY_STEPS, backend=TORCH
        ),
        hint="on a problem with four parameters (one of which never gets a gradient), " + HINT_STEP,
        variants=_step_variants(problems.step_trajectory),
    )
    return checks


def _loop_variants(run: Callable[[Callable[..., Any]], Any], mistakes: Iterable[str] = LOOP_MISTAKES) -> list[tuple[str, Any]]:
    return mistake_variants("gradient_descent", mistakes, run)


def _loop_checks() -> dict[str, dict]:
    checks = {}
    valley_torch = problems.valley_loss(TORCH)
    for check, lr, steps in (("descent_valley_visible", 0.1, 3), ("descent_valley_diverging_visible", 0.6, 3)):
        checks[check] = spec(
            torch_descent(valley_torch, problems.VALLEY_START, lr, steps),
            hint=HINT_LOOP,
            variants=_loop_variants(lambda wrong, lr=lr, steps=steps: problems.valley_path(wrong, lr, steps)),
        )
    checks["descent_valley"] = spec(
        {
            label: torch_descent(valley_torch, problems.VALLEY_START, lr, problems.VALLEY_ITERATIONS)
            for label, lr in problems.VALLEY_STEPS.items()
        },
        rtol=1e-9,
        hint=HINT_LOOP,
        variants=_loop_variants(problems.valley_paths),
    )
    steps = 10
    optimal = np.tile([19 / 21, -19 / 21], (steps, 1))  # closed form: 1 - alpha*lambda at alpha = 2/4.2
    checks["descent_optimal_ratios"] = spec(
        optimal,
        rtol=1e-9,
        hint="at alpha = 2/(mu + L) both directions shrink by (kappa - 1)/(kappa + 1) = 19/21 per step, "
        "the steep one flipping sign. " + HINT_LOOP,
        variants=_loop_variants(
            lambda wrong: problems.contraction_ratios(problems.valley_path(wrong, problems.OPTIMAL_VALLEY_STEP, steps))
        ),
    )
    diverging = np.tile([1 - 0.6 * 0.2, 1 - 0.6 * 4.0], (steps, 1))  # 0.88 and -1.4
    checks["descent_diverging_ratios"] = spec(
        diverging,
        rtol=1e-9,
        hint="at alpha = 0.6 the factors are 1 - 0.6*0.2 = 0.88 and 1 - 0.6*4 = -1.4. " + HINT_LOOP,
        variants=_loop_variants(lambda wrong: problems.contraction_ratios(problems.valley_path(wrong, 0.6, steps))),
    )
    matrix, start, lr, n = problems.spd_problem()
    checks["descent_random_spd"] = spec(
        torch_descent(problems.quadratic_loss(matrix, TORCH), start, lr, n),
        hint=HINT_LOOP,
        variants=_loop_variants(problems.spd_path),
    )
    x, y, w0, lr, n = problems.least_squares_problem()
    checks["descent_matrix_parameter"] = spec(
        torch_descent(problems.least_squares_loss(x, y, TORCH), w0, lr, n),
        hint="for a matrix parameter the path has shape (steps + 1, rows, columns). " + HINT_LOOP,
        variants=_loop_variants(problems.least_squares_path),
    )
    checks["descent_stale_gradient"] = spec(
        torch_descent(valley_torch, problems.VALLEY_START, 0.1, problems.STALE_STEPS, stale=problems.STALE_GRADIENT),
        hint=HINT_ZERO_LATE,
        variants=_loop_variants(problems.stale_gradient_path, (*LOOP_MISTAKES, "zero_after_step")),
    )
    return checks


def _analysis_variants(run: Callable[[Callable[..., Any]], Any], mistakes: Iterable[str]) -> list[tuple[str, Any]]:
    return mistake_variants("step_size_analysis", mistakes, run)


def _analysis_checks() -> dict[str, dict]:
    checks = {}
    valley = problems.VALLEY_EIGENVALUES
    mu, big_l = valley
    kappa = big_l / mu
    closed = {"stable": (0.0, 2 / big_l), "optimal": 2 / (mu + big_l), "rate": (kappa - 1) / (kappa + 1)}
    hessian = np.diag(valley)
    eigen = closed_form_analysis(hessian)
    assert all(np.allclose(eigen[key], closed[key], rtol=1e-15, atol=0) for key in closed), "closed forms disagree"
    for key in problems.ANALYSIS_KEYS:
        checks[f"analysis_valley_{key}"] = spec(
            closed[key],
            hint=HINT_ANALYSIS,
            variants=_analysis_variants(lambda analyse, key=key: problems.analysis_report(analyse, hessian)[key],
                                        ANALYSIS_MISTAKES[key]),
        )
    cases = problems.analysis_cases()
    checks["analysis_cases"] = spec(
        {case: closed_form_analysis(matrix) for case, matrix in cases.items()},
        rtol=1e-9,
        hint=HINT_ANALYSIS,
        variants=_analysis_variants(
            lambda analyse: {case: problems.analysis_report(analyse, matrix) for case, matrix in cases.items()},
            [m for mistakes in ANALYSIS_MISTAKES.values() for m in mistakes],
        ),
    )
    checks["analysis_rejects"] = spec(
        {case: problems.ERROR_PREFIX + "ValueError" for case in problems.rejection_cases()},
        hint=HINT_REJECT,
    )
    return checks


def record() -> dict[str, dict]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (every tensor here is float64 explicitly anyway)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the wrong variants' crashes print; not wanted here
            checks = {**_step_checks(), **_loop_checks(), **_analysis_checks()}
    finally:
        torch.set_default_dtype(previous)
    return {name(check): value for check, value in checks.items()}
