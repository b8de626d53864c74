"""Seeding: one module-level ``numpy.random.Generator`` (PCG64).

``nn.Linear`` (and ``randn``) draw from it when no ``rng`` is passed, so
``manual_seed(s)`` followed by building a model gives bit-identical weights
every time. Like PyTorch, a fresh process starts from a fixed seed (0 here),
so runs are reproducible even without calling ``manual_seed``.
"""

from __future__ import annotations

import numpy as np

from .ops import _shape
from .tensor import Tensor

__all__ = ["manual_seed", "default_generator", "randn"]

_DEFAULT_SEED = 0
_generator = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``PCG64(seed)`` and return it."""
    global _generator
    _generator = np.random.Generator(np.random.PCG64(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``rng`` is given (replaced by ``manual_seed``)."""
    return _generator


def randn(*shape, requires_grad: bool = False, dtype=np.float64, rng=None) -> Tensor:
    """Standard normal samples: ``randn(2, 3)`` or ``randn((2, 3))``.

    ``rng`` may be a ``numpy.random.Generator`` or an integer seed; by default
    the module-level generator is used.
    """
    rng = _generator if rng is None else np.random.default_rng(rng)
    data = rng.standard_normal(_shape(shape), dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)
