"""Golden expectations for Chapter 2 (momentum), recorded from ``torch.optim.SGD`` and closed forms.

Every check of ``source/ch2_momentum/momentum.ipynb`` is a row of :data:`CHECKS` (a
:class:`tools.golden.table.Check`): the problem its test cell runs (from
:mod:`autograder.problems.momentum`), the right value and the general hint. The right value of an
``SGD`` check is the same problem run through ``torch.optim.SGD``
(:data:`tools.golden.torch_backend.TORCH`); the optimal-momentum numbers are closed forms. The
variants are the same problem run through the reference solution with each of the chapter's
common mistakes made (:mod:`autograder.mistakes.ch2_momentum`), so a failing check can name the
mistake, and each variant is exactly what a student who made it records.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from autograder.mistakes.ch2_momentum import CATALOGUE, HINT_IN_PLACE, HINT_MISSING_GRAD
from autograder.problems import momentum as problems
from autograder.problems.backends import SLOPEGRAD

from . import table
from .table import Check, Choice, Namespace, but, made_in
from .torch_backend import TORCH

ASSIGNMENT = "ch2_momentum"

# ---- general hints: a failing check whose value no mistake explains ----------------------------

OPTIMAL_HINT = (
    "Polyak's optimal heavy ball: alpha = (2/(sqrt(L) + sqrt(mu)))**2, "
    "beta = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))**2 with kappa = L/mu, rate = sqrt(beta); "
    "given a Hessian, mu and L are its smallest and largest eigenvalues (np.linalg.eigvalsh)."
)
SGD_HINT = (
    "Your trajectory differs from torch.optim.SGD. Skip parameters whose grad is None; for the others: "
    "g = grad + weight_decay*theta; "
    "with momentum, the buffer is a copy of g on the first step, then b = momentum*b + (1 - dampening)*g; "
    "g = g + momentum*b if nesterov else b; theta -= lr*g in place. Read lr and the options from the group. "
    "If only p0 (the 0-d parameter) goes wrong: arithmetic on 0-d arrays returns NumPy scalars, and an in-place "
    "update (b *= momentum) of a buffer that is a scalar never reaches self.state; create the buffer with "
    "np.array(g, copy=True)."
)
STATE_HINT = (
    "Optimizer state lives in self.state[p] (p the parameter object): exactly one entry, 'momentum_buffer', "
    "for each parameter that received a gradient, and no state at all when momentum = 0."
)
BUFFER_HINT = (
    "Expected exactly one momentum buffer for each parameter that has a gradient, each its own array: stored in "
    "self.state[p]['momentum_buffer'] (keyed by the parameter object), created as a copy of g, sharing memory with "
    "no other buffer, parameter or gradient."
)
FIRST_BUFFERS_HINT = (
    "After the first step each parameter with a gradient must hold self.state[p]['momentum_buffer'] equal to its "
    "(undampened) gradient, and a parameter whose grad is None must have no buffer."
)
REGION_HINT = (
    "With lr = alpha and momentum = beta, SGD on lam*w**2/2 must converge exactly when 0 < alpha*lam < 2 + 2*beta. "
    "Check the momentum update against the visible tests."
)
RADII_HINT = (
    "At the optimal (alpha, beta) the iteration matrix [[beta, lam], [-alpha*beta, 1 - alpha*lam]] has spectral "
    "radius sqrt(beta) for every lam in [mu, L], and the rate you return must be that sqrt(beta). " + OPTIMAL_HINT
)


# ---- the right values ---------------------------------------------------------------------------


def optimal_momentum(mu, big=None) -> tuple[float, float, float]:
    """Polyak's optimal heavy ball for eigenvalues in [mu, L] (or for the Hessian ``mu``): (alpha, beta, rate)."""
    if big is None:
        eigenvalues = np.linalg.eigvalsh(np.asarray(mu, dtype=float))
        mu, big = float(eigenvalues[0]), float(eigenvalues[-1])
    alpha = (2.0 / (math.sqrt(big) + math.sqrt(mu))) ** 2
    kappa = big / mu
    rate = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)
    return alpha, rate**2, rate


def optimal_radii() -> dict[str, Any]:
    """At the optimum every eigen-direction in [mu, L] contracts by exactly sqrt(beta) = rate."""
    radii = {}
    for mu, big in problems.CONDITIONS:
        alpha, beta, rate = optimal_momentum(mu, big)
        radii[f"mu={mu},L={big}"] = {"radii": np.full(9, rate), "rate": rate, "sqrt_beta": math.sqrt(beta)}
    return radii


def convergence_region() -> np.ndarray:
    """The closed-form region 0 < alpha*lam < 2 + 2*beta, which torch.optim.SGD must reproduce."""
    region = np.array([[problems.in_region(al, b) for b in problems.BETAS] for al in problems.ALPHA_LAMBDAS])
    if not np.array_equal(region, problems.region_convergence(torch_sgd, backend=TORCH)):
        raise AssertionError("torch.optim.SGD disagrees with the closed-form convergence region")
    return region


def torch_sgd(params, **options):
    return torch.optim.SGD(params, **options)


