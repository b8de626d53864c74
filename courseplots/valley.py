"""The worked example of every chapter: :math:`f(x_1, x_2) = 0.1\\,x_1^2 + 2\\,x_2^2`.

Its Hessian is ``diag(0.2, 4)``: eigenvalues mu = 0.2 and L = 4, condition number 20.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import slopegrad
from slopegrad.nn import Parameter

VALLEY_HESSIAN = np.diag([0.2, 4.0])
VALLEY_START = np.array([-5.0, -2.0])
_HALF_DIAGONAL = slopegrad.Tensor(np.array([0.1, 2.0]))


def valley(x: np.ndarray) -> np.ndarray:
    """``f`` on points ``x`` of shape ``(..., 2)``."""
    x = np.asarray(x, dtype=float)
    return 0.1 * x[..., 0] ** 2 + 2.0 * x[..., 1] ** 2


def valley_gradient(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float) @ VALLEY_HESSIAN


def run_on_valley(
    make_optimizer: Callable[[list[Parameter]], Any],
    steps: int = 20,
    start: np.ndarray = VALLEY_START,
) -> np.ndarray:
    """Run an optimizer on the valley through slopegrad; returns the path, shape ``(steps + 1, 2)``."""
    x = Parameter(np.array(start, dtype=float))
    optimizer = make_optimizer([x])
    path = [x.data.copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        (_HALF_DIAGONAL * x * x).sum().backward()
        optimizer.step()
        path.append(x.data.copy())
    return np.stack(path)
