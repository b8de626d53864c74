"""Chapter 2 (momentum): the problems its graded cells run students' code on.

Every function takes the optimizer class (or function) under test and returns plain data
(arrays, numbers, lists, str-keyed dicts) for :func:`autograder.checks.check`. Those that run
an optimizer also take a ``backend``, so ``tools/golden/ch2_momentum.py`` runs the very same
computation through ``torch.optim.SGD`` to record the expected values.

Options use PyTorch's spelling (``lr=``), so one dict builds both optimizers. When the code under
test raises (anything but the stub's ``NotImplementedError``), a runner returns the string
``"error: <ExceptionType>"`` instead, so that the check can report it and give a hint.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable

import numpy as np

from .backends import SLOPEGRAD, Backend
from .student_code import describe
from .trajectories import STEPS, curvatures, grid_trajectories, initial_values, label, loss, option_grid, trajectory


def _reported(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function``; if the code under test crashes, return ``"error: <type>"`` as the result."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except NotImplementedError:
            raise  # an unfinished stub stays an unfinished stub
        except Exception as error:  # noqa: BLE001 - the student's crash becomes data for the check
            return describe(error, quiet=True)

    return run


# ---- the grid of options, in parts --------------------------------------------------------------

LEARNING_RATES = (0.05, 0.2)
GRID_PARTS = ("plain", "momentum", "dampening", "nesterov")


def _valid(options: dict[str, Any]) -> bool:
    """PyTorch's rule: Nesterov needs a momentum and zero dampening."""
    return not (options["nesterov"] and (options["momentum"] == 0 or options["dampening"] != 0))


def _part_of(options: dict[str, Any]) -> str:
    if options["momentum"] == 0:
        return "plain"
    if options["nesterov"]:
        return "nesterov"
    return "dampening" if options["dampening"] != 0 else "momentum"


def sgd_grid(part: str | None = None) -> list[dict[str, Any]]:
    """The valid option sets (lr, momentum {0, 0.9}, dampening {0, 0.5}, nesterov, weight decay {0, 0.01}).

    ``part`` picks a slice: ``"plain"`` (no momentum), ``"momentum"`` (heavy ball, undampened),
    ``"dampening"`` (dampening 0.5) or ``"nesterov"``; ``None`` gives all 20.
    """
    grid = option_grid(
        lr=LEARNING_RATES,
        momentum=(0.0, 0.9),
        dampening=(0.0, 0.5),
        nesterov=(False, True),
        weight_decay=(0.0, 0.01),
    )
    grid = [o for o in grid if _valid(o)]
    if part is None:
        return grid
    if part not in GRID_PARTS:
        raise ValueError(f"unknown part {part!r}; choose from {GRID_PARTS}")
    return [o for o in grid if _part_of(o) == part]


@_reported
def sgd_paths(optimizer_class: Callable[..., Any], part: str, steps: int = STEPS, backend: Backend = SLOPEGRAD):
    """Every parameter's path on the 4-parameter problem, for each option set of a part of the grid."""
    return grid_trajectories(optimizer_class, sgd_grid(part), steps, backend)


# ---- a learning rate that changes mid-run -------------------------------------------------------

