"""Function forms of the Tensor operations, ``concatenate``, and constructors.

``slopegrad.exp(x)`` is ``x.exp()`` for a Tensor and first wraps anything else
(a list, a NumPy array) in a Tensor; the operations themselves, with their
gradients, live in ``tensor.py``.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor, _result, matmul

__all__ = [
    "as_tensor",
    "exp",
    "log",
    "sqrt",
    "abs",
    "relu",
    "tanh",
    "sigmoid",
    "matmul",
    "reshape",
    "transpose",
    "concatenate",
    "zeros",
    "ones",
]


def as_tensor(x) -> Tensor:
    """``x`` itself if it is a Tensor, else a new (constant) Tensor of it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x) -> Tensor:
    """e^x elementwise."""
    return as_tensor(x).exp()


def log(x) -> Tensor:
    """Natural logarithm elementwise."""
    return as_tensor(x).log()


def sqrt(x) -> Tensor:
    """Square root elementwise."""
    return as_tensor(x).sqrt()


def abs(x) -> Tensor:  # same name as numpy.abs / torch.abs
    """|x| elementwise."""
    return as_tensor(x).abs()


def relu(x) -> Tensor:
    """max(x, 0) elementwise."""
    return as_tensor(x).relu()


def tanh(x) -> Tensor:
    """tanh(x) elementwise."""
    return as_tensor(x).tanh()


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x) elementwise, computed without overflow."""
    return as_tensor(x).sigmoid()


def reshape(x, *shape) -> Tensor:
    """``x.reshape(*shape)``."""
    return as_tensor(x).reshape(*shape)


def transpose(x, *axes) -> Tensor:
    """``x.transpose(*axes)``."""
    return as_tensor(x).transpose(*axes)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, like ``np.concatenate``.

    Each input's gradient is its own slice of the output gradient along ``axis``.
    """
    tensors = [as_tensor(t) for t in tensors]
    arrays = [t.data for t in tensors]
    try:
        data = np.concatenate(arrays, axis=axis)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"cannot concatenate tensors of shapes {shapes} along axis {axis}") from None
    boundaries = np.cumsum([a.shape[axis] for a in arrays])[:-1]

    def backward(g):
        for t, piece in zip(tensors, np.split(g, boundaries, axis=axis)):
            if t.requires_grad:
                t._add_grad(piece)

    return _result(data, tuple(tensors), backward)


def zeros(*shape, requires_grad: bool = False, dtype=np.float64) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, requires_grad: bool = False, dtype=np.float64) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def _shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
