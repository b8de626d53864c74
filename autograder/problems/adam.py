"""Chapter 3 (Adam and the adaptive methods): the problems its graded cells run students' code on.

Every function takes the student's optimizer class (or update function) and returns plain data
(arrays, numbers, bools, strings, str-keyed dicts) for :func:`autograder.checks.check`. Those
that run an optimizer also take a ``backend``, so ``tools/golden/ch3_adam.py`` runs the very
same computation through ``torch.optim`` to record the expected values. Options use PyTorch's
spelling (``lr=``, ``betas=``), so one dict builds both optimizers.

When the student's code raises (anything but ``NotImplementedError``), the error is printed
and recorded as the string ``"error: <ExceptionName>"``, so that the judge can still name a
known mistake (a ``TypeError`` from a gradient that is ``None``, a ``ValueError`` from one
buffer shared by parameters of different shapes). An unfinished stub fails as a stub.

The inputs are not secret; the expected outputs are.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

from .student_code import ERROR_PREFIX, Raised as _Raised, attempt as _call  # noqa: F401 - ERROR_PREFIX is part of this module's API
from .backends import SLOPEGRAD, Backend
from .trajectories import STEPS, grid_trajectories, label, option_grid, trajectory

NO_STATE = "no state"

# ---- option grids on the 4-parameter problem of :mod:`.trajectories` ---------------------------
# Each grid starts with a "sentinel": the option set on which every common mistake of the chapter
# shows (a large eps, weight decay, a large learning rate), so the first check that fails is the
# one that knows the mistakes' hints.

ADAM_SENTINEL = {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-3}
AMSGRAD_SENTINEL = {"lr": 0.1, "weight_decay": 0.0, "amsgrad": True}
ADAM_GRID: list[dict[str, Any]] = [
    ADAM_SENTINEL,
    *option_grid(lr=(0.1, 0.01), weight_decay=(0.0, 0.1), amsgrad=(False, True)),
    {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6},
]
ADAMW_SENTINEL = {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-3}
ADAMW_AMSGRAD = {"lr": 0.05, "weight_decay": 0.5, "amsgrad": True}
ADAMW_GRID: list[dict[str, Any]] = [
    ADAMW_SENTINEL,
    {"lr": 0.01},
    ADAMW_AMSGRAD,
]
RMSPROP_SENTINEL = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}
RMSPROP_GRID: list[dict[str, Any]] = [
    RMSPROP_SENTINEL,
    {"lr": 0.01},
    {"lr": 0.001, "alpha": 0.9},
]
ADAGRAD_SENTINEL = {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-3}
ADAGRAD_GRID: list[dict[str, Any]] = [
    ADAGRAD_SENTINEL,
    {"lr": 0.1},
    {"lr": 0.5},
]


def check_name(optimizer: str, options: dict[str, Any]) -> str:
    """``"adam[eps=0.001,lr=0.1,weight_decay=0.1]"``: one grid entry's check (without the assignment)."""
    return f"{optimizer}[{label(options)}]"


def grid_paths(
    optimizer_class: Callable[..., Any], grid: list[dict[str, Any]], steps: int = STEPS, backend: Backend = SLOPEGRAD
) -> dict[str, Any]:
    """``{label: every parameter's path}`` on the 4-parameter problem (its last parameter gets no gradient).

    An entry is ``"error: <Name>"`` when the optimizer raised on that option set.
    """
    paths = {}
    for options in grid:
        outcome = _call(lambda o=options: grid_trajectories(optimizer_class, [o], steps, backend)[label(o)])
        paths[label(options)] = outcome.record if isinstance(outcome, _Raised) else outcome
    return paths


# ---- per-parameter state ------------------------------------------------------------------------

STATE_OPTIONS = {"lr": 0.1}
AMSGRAD_STATE_OPTIONS = {"lr": 0.1, "amsgrad": True}
RMSPROP_STATE_OPTIONS = {"lr": 0.01}
ADAGRAD_STATE_OPTIONS = {"lr": 0.1}


