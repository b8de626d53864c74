"""Golden expectations for Chapter 1 (gradient descent).

Expected values: ``torch.optim.SGD`` with a plain ``lr`` (no momentum, no weight decay) on the
same problems, built through :data:`tools.golden.torch_backend.TORCH`, and closed forms
(``numpy.linalg.eigvalsh``) for the step-size analysis. Variants: the same problems run
through the reference solution with one of the chapter's common mistakes made
(:mod:`autograder.mistakes.ch1_gradient_descent`), each with that mistake's hint, which names
the misconception and the fix.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from autograder.mistakes.ch1_gradient_descent import CATALOGUE, HINT_REBIND, HINT_REJECT, HINT_ZERO_LATE
from autograder.problems import gradient_descent as problems
from autograder.problems.trajectories import trajectory

from .table import NOBODY, Check, named, record as record_table
from .torch_backend import TORCH

ASSIGNMENT = "ch1_gradient_descent"
FLOAT32_RTOL = 1e-6


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


# ------------------------------------------------------------------------------ the checks
STEP_MISTAKES = named("no_skip")
IN_PLACE_MISTAKES = named("rebinds_data")
LOOP_MISTAKES = ("no_zero_grad", "no_copy", "no_start")
ANALYSIS_MISTAKES = {  # which entry of the result each wrong formula spoils
    "stable": ("two_over_mu", "one_over_l"),
    "optimal": ("half_optimal_step",),
    "rate": ("rate_at_one_over_l", "inverted_kappa"),
}


def step(run: Callable[[Callable[..., Any]], Any]) -> Callable[[dict], Any]:
    """What a step test computes from a solution: ``run`` on its ``gradient_descent_step``."""
    return lambda solution: run(solution["gradient_descent_step"])


def descent(run: Callable[[Callable[..., Any]], Any]) -> Callable[[dict], Any]:
    return lambda solution: run(solution["gradient_descent"])


def analysis(run: Callable[[Callable[..., Any]], Any]) -> Callable[[dict], Any]:
    return lambda solution: run(solution["step_size_analysis"])


def _step_checks() -> list[Check]:
    visible_vector = ([1.0, -2.0], [0.5, 0.5], 0.1)
    visible_missing = ([1.0, 2.0], None, 0.1)
    visible_alias = ([1.0, -2.0], [0.5, 0.5], 0.1)
    cases = problems.hidden_step_cases()
    missing = "a parameter whose grad is None must be left unchanged."
    return [
        Check("step_vector", step(lambda f: problems.step_once(f, *visible_vector)),
              lambda: torch_step(*visible_vector)["value"], HINT_STEP, NOBODY),
        Check("step_skips_missing_grad", step(lambda f: problems.step_once(f, *visible_missing)),
              lambda: torch_step(*visible_missing)["value"], missing, STEP_MISTAKES),
        Check("step_in_place", step(lambda f: problems.step_in_place(f, *visible_alias)),
              lambda: {"same_array": True, "alias_sees_update": True}, HINT_REBIND, IN_PLACE_MISTAKES),
        Check("step_scalar", step(lambda f: problems.step_once(f, *cases["scalar"])),
              lambda: torch_step(*cases["scalar"])["value"], HINT_STEP, NOBODY),
        Check("step_matrix", step(lambda f: problems.step_once(f, *cases["matrix"])),
              lambda: torch_step(*cases["matrix"])["value"], HINT_STEP, NOBODY),
        Check("step_float32", step(lambda f: problems.step_once(f, *cases["float32"])),
              lambda: torch_step(*cases["float32"]), HINT_DTYPE, NOBODY, rtol=FLOAT32_RTOL, atol=1e-7),
        Check("step_skips_missing_grad_matrix", step(lambda f: problems.step_once(f, *cases["missing_grad_matrix"])),
              lambda: torch_step(*cases["missing_grad_matrix"])["value"], missing, STEP_MISTAKES),
        Check("step_in_place_cases",
              step(lambda f: {key: problems.step_in_place(f, *case) for key, case in problems.alias_cases().items()}),
              lambda: {key: {"same_array": True, "alias_sees_update": True} for key in problems.alias_cases()},
              HINT_REBIND, IN_PLACE_MISTAKES),
        Check("step_trajectory", step(problems.step_trajectory),
              lambda: trajectory(lambda ps: torch.optim.SGD(ps, lr=problems.STEP_TRAJECTORY_LR),
                                 problems.STEP_TRAJECTORY_STEPS, backend=TORCH),
              "on a problem with four parameters (one of which never gets a gradient), " + HINT_STEP, STEP_MISTAKES),
    ]


def _loop_checks() -> list[Check]:
    valley = problems.valley_loss(TORCH)
    loop = named(*LOOP_MISTAKES)
    steps = 10
    matrix, start, spd_lr, spd_steps = problems.spd_problem()
    x, y, w0, ls_lr, ls_steps = problems.least_squares_problem()
    return [
        *(Check(check, descent(lambda f, lr=lr: problems.valley_path(f, lr, 3)),
                lambda lr=lr: torch_descent(valley, problems.VALLEY_START, lr, 3), HINT_LOOP, loop)
          for check, lr in (("descent_valley_visible", 0.1), ("descent_valley_diverging_visible", 0.6))),
        Check("descent_valley", descent(problems.valley_paths),
              lambda: {label: torch_descent(valley, problems.VALLEY_START, lr, problems.VALLEY_ITERATIONS)
                       for label, lr in problems.VALLEY_STEPS.items()}, HINT_LOOP, loop, rtol=1e-9),
        Check("descent_optimal_ratios",
              descent(lambda f: problems.contraction_ratios(problems.valley_path(f, problems.OPTIMAL_VALLEY_STEP, steps))),
              lambda: np.tile([19 / 21, -19 / 21], (steps, 1)),  # closed form: 1 - alpha*lambda at alpha = 2/4.2
              "at alpha = 2/(mu + L) both directions shrink by (kappa - 1)/(kappa + 1) = 19/21 per step, "
              "the steep one flipping sign. " + HINT_LOOP, loop, rtol=1e-9),
        Check("descent_diverging_ratios", descent(lambda f: problems.contraction_ratios(problems.valley_path(f, 0.6, steps))),
              lambda: np.tile([1 - 0.6 * 0.2, 1 - 0.6 * 4.0], (steps, 1)),  # 0.88 and -1.4
              "at alpha = 0.6 the factors are 1 - 0.6*0.2 = 0.88 and 1 - 0.6*4 = -1.4. " + HINT_LOOP, loop, rtol=1e-9),
        Check("descent_random_spd", descent(problems.spd_path),
              lambda: torch_descent(problems.quadratic_loss(matrix, TORCH), start, spd_lr, spd_steps), HINT_LOOP, loop),
        Check("descent_matrix_parameter", descent(problems.least_squares_path),
              lambda: torch_descent(problems.least_squares_loss(x, y, TORCH), w0, ls_lr, ls_steps),
              "for a matrix parameter the path has shape (steps + 1, rows, columns). " + HINT_LOOP, loop),
        Check("descent_stale_gradient", descent(problems.stale_gradient_path),
              lambda: torch_descent(valley, problems.VALLEY_START, 0.1, problems.STALE_STEPS, stale=problems.STALE_GRADIENT),
              HINT_ZERO_LATE, named(*LOOP_MISTAKES, "zero_after_step")),
    ]


def _analysis_checks() -> list[Check]:
    mu, big_l = problems.VALLEY_EIGENVALUES
    kappa = big_l / mu
    closed = {"stable": (0.0, 2 / big_l), "optimal": 2 / (mu + big_l), "rate": (kappa - 1) / (kappa + 1)}
    hessian = np.diag(problems.VALLEY_EIGENVALUES)
    eigen = closed_form_analysis(hessian)
    assert all(np.allclose(eigen[key], closed[key], rtol=1e-15, atol=0) for key in closed), "closed forms disagree"
    cases = problems.analysis_cases()
    return [
        *(Check(f"analysis_valley_{key}", analysis(lambda f, key=key: problems.analysis_report(f, hessian)[key]),
                lambda key=key: closed[key], HINT_ANALYSIS, named(*ANALYSIS_MISTAKES[key]))
          for key in problems.ANALYSIS_KEYS),
        Check("analysis_cases", analysis(lambda f: {case: problems.analysis_report(f, m) for case, m in cases.items()}),
              lambda: {case: closed_form_analysis(m) for case, m in cases.items()}, HINT_ANALYSIS,
              named(*(m for mistakes in ANALYSIS_MISTAKES.values() for m in mistakes)), rtol=1e-9),
        Check("analysis_rejects", analysis(problems.rejection_report),
              lambda: {case: problems.ERROR_PREFIX + "ValueError" for case in problems.rejection_cases()},
              HINT_REJECT, NOBODY),
    ]


def record() -> dict[str, dict]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (every tensor here is float64 explicitly anyway)
    try:
        return record_table(CATALOGUE, [*_step_checks(), *_loop_checks(), *_analysis_checks()])
    finally:
        torch.set_default_dtype(previous)
