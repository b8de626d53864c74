"""Run an optimizer for many steps on a fixed problem and return every parameter's path.

The problem: four parameters of shapes ``()``, ``(3,)``, ``(2, 3)`` and ``(4, 1)``; the last
takes no part in the loss, so its gradient stays ``None`` and a correct optimizer must leave
it untouched. The loss is a sum of anisotropic quadratics plus a ``tanh`` term, so the
gradients change direction and scale along the way (a constant gradient would hide bugs
in the state updates):

.. math::
    L(\\theta) = \\sum_i \\Big( \\tfrac12 \\sum c_i \\odot \\theta_i^2 + \\tfrac{3}{10} \\sum \\tanh(2\\,\\theta_i) \\Big)
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable

import numpy as np

from .backends import SLOPEGRAD, Backend

SHAPES: tuple[tuple[int, ...], ...] = ((), (3,), (2, 3), (4, 1))
WITHOUT_GRADIENT = 3  # index of the parameter that never receives a gradient
STEPS = 100


def initial_values(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in SHAPES]


def curvatures(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    return [rng.uniform(0.05, 3.0, size=shape) for shape in SHAPES]


def loss(parameters: list[Any], curvature: list[Any]) -> Any:
    total = None
    for i, (p, c) in enumerate(zip(parameters, curvature)):
        if i == WITHOUT_GRADIENT:
            continue
        term = (c * p * p).sum() * 0.5 + (p * 2.0).tanh().sum() * 0.3
        total = term if total is None else total + term
    return total


def trajectory(
    make_optimizer: Callable[[list[Any]], Any],
    steps: int = STEPS,
    backend: Backend = SLOPEGRAD,
    seed: int = 0,
    after_step: Callable[[Any, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Positions of every parameter before the first step and after each step.

    Returns ``{"p0": array of shape (steps + 1, *SHAPES[0]), ...}``. ``after_step(optimizer, t)``
    runs after each ``optimizer.step()`` (a scheduler's ``step()``, for example).
    """
    parameters = [backend.parameter(v) for v in initial_values(seed)]
    curvature = [backend.constant(c) for c in curvatures(seed)]
    optimizer = make_optimizer(parameters)
    path = [[backend.values(p)] for p in parameters]
    for t in range(1, steps + 1):
        optimizer.zero_grad()
        loss(parameters, curvature).backward()
        optimizer.step()
        if after_step is not None:
            after_step(optimizer, t)
        for positions, p in zip(path, parameters):
            positions.append(backend.values(p))
    return {f"p{i}": np.stack(positions) for i, positions in enumerate(path)}


def option_grid(**choices: Iterable[Any]) -> list[dict[str, Any]]:
    """Every combination of the given options, as keyword dicts."""
    names = list(choices)
    return [dict(zip(names, values)) for values in itertools.product(*choices.values())]


def label(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(options.items()))


def grid_trajectories(
    optimizer_class: Callable[..., Any],
    grid: list[dict[str, Any]],
    steps: int = STEPS,
    backend: Backend = SLOPEGRAD,
) -> dict[str, dict[str, np.ndarray]]:
    """``trajectory`` for every option set of ``grid``, keyed by :func:`label`."""
    return {
        label(options): trajectory(lambda ps, o=options: optimizer_class(ps, **o), steps, backend)
        for options in grid
    }