def state_after_first_step(
    optimizer_class: Callable[..., Any],
    options: dict[str, Any] = STATE_OPTIONS,
    backend: Backend = SLOPEGRAD,
    include_missing: bool = True,
) -> Any:
    """Each parameter's state after one step on the 4-parameter problem.

    ``{"p0": {"step": 1.0, "exp_avg": array, ...}, ..., "p3": "no state"}``: the step counter as
    a float, arrays as float64 copies. ``p3`` never gets a gradient; with ``include_missing=False``
    it is left out (PyTorch's Adagrad creates its state in ``__init__``, eagerly, for every parameter).
    """
    seen: dict[str, Any] = {}

    def make(ps):
        seen["optimizer"], seen["parameters"] = optimizer_class(ps, **options), ps
        return seen["optimizer"]

    outcome = _call(lambda: trajectory(make, steps=1, backend=backend))
    if isinstance(outcome, _Raised):
        return outcome.record
    report = {}
    for i, p in enumerate(seen["parameters"]):
        state = _state_of(seen["optimizer"], p)
        if not include_missing and not state:
            continue
        report[f"p{i}"] = {str(k): _plain(v) for k, v in state.items()} if state else NO_STATE
    return report


def state_size(optimizer_class: Callable[..., Any], options: dict[str, Any], backend: Backend = SLOPEGRAD) -> Any:
    """How many numbers the optimizer stores (array entries of its state; step counters excluded)
    after 3 steps on the 4-parameter problem, whose parameters that get gradients hold P = 10 numbers."""
    seen: dict[str, Any] = {}

    def make(ps):
        seen["optimizer"], seen["parameters"] = optimizer_class(ps, **options), ps
        return seen["optimizer"]

    outcome = _call(lambda: trajectory(make, steps=3, backend=backend))
    if isinstance(outcome, _Raised):
        return outcome.record
    total = 0
    for p in seen["parameters"]:
        for key, value in _state_of(seen["optimizer"], p).items():
            if key != "step":
                total += int(np.size(_array(value)))
    return total


TWIN_SHAPE = (3,)
TWIN_STEPS = 20
TWIN_OPTIONS = {"lr": 0.1}


def twin_run(
    optimizer_class: Callable[..., Any], options: dict[str, Any], steps: int = TWIN_STEPS, backend: Backend = SLOPEGRAD
) -> Any:
    """Three parameters of the same shape, so that one buffer shared by all of them cannot crash.

    Returns ``{"path": {...}, "buffers": {key: {"count", "distinct_arrays", "overlapping_pairs"}}}``
    after the last step: each parameter needs buffers of its own.
    """
    rng = np.random.default_rng(31)
    starts = [rng.normal(size=TWIN_SHAPE) for _ in range(3)]
    scales = [backend.constant(rng.uniform(0.2, 3.0, size=TWIN_SHAPE)) for _ in range(3)]

    def run():
        parameters = [backend.parameter(s) for s in starts]
        optimizer = optimizer_class(parameters, **options)
        path = [[backend.values(p)] for p in parameters]
        for _ in range(steps):
            optimizer.zero_grad()
            total = None
            for p, c in zip(parameters, scales):
                term = (c * p * p).sum() * 0.5 + (p * 3.0).tanh().sum() * 0.2
                total = term if total is None else total + term
            total.backward()
            optimizer.step()
            for positions, p in zip(path, parameters):
                positions.append(backend.values(p))
        return {
            "path": {f"p{i}": np.stack(positions) for i, positions in enumerate(path)},
            "buffers": _buffer_facts(optimizer, parameters),
        }

    outcome = _call(run)
    return _filled(outcome, ("path", "buffers"))


# ---- gradients fed by hand (the facts of the chapter) -------------------------------------------


def replay(
    make_optimizer: Callable[[list[Any]], Any],
    gradients: Any,
    start: Any,
    backend: Backend = SLOPEGRAD,
) -> Any:
    """Feed a fixed sequence of gradients to one parameter; return its positions ``(T + 1, *shape)``.

    Each step: ``zero_grad()``, set the parameter's ``.grad`` to the next gradient, ``step()``.
    """
    gradients = np.asarray(gradients, dtype=np.float64)

    def run():
        parameter = backend.parameter(np.asarray(start, dtype=np.float64))
        optimizer = make_optimizer([parameter])
        path = [backend.values(parameter)]
        for g in gradients:
            optimizer.zero_grad()
            parameter.grad = _gradient(backend, g)
            optimizer.step()
            path.append(backend.values(parameter))
        return np.stack(path)

    outcome = _call(run)
    return outcome.record if isinstance(outcome, _Raised) else outcome


def displacements(path: Any) -> Any:
    """``path[t] - path[t-1]``: the steps taken (or the error record unchanged)."""
    return path if isinstance(path, str) else np.diff(np.asarray(path, dtype=np.float64), axis=0)


CONSTANT_GRADIENT = np.array([[3.0, -0.02, 1e-5], [-250.0, 0.7, 1e4]])
CONSTANT_STEPS = 40
CONSTANT_OPTIONS = {"lr": 0.01}  # Adam, eps = 1e-8
ADAGRAD_CONSTANT_OPTIONS = {"lr": 0.1, "eps": 1e-10}


