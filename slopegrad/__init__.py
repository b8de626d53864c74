"""slopegrad: a small reverse-mode autograd on NumPy arrays, for teaching.

    >>> import slopegrad as sg
    >>> x = sg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> loss = (x * x).sum()
    >>> loss.backward()
    >>> x.grad                      # d(sum x^2)/dx = 2x
    array([[2., 4.],
           [6., 8.]])

Modules: ``tensor`` (Tensor and its operations with their gradients),
``grad_mode`` (no_grad), ``ops`` (function forms, concatenate, constructors),
``functional`` (activations, linear, losses), ``nn`` (Parameter, Module,
layers), ``random`` (seeding). Depends on NumPy only.
"""

from . import functional, nn
from .functional import cross_entropy, log_softmax, mse_loss
from .grad_mode import is_grad_enabled, no_grad
from .ops import (
    abs as abs,  # re-exported, but not in __all__ (see below)
    as_tensor,
    concatenate,
    exp,
    log,
    matmul,
    ones,
    relu,
    reshape,
    sigmoid,
    sqrt,
    tanh,
    transpose,
    zeros,
)
from .random import default_generator, manual_seed, randn
from .tensor import Tensor

__all__ = [
    # core
    "Tensor",
    "no_grad",
    "is_grad_enabled",
    # operations as functions
    "exp",
    "log",
    "sqrt",
    "relu",
    "tanh",
    "sigmoid",
    "matmul",
    "reshape",
    "transpose",
    "concatenate",
    # (``abs`` is available as slopegrad.abs but left out of __all__, so that
    # ``from slopegrad import *`` does not shadow the builtin.)
    # losses
    "mse_loss",
    "cross_entropy",
    "log_softmax",
    # construction and seeding
    "as_tensor",
    "zeros",
    "ones",
    "randn",
    "manual_seed",
    "default_generator",
    # submodules
    "nn",
    "functional",
]
