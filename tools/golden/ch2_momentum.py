"""Golden expectations for Chapter 2 (momentum), recorded from ``torch.optim.SGD`` and closed forms.

Every check of ``source/ch2_momentum/momentum.ipynb`` has an entry here. Trajectories come from
running ``torch.optim.SGD`` through :data:`tools.golden.torch_backend.TORCH` on exactly the
problems of :mod:`autograder.problems.momentum`; the optimal-momentum numbers come from the
closed forms. The variants are the same problems run through :class:`WrongSGD`, which has one
of the chapter's common mistakes switched on, so a failing check can name the mistake.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from autograder.compare import first_mismatch
from autograder.problems import momentum as problems
from autograder.problems.backends import SLOPEGRAD
from autograder.records import decode
from slopegrad.optim import Optimizer, resolve_lr

from .store import spec
from .torch_backend import TORCH

ASSIGNMENT = "ch2_momentum"

# ---- the common mistakes, as one optimizer with a switch ----------------------------------------

DAMPENED_FIRST = "dampened_first_buffer"
SHARED_BUFFER = "shared_buffer"
ZERO_FOR_MISSING_GRAD = "zero_for_missing_grad"
SUTSKEVER = "sutskever"
NESTEROV_ON_BUFFER = "nesterov_on_buffer"

HINTS = {
    DAMPENED_FIRST: (
        "The first momentum buffer looks dampened. PyTorch creates the buffer on the first step as a plain "
        "copy of the gradient, b = g (no (1 - dampening) factor); only later steps use "
        "b = momentum*b + (1 - dampening)*g."
    ),
    SHARED_BUFFER: (
        "Several parameters share one momentum buffer. Each parameter needs its own buffer, stored in "
        "self.state[p]['momentum_buffer'] (keyed by the parameter object p) and created as a copy "
        "(np.array(g, copy=True) or g.copy()), never one buffer or one state dict for all parameters."
    ),
    ZERO_FOR_MISSING_GRAD: (
        "A parameter whose grad is None was updated or given state. Skip it (`if p.grad is None: continue`): "
        "no gradient means no weight decay, no momentum buffer and no step for that parameter."
    ),
    SUTSKEVER: (
        "This is the Sutskever/Ruder form (v = momentum*v + lr*g; theta -= v): it matches PyTorch only while "
        "lr is constant. When group['lr'] changes mid-run the old lr stays inside v. Keep the learning rate "
        "out of the buffer: b = momentum*b + (1 - dampening)*g, then theta -= lr*b, reading lr from the "
        "group at every step."
    ),
    NESTEROV_ON_BUFFER: (
        "Nesterov looks applied to the buffer (g = b + momentum*b). PyTorch's Nesterov step adds the "
        "momentum term to the gradient: g = g + momentum*b, with b the buffer just updated."
    ),
}


class WrongSGD(Optimizer):
    """SGD with one common mistake switched on (``mistake=`` one of the names above)."""

    def __init__(self, params, lr=None, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 learning_rate=None, mistake: str):
        if mistake not in HINTS:
            raise ValueError(f"unknown mistake {mistake!r}")
        self.mistake = mistake
        self._shared: dict[str, Any] = {}
        super().__init__(params, dict(lr=resolve_lr(lr, learning_rate), momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure=None):
        for group in self.param_groups:
            lr, mu, tau, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    if self.mistake != ZERO_FOR_MISSING_GRAD:
                        continue
                    g = np.zeros_like(p.data)
                if wd != 0:
                    g = g + wd * p.data
                if mu != 0:
                    if self.mistake == SHARED_BUFFER:
                        state = self.state[p] = self._shared
                    else:
                        state = self.state.setdefault(p, {})
                    scale = lr if self.mistake == SUTSKEVER else 1.0
                    b = state.get("momentum_buffer")
                    if b is None:
                        first = (1 - tau) if self.mistake == DAMPENED_FIRST else 1.0
                        b = scale * first * np.array(g, copy=True)
                    else:
                        b = mu * b + scale * (1 - tau) * g
                    state["momentum_buffer"] = b
                    if group["nesterov"]:
                        g = b + mu * b if self.mistake == NESTEROV_ON_BUFFER else scale * g + mu * b
                    else:
                        g = b
                p.data -= g if self.mistake == SUTSKEVER else lr * g
        return None


CRASH_NO_SKIP = (
    "Calling step() raised a TypeError, most likely on a parameter whose grad is None (None cannot be added or "
    "multiplied). Skip such parameters: `if p.grad is None: continue`.",
    "error: TypeError",
)
CRASH_SHARED = (
    "Calling step() raised a ValueError (arrays whose shapes do not broadcast), most likely because one momentum "
    "buffer is shared by parameters of different shapes. Give each parameter its own buffer in "
    "self.state[p]['momentum_buffer'].",
    "error: ValueError",
)
CRASHES = [CRASH_NO_SKIP, CRASH_SHARED]  # what a crash on the 4-parameter problem usually means


def wrong(mistake: str):
    return functools.partial(WrongSGD, mistake=mistake)


def variants(compute, *mistakes: str) -> list[tuple[str, Any]]:
    """``(hint, value)`` for each mistake: ``compute`` run on the wrong optimizer."""
    return [(HINTS[m], compute(wrong(m))) for m in mistakes]


# ---- closed forms ---------------------------------------------------------------------------------


def optimal_momentum(mu: float, big: float) -> tuple[float, float, float]:
    """Polyak's optimal heavy ball for eigenvalues in [mu, L]: (alpha, beta, rate)."""
    alpha = (2.0 / (math.sqrt(big) + math.sqrt(mu))) ** 2
    kappa = big / mu
    rate = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)
    return alpha, rate**2, rate