def constant_gradient_steps(
    optimizer_class: Callable[..., Any], options: dict[str, Any], steps: int = CONSTANT_STEPS, backend: Backend = SLOPEGRAD
) -> Any:
    """The steps taken under a constant gradient :data:`CONSTANT_GRADIENT` (magnitudes 1e-5 .. 1e4)."""
    gradients = np.broadcast_to(CONSTANT_GRADIENT, (steps, *CONSTANT_GRADIENT.shape))
    path = replay(lambda ps: optimizer_class(ps, **options), gradients, np.zeros_like(CONSTANT_GRADIENT), backend)
    return displacements(path)


FIRST_STEP_GRADIENT = np.array([1e-8, -3e-4, 0.5, -7.0, 2e3, -1e8])
EPS0_OPTIONS = {"lr": 0.01, "eps": 0.0}
RMSPROP_EPS0_OPTIONS = {"lr": 0.01, "eps": 0.0}


def first_step(optimizer_class: Callable[..., Any], options: dict[str, Any], backend: Backend = SLOPEGRAD) -> Any:
    """The first step taken on gradients of magnitudes 1e-8 .. 1e8 (from a start of ones)."""
    path = replay(lambda ps: optimizer_class(ps, **options), FIRST_STEP_GRADIENT[None], np.ones(6), backend)
    return path if isinstance(path, str) else displacements(path)[0]


def first_step_over_lr(optimizer_class: Callable[..., Any], options: dict[str, Any], backend: Backend = SLOPEGRAD) -> Any:
    """:func:`first_step` divided by the learning rate."""
    step = first_step(optimizer_class, options, backend)
    return step if isinstance(step, str) else step / options["lr"]


QUIET_STEPS = 10_000
SPIKE = np.array([2.5, -0.001, 40.0])
SPIKE_OPTIONS = {"lr": 0.01}


def spike_after_quiet(
    optimizer_class: Callable[..., Any], options: dict[str, Any], quiet_steps: int = QUIET_STEPS, backend: Backend = SLOPEGRAD
) -> Any:
    """The last step divided by lr, after ``quiet_steps`` zero gradients and then one gradient :data:`SPIKE`.

    The moments are still zero when the spike arrives, but the bias corrections have faded
    (1 - beta^t is about 1), so Adam takes the uncorrected first step: lr (1 - b1)/sqrt(1 - b2).
    """
    gradients = np.zeros((quiet_steps + 1, SPIKE.size))
    gradients[-1] = SPIKE
    path = replay(lambda ps: optimizer_class(ps, **options), gradients, np.zeros(SPIKE.size), backend)
    if isinstance(path, str):
        return path
    return (path[-1] - path[-2]) / options["lr"]


# Kingma & Ba's step bound is a heuristic: two gradient sequences that break it.

QUIET_THEN_CONSTANT = 1.0  # the constant gradient that follows the quiet stretch
ACTIVE_STEPS = 40
QUIET_THEN_CONSTANT_OPTIONS = (
    {"lr": 0.01},  # the defaults: heuristic 3.16 lr, reached 6.57 lr at the 12th nonzero step
    {"lr": 0.01, "betas": (0.9, 0.99)},  # (1 - b1) = sqrt(1 - b2): heuristic lr, reached 2.13 lr
)


def kingma_ba_heuristic(beta1: float, beta2: float) -> float:
    """Kingma & Ba's claimed bound on |step| / lr: (1 - b1)/sqrt(1 - b2) if (1 - b1) > sqrt(1 - b2), else 1."""
    ratio = (1.0 - beta1) / np.sqrt(1.0 - beta2)
    return float(ratio) if (1.0 - beta1) > np.sqrt(1.0 - beta2) else 1.0


def quiet_then_constant_steps(
    optimizer_class: Callable[..., Any],
    quiet_steps: int = QUIET_STEPS,
    active_steps: int = ACTIVE_STEPS,
    backend: Backend = SLOPEGRAD,
) -> dict[str, Any]:
    """|step| / lr for ``active_steps`` steps of a constant gradient after ``quiet_steps`` zero gradients.

    An embedding row that becomes active: its moments are still zero, but the bias corrections
    have faded, so the steps follow the uncorrected curve (1 - b1^k)/sqrt(1 - b2^k) of the k-th
    nonzero step. One entry per option set of :data:`QUIET_THEN_CONSTANT_OPTIONS` (or ``"error: ..."``).
    """
    gradients = np.zeros((quiet_steps + active_steps, 1))
    gradients[quiet_steps:] = QUIET_THEN_CONSTANT
    report = {}
    for options in QUIET_THEN_CONSTANT_OPTIONS:
        path = replay(lambda ps, o=options: optimizer_class(ps, **o), gradients, np.zeros(1), backend)
        steps = displacements(path)
        report[label(options)] = steps if isinstance(steps, str) else np.abs(steps[quiet_steps:, 0]) / options["lr"]
    return report