LR_CHANGE_OPTIONS = (
    {"lr": 0.2, "momentum": 0.9},
    {"lr": 0.2, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
)
LR_CHANGE_AT = 50


def halve_lr_after(step: int) -> Callable[[Any, int], None]:
    """An ``after_step`` hook that halves every group's ``lr`` once, right after step ``step``."""

    def after_step(optimizer: Any, t: int) -> None:
        if t == step:
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * 0.5

    return after_step


@_reported
def lr_change_paths(
    optimizer_class: Callable[..., Any], steps: int = STEPS, change_at: int = LR_CHANGE_AT, backend: Backend = SLOPEGRAD
) -> dict[str, dict[str, np.ndarray]]:
    """Paths on the 4-parameter problem when ``group["lr"]`` is halved after step ``change_at``."""
    return {
        label(o): trajectory(lambda ps, o=o: optimizer_class(ps, **o), steps, backend, after_step=halve_lr_after(change_at))
        for o in LR_CHANGE_OPTIONS
    }


# ---- small problems the visible tests use -------------------------------------------------------

QUADRATIC_START = (1.0, -2.0)


@_reported
def quadratic_path(
    optimizer_class: Callable[..., Any],
    options: dict[str, Any],
    steps: int,
    after_step: Callable[[Any, int], None] | None = None,
    backend: Backend = SLOPEGRAD,
) -> np.ndarray:
    """Run on ``L(w) = sum(w**2) / 2`` from ``w = [1, -2]`` (so the gradient is ``w``); shape ``(steps + 1, 2)``."""
    w = backend.parameter(np.array(QUADRATIC_START))
    optimizer = optimizer_class([w], **options)
    path = [backend.values(w)]
    for t in range(1, steps + 1):
        optimizer.zero_grad()
        ((w * w).sum() * 0.5).backward()
        optimizer.step()
        if after_step is not None:
            after_step(optimizer, t)
        path.append(backend.values(w))
    return np.stack(path)


@_reported
def first_step_buffer(optimizer_class: Callable[..., Any], options: dict[str, Any], backend: Backend = SLOPEGRAD):
    """The momentum buffer after one step on ``sum(w**2) / 2`` from ``w = [1, -2]`` (None if absent)."""
    w = backend.parameter(np.array(QUADRATIC_START))
    optimizer = optimizer_class([w], **options)
    optimizer.zero_grad()
    ((w * w).sum() * 0.5).backward()
    optimizer.step()
    return _buffer_of(optimizer, w)


@_reported
def unused_parameter_report(
    optimizer_class: Callable[..., Any], options: dict[str, Any], steps: int = 3, backend: Backend = SLOPEGRAD
) -> dict[str, Any]:
    """Two parameters, one of which the loss never uses (its grad stays None): is it left alone?"""
    w = backend.parameter(np.array(QUADRATIC_START))
    unused = backend.parameter(np.array([0.5, 0.25]))
    optimizer = optimizer_class([w, unused], **options)
    for _ in range(steps):
        optimizer.zero_grad()
        ((w * w).sum() * 0.5).backward()
        optimizer.step()
    return {
        "unused_parameter_unchanged": bool(np.array_equal(backend.values(unused), [0.5, 0.25])),
        "unused_parameter_state_keys": _state_keys(optimizer, unused),
    }


# ---- per-parameter state ------------------------------------------------------------------------

STATE_OPTIONS = {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}


@_reported
def first_buffers(
    optimizer_class: Callable[..., Any], options: dict[str, Any] = STATE_OPTIONS, backend: Backend = SLOPEGRAD
) -> list[Any]:
    """Each parameter's momentum buffer after the first step on the 4-parameter problem (None if it has none)."""
    parameters = [backend.parameter(v) for v in initial_values()]
    curvature = [backend.constant(c) for c in curvatures()]
    optimizer = optimizer_class(parameters, **options)
    optimizer.zero_grad()
    loss(parameters, curvature).backward()
    optimizer.step()
    return [_buffer_of(optimizer, p) for p in parameters]


TWIN_SHAPE = (3,)
TWIN_OPTIONS = {"lr": 0.1, "momentum": 0.9}


def twin_run(optimizer_class: Callable[..., Any], options: dict[str, Any] = TWIN_OPTIONS, steps: int = 20,
             backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """Four parameters of the same shape (the last gets no gradient), so a shared buffer cannot crash.

    Returns ``{"path", "own_buffers", "state_keys"}``: the paths, facts about the buffers after the
    first and the last step (how many, how many distinct array objects, how many pairs overlap in
    memory, how many overlap a parameter's data or gradient) and each parameter's state keys.
    If the code under test crashes, each part is ``"error: <type>"``.
    """
    result = _twin_run(optimizer_class, options, steps, backend)
    return result if isinstance(result, dict) else dict.fromkeys(("path", "own_buffers", "state_keys"), result)


@_reported
def _twin_run(
    optimizer_class: Callable[..., Any],
    options: dict[str, Any] = TWIN_OPTIONS,
    steps: int = 20,
    backend: Backend = SLOPEGRAD,
) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    parameters = [backend.parameter(rng.normal(size=TWIN_SHAPE)) for _ in range(4)]
    curvature = [backend.constant(rng.uniform(0.2, 2.0, size=TWIN_SHAPE)) for _ in range(4)]
    optimizer = optimizer_class(parameters, **options)
    path = [[backend.values(p)] for p in parameters]
    facts = {}
    for t in range(1, steps + 1):
        optimizer.zero_grad()
        loss(parameters, curvature).backward()
        optimizer.step()
        for positions, p in zip(path, parameters):
            positions.append(backend.values(p))
        if t in (1, steps):
            facts[f"after_step_{t}"] = _buffer_facts(optimizer, parameters)
            facts[f"state_keys_after_step_{t}"] = [_state_keys(optimizer, p) for p in parameters]
    return {
        "path": {f"p{i}": np.stack(positions) for i, positions in enumerate(path)},
        "own_buffers": {k: v for k, v in facts.items() if k.startswith("after_step")},
        "state_keys": {k: v for k, v in facts.items() if k.startswith("state_keys")},
    }


@_reported
def state_keys_report(optimizer_class: Callable[..., Any], backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """State entries after 3 steps on the 4-parameter problem, with and without momentum."""
    report = {}
    for momentum in (0.0, 0.9):
        seen = {}

        def make(ps, momentum=momentum):
            seen["optimizer"], seen["parameters"] = optimizer_class(ps, lr=0.1, momentum=momentum), ps
            return seen["optimizer"]

        trajectory(make, steps=3, backend=backend)
        optimizer, parameters = seen["optimizer"], seen["parameters"]
        report[f"momentum={momentum}"] = {
            "state_entries": len(optimizer.state),
            "keys": [_state_keys(optimizer, p) for p in parameters],
        }
    return report


@_reported
def updates_in_place(optimizer_class: Callable[..., Any], steps: int = 3) -> list[bool]:
    """For each parameter of the 4-parameter problem: is ``p.data`` still the array it was (slopegrad only)?"""
    seen = {}

    def make(ps):
        seen["arrays"] = [p.data for p in ps]
        seen["parameters"] = ps
        return optimizer_class(ps, lr=0.1, momentum=0.9)

    trajectory(make, steps=steps)
    return [p.data is array for p, array in zip(seen["parameters"], seen["arrays"])]


# ---- the heavy ball's iteration matrix ----------------------------------------------------------


def iteration_matrix(alpha: float, beta: float, lam: float) -> np.ndarray:
    """One eigen-direction of the heavy ball: ``(z, w) -> (beta z + lam w, w - alpha (beta z + lam w))``."""
    return np.array([[beta, lam], [-alpha * beta, 1.0 - alpha * lam]], dtype=np.float64)


def spectral_radius(matrix: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


ALPHA_LAMBDAS = (0.1, 0.5, 1.0, 1.5, 1.9, 2.1, 2.5, 3.0, 3.5, 3.9, 4.5)
BETAS = (0.0, 0.3, 0.6, 0.9)
REGION_LAMBDA = 2.0
REGION_STEPS = 200


def in_region(alpha_lambda: float, beta: float) -> bool:
    """The heavy ball converges on one eigen-direction iff ``0 < alpha lam < 2 + 2 beta`` (0 <= beta < 1)."""
    return 0.0 < alpha_lambda < 2.0 + 2.0 * beta


@_reported
def region_convergence(
    optimizer_class: Callable[..., Any], steps: int = REGION_STEPS, backend: Backend = SLOPEGRAD
) -> np.ndarray:
    """Run SGD(lr=alpha, momentum=beta) on ``lam w**2 / 2`` over the grid ``ALPHA_LAMBDAS x BETAS``.

    Returns a bool array: did ``|w|`` shrink below its start after ``steps`` steps?
    """
    lam = backend.constant(np.array([REGION_LAMBDA]))
    converged = np.zeros((len(ALPHA_LAMBDAS), len(BETAS)), dtype=bool)
    for (i, alpha_lambda), (j, beta) in itertools.product(enumerate(ALPHA_LAMBDAS), enumerate(BETAS)):
        w = backend.parameter(np.array([1.0]))
        optimizer = optimizer_class([w], lr=alpha_lambda / REGION_LAMBDA, momentum=beta)
        for _ in range(steps):
            optimizer.zero_grad()
            ((lam * w * w).sum() * 0.5).backward()
            optimizer.step()
        converged[i, j] = bool(abs(backend.values(w)[0]) < 1.0)
    return converged


# ---- optimal momentum ---------------------------------------------------------------------------

CONDITIONS = ((0.2, 4.0), (1.0, 1.0), (0.01, 1.0), (1.0, 100.0), (0.5, 2.0), (3.0, 12.0))


def hessian_example() -> np.ndarray:
    """A symmetric positive-definite 3x3 matrix with eigenvalues 0.5, 2 and 8 (not diagonal)."""
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    return (q * np.array([0.5, 2.0, 8.0])) @ q.T


@_reported
def optimal_for_hessian(optimal_momentum: Callable[..., Any]) -> tuple[float, float, float]:
    """``optimal_momentum(H)`` for the symmetric matrix :func:`hessian_example` (eigenvalues 0.5 .. 8)."""
    return tuple(float(x) for x in optimal_momentum(hessian_example()))


@_reported
def optimal_table(optimal_momentum: Callable[..., Any]) -> dict[str, Any]:
    """``optimal_momentum(mu, L)`` for several condition numbers, as floats."""
    return {f"mu={mu},L={big}": tuple(float(x) for x in optimal_momentum(mu, big)) for mu, big in CONDITIONS}


@_reported
def optimal_radii(optimal_momentum: Callable[..., Any], points: int = 9) -> dict[str, Any]:
    """Spectral radius of the iteration matrix at the returned (alpha, beta), for lam across [mu, L].

    At the optimum every eigen-direction contracts at the same rate sqrt(beta).
    """
    table = {}
    for mu, big in CONDITIONS:
        alpha, beta, rate = (float(x) for x in optimal_momentum(mu, big))
        radii = [spectral_radius(iteration_matrix(alpha, beta, lam)) for lam in np.linspace(mu, big, points)]
        table[f"mu={mu},L={big}"] = {"radii": np.array(radii), "rate": rate, "sqrt_beta": float(np.sqrt(beta))}
    return table


# ---- helpers ------------------------------------------------------------------------------------


def _array(value: Any) -> np.ndarray:
    """The NumPy array behind a buffer, a parameter's data or a gradient (sharing memory where it can)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):
        return np.asarray(value.detach().numpy())
    return np.asarray(value)


def _state_of(optimizer: Any, parameter: Any) -> dict:
    state = optimizer.state.get(parameter, {}) if hasattr(optimizer.state, "get") else {}
    return state if isinstance(state, dict) else {}


def _state_keys(optimizer: Any, parameter: Any) -> list[str]:
    return sorted(str(k) for k in _state_of(optimizer, parameter))


def _buffer_of(optimizer: Any, parameter: Any) -> np.ndarray | None:
    buffer = _state_of(optimizer, parameter).get("momentum_buffer")
    return None if buffer is None else np.array(_array(buffer), dtype=np.float64, copy=True)


def _buffer_facts(optimizer: Any, parameters: list[Any]) -> dict[str, int]:
    buffers = []
    for p in parameters:
        buffer = _state_of(optimizer, p).get("momentum_buffer")
        if buffer is not None:
            buffers.append(buffer)
    arrays = [_array(b) for b in buffers]
    overlapping = sum(np.shares_memory(a, b) for a, b in itertools.combinations(arrays, 2))
    owned = []
    for p in parameters:
        owned.append(_array(p.data))
        if p.grad is not None:
            owned.append(_array(p.grad))
    aliasing = sum(any(np.shares_memory(a, o) for o in owned) for a in arrays)
    return {
        "buffers": len(buffers),
        "distinct_objects": len({id(b) for b in buffers}),
        "overlapping_pairs": int(overlapping),
        "sharing_memory_with_a_parameter_or_gradient": int(aliasing),
    }