def _optimal_any(mu, big=None):
    if big is None:
        eig = np.linalg.eigvalsh(np.asarray(mu, dtype=float))
        mu, big = float(eig[0]), float(eig[-1])
    return optimal_momentum(mu, big)


OPTIMAL_HINT = (
    "Polyak's optimal heavy ball: alpha = (2/(sqrt(L) + sqrt(mu)))**2, "
    "beta = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))**2 with kappa = L/mu, rate = sqrt(beta); "
    "given a Hessian, mu and L are its smallest and largest eigenvalues (np.linalg.eigvalsh)."
)


def optimal_variants(compute) -> list[tuple[str, Any]]:
    """Typical slips in the optimal-momentum formulas, each with its hint."""

    def beta_not_squared(mu, big=None):
        a, b, r = _optimal_any(mu, big)
        return a, r, r

    def rate_is_beta(mu, big=None):
        a, b, r = _optimal_any(mu, big)
        return a, b, b

    def gd_alpha(mu, big=None):
        a, b, r = _optimal_any(mu, big)
        if big is None:
            eig = np.linalg.eigvalsh(np.asarray(mu, dtype=float))
            mu, big = eig[0], eig[-1]
        return 2.0 / (mu + big), b, r

    return [
        ("beta is the square: beta = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))**2; the rate is its square root.",
         compute(beta_not_squared)),
        ("The rate is sqrt(beta) = (sqrt(kappa) - 1)/(sqrt(kappa) + 1), not beta itself.", compute(rate_is_beta)),
        ("alpha = 2/(mu + L) is gradient descent's optimal step; with momentum it is (2/(sqrt(L) + sqrt(mu)))**2.",
         compute(gd_alpha)),
    ]


# ---- the checks ---------------------------------------------------------------------------------

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
IN_PLACE_HINT = (
    "Update the parameter's array in place (p.data -= lr*g), so that every reference to it sees the new "
    "values; p.data = p.data - lr*g makes a new array."
)
REGION_HINT = (
    "With lr = alpha and momentum = beta, SGD on lam*w**2/2 must converge exactly when 0 < alpha*lam < 2 + 2*beta. "
    "Check the momentum update against the visible tests."
)
RADII_HINT = (
    "At the optimal (alpha, beta) the iteration matrix [[beta, lam], [-alpha*beta, 1 - alpha*lam]] has spectral "
    "radius sqrt(beta) for every lam in [mu, L], and the rate you return must be that sqrt(beta). " + OPTIMAL_HINT
)

VISIBLE = {
    "visible_plain_steps": ({"lr": 0.1}, 2, None),
    "visible_momentum_steps": ({"lr": 0.1, "momentum": 0.9}, 3, None),
    "visible_nesterov_steps": ({"lr": 0.1, "momentum": 0.9, "nesterov": True}, 2, None),
    "visible_lr_change": ({"lr": 0.1, "momentum": 0.9}, 3, 2),
}
VISIBLE_MISTAKES = {"visible_nesterov_steps": (NESTEROV_ON_BUFFER,), "visible_lr_change": (SUTSKEVER,)}


def _torch_sgd(params, **options):
    return torch.optim.SGD(params, **options)


def _backend(optimizer_class):
    """torch.optim runs on torch tensors; the wrong variants are slopegrad optimizers."""
    return TORCH if optimizer_class is _torch_sgd else SLOPEGRAD