WORST_CASE_LENGTHS = (1, 10, 100, 1000, 10_000)
WORST_CASE_OPTIONS = {"lr": 1.0, "eps": 0.0}  # the defaults' betas; eps = 0, so the step is exactly lr m_hat/sqrt(v_hat)


def worst_case_gradients(length: int, beta1: float = 0.9, beta2: float = 0.999) -> np.ndarray:
    """The gradients, ``(length,)``, that make the last of ``length`` Adam steps as large as it can be.

    By Cauchy-Schwarz, |m_t| / sqrt(v_t) is largest when g_i is proportional to the ratio of the
    weights m and v give it, (b1/b2)^(t - i): a gradient that grows by b2/b1 at every step (1.11 for
    the defaults). Scaled so that the last one is 1, and floored at 1e-100 so that with eps = 0 no
    early step divides 0 by 0 (the floor changes the last step by far less than one rounding).
    """
    return np.maximum((beta1 / beta2) ** np.arange(length - 1, -1, -1.0), 1e-100)


def worst_case_steps(optimizer_class: Callable[..., Any], backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """The last |step| / lr after each of :func:`worst_case_gradients` for :data:`WORST_CASE_LENGTHS`.

    ``{"t=1": 1.0, ..., "t=10000": 7.27...}`` (an entry is ``"error: ..."`` if the optimizer raised).
    """
    report = {}
    for length in WORST_CASE_LENGTHS:
        gradients = worst_case_gradients(length)[:, None]
        path = replay(lambda ps: optimizer_class(ps, **WORST_CASE_OPTIONS), gradients, np.zeros(1), backend)
        steps = displacements(path)
        report[f"t={length}"] = steps if isinstance(steps, str) else float(abs(steps[-1, 0]) / WORST_CASE_OPTIONS["lr"])
    return report


# ---- the update function alone (visible tests) --------------------------------------------------

VISIBLE_START = np.array([1.0, -2.0, 0.5])
VISIBLE_GRADIENTS = np.array([[0.5, -1.0, 2.0], [0.1, 0.3, -4.0], [0.2, -0.2, 0.0]])
VISIBLE_UPDATE_OPTIONS = {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-4}
VISIBLE_ADAM = {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-4}
VISIBLE_ADAMW = {"lr": 0.1, "weight_decay": 0.5, "eps": 1e-4}
VISIBLE_RMSPROP = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-4}
VISIBLE_ADAGRAD = {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-4}
UNUSED_START = np.array([0.25, -0.75])


def update_function_run(
    update: Callable[..., Any], options: dict[str, Any], gradients: Any = VISIBLE_GRADIENTS, start: Any = VISIBLE_START
) -> dict[str, Any]:
    """Call ``update(param, grad, state, **options)`` once per gradient on one NumPy array and one state dict.

    Returns ``{"path": positions (T + 1, n), "state_keys": sorted keys of the state, "step": its
    "step" entry as a float}``; every entry is ``"error: ..."`` if the function raised.
    """
    param = np.array(start, dtype=np.float64)
    state: dict[str, Any] = {}

    def run():
        path = [param.copy()]
        for g in np.asarray(gradients, dtype=np.float64):
            update(param, g.copy(), state, **options)
            path.append(param.copy())
        step = state.get("step", "missing") if isinstance(state, dict) else "missing"
        return {
            "path": np.stack(path),
            "state_keys": sorted(str(k) for k in state),
            "step": step if isinstance(step, str) else _plain(step),
        }

    return _filled(_call(run), ("path", "state_keys", "step"))