# ---- the checks ---------------------------------------------------------------------------------


def running(name: str, problem: Callable[[Any], Any]) -> Callable[[Namespace], Any]:
    """``problem`` run on what a solution defines as ``name`` (``optimal_momentum`` or ``SGD``)."""
    return lambda solution: problem(solution[name])


OPTIMAL_MISTAKES = made_in("optimal_momentum")
SGD_MISTAKES = made_in("sgd_step")


def optimal(name: str, problem: Callable[[Any], Any], hint: str = OPTIMAL_HINT) -> Check:
    """A check of ``optimal_momentum``, right when the closed forms are."""
    return Check(name, running("optimal_momentum", problem), lambda: problem(optimal_momentum), hint, OPTIMAL_MISTAKES)


def sgd(name: str, problem: Callable[..., Any], hint: str = SGD_HINT, mistakes: Choice = SGD_MISTAKES) -> Check:
    """A check of ``SGD``, right when ``torch.optim.SGD`` gives the same on the same problem."""
    return Check(name, running("SGD", problem), lambda: problem(torch_sgd, backend=TORCH), hint, mistakes)


def quadratic(options: dict[str, Any], steps: int, halve_lr_after: int | None = None) -> Callable[..., Any]:
    def run(optimizer_class, backend=SLOPEGRAD):
        hook = None if halve_lr_after is None else problems.halve_lr_after(halve_lr_after)
        return problems.quadratic_path(optimizer_class, options, steps, after_step=hook, backend=backend)

    return run


def twin(part: str) -> Callable[..., Any]:
    return lambda optimizer_class, backend=SLOPEGRAD: problems.twin_run(optimizer_class, backend=backend)[part]


def grid(part: str) -> Callable[..., Any]:
    return lambda optimizer_class, backend=SLOPEGRAD: problems.sgd_paths(optimizer_class, part, backend=backend)


# A missing gradient taken as zero moves only p3 on the grid, yet its variant would be a whole copy of the
# grid's paths: grid_momentum names it, the other parts of the grid leave it to the general hint.
MISSING_GRAD_AS_ZERO = ("grad_none_as_zero", "updates_missing_grads")
GRID_MISTAKES = {part: SGD_MISTAKES if part == "momentum" else but(SGD_MISTAKES, *MISSING_GRAD_AS_ZERO)
                 for part in problems.GRID_PARTS}
FIRST_BUFFER_OPTIONS = dict(lr=0.1, momentum=0.9, dampening=0.5)
UNUSED_OPTIONS = dict(lr=0.1, momentum=0.9, weight_decay=0.01)

CHECKS = (
    optimal("visible_optimal_valley", lambda f: tuple(f(0.2, 4.0))),
    optimal("visible_optimal_hessian", lambda f: tuple(f(np.diag([0.2, 4.0])))),
    optimal("optimal_table", problems.optimal_table),
    optimal("optimal_hessian", problems.optimal_for_hessian),
    # eigenvalues of the (defective) matrices at lam = mu and lam = L are accurate to about sqrt(eps)
    Check("optimal_radii", running("optimal_momentum", problems.optimal_radii), optimal_radii, RADII_HINT,
          OPTIMAL_MISTAKES, rtol=1e-6, atol=1e-7),
    sgd("visible_plain_steps", quadratic({"lr": 0.1}, 2)),
    sgd("visible_momentum_steps", quadratic({"lr": 0.1, "momentum": 0.9}, 3)),
    sgd("visible_nesterov_steps", quadratic({"lr": 0.1, "momentum": 0.9, "nesterov": True}, 2)),
    sgd("visible_lr_change", quadratic({"lr": 0.1, "momentum": 0.9}, 3, halve_lr_after=2)),
    sgd("visible_first_buffer", lambda c, backend=SLOPEGRAD: problems.first_step_buffer(c, FIRST_BUFFER_OPTIONS, backend),
        FIRST_BUFFERS_HINT),
    sgd("visible_unused_parameter", lambda c, backend=SLOPEGRAD: problems.unused_parameter_report(
        c, UNUSED_OPTIONS, backend=backend), HINT_MISSING_GRAD),
    *(sgd(f"grid_{part}", grid(part), mistakes=GRID_MISTAKES[part]) for part in problems.GRID_PARTS),
    sgd("lr_change", problems.lr_change_paths),
    sgd("first_buffers", problems.first_buffers, FIRST_BUFFERS_HINT),
    sgd("state_keys", problems.state_keys_report, STATE_HINT),
    sgd("own_buffers", twin("own_buffers"), BUFFER_HINT),
    sgd("twin_state_keys", twin("state_keys"), STATE_HINT),
    sgd("twin_path", twin("path")),
    Check("in_place", running("SGD", problems.updates_in_place), lambda: [True] * 4, HINT_IN_PLACE,  # slopegrad only
          SGD_MISTAKES),
    Check("region", running("SGD", problems.region_convergence), convergence_region, REGION_HINT, SGD_MISTAKES),
)


def record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    return table.record(CATALOGUE, CHECKS)