def record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    P = problems
    checks: dict[str, dict[str, Any]] = {}

    def name(check: str) -> str:
        return f"{ASSIGNMENT}.{check}"

    # optimal momentum (closed forms)
    valley = optimal_momentum(0.2, 4.0)
    checks[name("visible_optimal_valley")] = spec(
        valley, hint=OPTIMAL_HINT, variants=optimal_variants(lambda f: tuple(f(0.2, 4.0))))
    checks[name("visible_optimal_hessian")] = spec(
        valley, hint=OPTIMAL_HINT, variants=optimal_variants(lambda f: tuple(f(np.diag([0.2, 4.0])))))
    checks[name("optimal_table")] = spec(
        P.optimal_table(optimal_momentum), hint=OPTIMAL_HINT, variants=optimal_variants(P.optimal_table))
    checks[name("optimal_hessian")] = spec(
        P.optimal_for_hessian(_optimal_any), hint=OPTIMAL_HINT, variants=optimal_variants(P.optimal_for_hessian))
    radii = {}
    for mu, big in P.CONDITIONS:
        alpha, beta, rate = optimal_momentum(mu, big)
        radii[f"mu={mu},L={big}"] = {"radii": np.full(9, rate), "rate": rate, "sqrt_beta": math.sqrt(beta)}
    # eigenvalues of the (defective) matrices at lam = mu and lam = L are accurate to about sqrt(eps)
    checks[name("optimal_radii")] = spec(radii, rtol=1e-6, atol=1e-7, hint=RADII_HINT)

    # SGD: small visible problems
    for check, (options, steps, change) in VISIBLE.items():
        hook = None if change is None else P.halve_lr_after(change)

        def run(cls, options=options, steps=steps, hook=hook):
            return P.quadratic_path(cls, options, steps, after_step=hook, backend=_backend(cls))

        checks[name(check)] = spec(run(_torch_sgd), hint=SGD_HINT,
                                   variants=variants(run, *VISIBLE_MISTAKES.get(check, ())))
    first = dict(lr=0.1, momentum=0.9, dampening=0.5)
    checks[name("visible_first_buffer")] = spec(
        P.first_step_buffer(_torch_sgd, first, TORCH), hint=FIRST_BUFFERS_HINT,
        variants=variants(lambda c: P.first_step_buffer(c, first, _backend(c)), DAMPENED_FIRST, SUTSKEVER))
    unused = dict(lr=0.1, momentum=0.9, weight_decay=0.01)
    checks[name("visible_unused_parameter")] = spec(
        P.unused_parameter_report(_torch_sgd, unused, backend=TORCH), hint=HINTS[ZERO_FOR_MISSING_GRAD],
        variants=variants(lambda c: P.unused_parameter_report(c, unused, backend=_backend(c)), ZERO_FOR_MISSING_GRAD)
        + [CRASH_NO_SKIP])

    # SGD: the grid, in parts
    grid_mistakes = {"plain": (), "momentum": (), "dampening": (DAMPENED_FIRST,), "nesterov": (NESTEROV_ON_BUFFER,)}
    for part, mistakes in grid_mistakes.items():
        def run(cls, part=part):
            return P.sgd_paths(cls, part, backend=_backend(cls))

        checks[name(f"grid_{part}")] = spec(run(_torch_sgd), hint=SGD_HINT, variants=variants(run, *mistakes) + CRASHES)

    # learning rate halved mid-run
    def lr_change(cls):
        return P.lr_change_paths(cls, backend=_backend(cls))

    checks[name("lr_change")] = spec(lr_change(_torch_sgd), hint=SGD_HINT,
                                     variants=variants(lr_change, SUTSKEVER, NESTEROV_ON_BUFFER, ZERO_FOR_MISSING_GRAD) + CRASHES)

    # per-parameter state
    checks[name("first_buffers")] = spec(
        P.first_buffers(_torch_sgd, backend=TORCH), hint=FIRST_BUFFERS_HINT,
        variants=variants(lambda c: P.first_buffers(c, backend=_backend(c)), DAMPENED_FIRST, ZERO_FOR_MISSING_GRAD, SUTSKEVER)
        + CRASHES)
    checks[name("state_keys")] = spec(
        P.state_keys_report(_torch_sgd, TORCH), hint=STATE_HINT,
        variants=variants(lambda c: P.state_keys_report(c, _backend(c)), ZERO_FOR_MISSING_GRAD) + CRASHES)
    twin = P.twin_run(_torch_sgd, backend=TORCH)
    twin_variants = {m: P.twin_run(wrong(m)) for m in (SHARED_BUFFER, ZERO_FOR_MISSING_GRAD)}

    def twin_part(part):
        return [(HINTS[m], run[part]) for m, run in twin_variants.items()] + [CRASH_NO_SKIP]

    checks[name("own_buffers")] = spec(twin["own_buffers"], hint=BUFFER_HINT, variants=twin_part("own_buffers"))
    checks[name("twin_state_keys")] = spec(twin["state_keys"], hint=STATE_HINT, variants=twin_part("state_keys"))
    checks[name("twin_path")] = spec(twin["path"], hint=SGD_HINT, variants=twin_part("path"))
    checks[name("in_place")] = spec([True] * 4, hint=IN_PLACE_HINT, variants=CRASHES)

    # the convergence region, measured with SGD itself
    region = np.array([[P.in_region(al, b) for b in P.BETAS] for al in P.ALPHA_LAMBDAS])
    torch_region = P.region_convergence(_torch_sgd, backend=TORCH)
    if not np.array_equal(region, torch_region):
        raise AssertionError("torch.optim.SGD disagrees with the closed-form convergence region")
    checks[name("region")] = spec(region, hint=REGION_HINT)
    return {check: _without_repeats(value) for check, value in checks.items()}


def _without_repeats(entry: dict[str, Any]) -> dict[str, Any]:
    """Drop variants that equal the expected value (a mistake that does not show on this problem)."""
    expected = decode(entry["expected"])
    kept = [v for v in entry["variants"]
            if first_mismatch(decode(v["value"]), expected, entry["rtol"], entry["atol"]) is not None]
    return {**entry, "variants": kept}