def visible_run(optimizer_class: Callable[..., Any], options: dict[str, Any], backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """:data:`VISIBLE_GRADIENTS` fed to one parameter, beside a second parameter whose grad stays None.

    Returns ``{"path": the first parameter's positions, "steps_counted": its state["step"] at the end,
    "unused": the second parameter's final value, "unused_state": its state ("no state" if none)}``;
    every entry is ``"error: ..."`` if the optimizer raised.
    """

    def run():
        parameter = backend.parameter(VISIBLE_START)
        unused = backend.parameter(UNUSED_START)
        optimizer = optimizer_class([parameter, unused], **options)
        path = [backend.values(parameter)]
        for g in VISIBLE_GRADIENTS:
            optimizer.zero_grad()
            parameter.grad = _gradient(backend, g)
            optimizer.step()
            path.append(backend.values(parameter))
        used_state, unused_state = _state_of(optimizer, parameter), _state_of(optimizer, unused)
        return {
            "path": np.stack(path),
            "steps_counted": _plain(used_state["step"]) if "step" in used_state else "missing",
            "unused": backend.values(unused),
            "unused_state": {str(k): _plain(v) for k, v in unused_state.items()} if unused_state else NO_STATE,
        }

    return _filled(_call(run), ("path", "steps_counted", "unused", "unused_state"))


# ---- L2 against decoupled weight decay ----------------------------------------------------------

DECAY_LR = 0.01
DECAY_WD = 0.01
DECAY_STEPS = 100
DECAY_GRADIENT = 5.0  # the busy weight's loss gradient alternates +5, -5; the idle weight's is zero


def decay_gradients(steps: int = DECAY_STEPS) -> np.ndarray:
    """Loss gradients ``(steps, 2)``: column 0 (the idle weight) zero, column 1 (the busy one) +5, -5, +5, ..."""
    gradients = np.zeros((steps, 2))
    gradients[:, 1] = DECAY_GRADIENT * (-1.0) ** np.arange(steps)
    return gradients


def decay_demo(
    optimizer_class: Callable[..., Any],
    weight_decay: float = DECAY_WD,
    steps: int = DECAY_STEPS,
    backend: Backend = SLOPEGRAD,
) -> Any:
    """Two weights start at 1: an idle one (loss gradient 0) and a busy one (loss gradient +-5).

    Returns the path, shape ``(steps + 1, 2)``, under ``optimizer_class(lr=0.01, weight_decay=...)``.
    With L2 (Adam) the decay term wd * theta goes through the normalisation by sqrt(v_hat): the idle
    weight, whose whole gradient is that term, takes steps of about lr whatever wd is, and the busy
    weight's decay is drowned by its large v_hat. With decoupled decay (AdamW) both shrink by the
    factor (1 - lr wd) per step.
    """
    return replay(
        lambda ps: optimizer_class(ps, lr=DECAY_LR, weight_decay=weight_decay), decay_gradients(steps), np.ones(2), backend
    )


# ---- helpers ------------------------------------------------------------------------------------


def _filled(outcome: Any, keys: tuple[str, ...]) -> Any:
    """The report itself, or (if the code raised) the same keys, each holding the error record."""
    return {key: outcome.record for key in keys} if isinstance(outcome, _Raised) else outcome


def _gradient(backend: Backend, g: np.ndarray) -> Any:
    """A gradient for a parameter of ``backend``: a float64 NumPy array, or what ``backend.gradient`` makes."""
    make = getattr(backend, "gradient", None)
    return make(np.array(g, dtype=np.float64)) if make is not None else np.array(g, dtype=np.float64, copy=True)


def _array(value: Any) -> np.ndarray:
    """The NumPy array behind a state entry (sharing memory where it can)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):
        return np.asarray(value.detach().numpy())
    return np.asarray(value)


def _plain(value: Any) -> Any:
    """A state entry as recordable data: a step counter as a float, an array as a float64 copy."""
    try:
        array = np.array(_array(value), dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        return f"not a number ({type(value).__name__})"
    return float(array) if array.ndim == 0 else array


def _state_of(optimizer: Any, parameter: Any) -> dict:
    state = getattr(optimizer, "state", None)
    found = state.get(parameter, {}) if hasattr(state, "get") else {}
    return found if isinstance(found, dict) else {}


def _buffer_facts(optimizer: Any, parameters: list[Any]) -> dict[str, dict[str, int]]:
    """Per array-valued state key: how many buffers, how many distinct arrays, how many overlapping pairs."""
    by_key: dict[str, list[Any]] = {}
    for p in parameters:
        for key, value in _state_of(optimizer, p).items():
            if key != "step":
                by_key.setdefault(str(key), []).append(value)
    facts = {}
    for key, values in sorted(by_key.items()):
        arrays = [_array(v) for v in values]
        facts[key] = {
            "count": len(values),
            "distinct_arrays": len({id(v) for v in values}),
            "overlapping_pairs": int(sum(np.shares_memory(a, b) for a, b in itertools.combinations(arrays, 2))),
        }
    return facts

