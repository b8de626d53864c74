"""Neural-network building blocks: Parameter, Module, Linear, Sequential, activations.

A Module finds its parameters by looking at its own attributes, in the order
they were assigned: Parameters, Modules, and lists/tuples of them. Names are
dotted paths, as in PyTorch (``layers.0.weight``; inside a Sequential simply
``0.weight``).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from . import functional as F
from . import random as _random
from .tensor import Tensor

__all__ = ["Parameter", "Module", "Linear", "Sequential", "ReLU", "Tanh", "Sigmoid"]


class Parameter(Tensor):
    """A Tensor a Module owns and an optimizer updates: a floating-point leaf
    that always requires grad. The data is copied."""

    __slots__ = ()

    def __init__(self, data, dtype=None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    """Base class: subclasses assign Parameters/Modules as attributes and
    define ``forward``; calling the module calls ``forward``."""

    training = True  # class default, so subclasses that skip __init__ still work

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _named_members(self) -> Iterator[tuple[str, Parameter | "Module"]]:
        """Direct Parameters and sub-Modules, in attribute-definition order."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Parameter, Module)):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, depth first in attribute order;
        a parameter (or module) reachable twice is reported once."""
        yield from self._walk(prefix, set())

    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Parameter]]:
        for name, member in self._named_members():
            if id(member) in seen:
                continue
            seen.add(id(member))
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(member, Parameter):
                yield path, member
            else:
                yield from member._walk(path, seen)

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter once, in ``named_parameters`` order."""
        for _, parameter in self.named_parameters():
            yield parameter

    def children(self) -> Iterator["Module"]:
        """Direct sub-Modules."""
        for _, member in self._named_members():
            if isinstance(member, Module):
                yield member

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (PyTorch's default)."""
        for parameter in self.parameters():
            parameter.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Set the ``training`` flag here and in every sub-Module."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """``train(False)``."""
        return self.train(False)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [
            f"  ({name}): " + repr(member).replace("\n", "\n  ")
            for name, member in self._named_members()
            if isinstance(member, Module)
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n" + "\n".join(lines) + "\n)"


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), as in PyTorch.

    W and b start uniform in [-1/sqrt(in_features), 1/sqrt(in_features)]
    (PyTorch's default), drawn from ``rng`` (a Generator or an integer seed)
    or else from the generator ``slopegrad.manual_seed`` resets. They are drawn
    in float64 and then cast, so a float32 model is the float64 one rounded.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, dtype=np.float64, rng=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        rng = _random.default_generator() if rng is None else np.random.default_rng(rng)
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, size=(out_features, in_features)), dtype=dtype)
        self.bias = Parameter(rng.uniform(-bound, bound, size=out_features), dtype=dtype) if bias else None

    def forward(self, x) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after the other; indexable, with ``len``.
    Parameter names start with the position: ``0.weight``, ``2.bias``."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        self._modules = list(modules)

    def _named_members(self):
        for i, module in enumerate(self._modules):
            yield str(i), module

    def forward(self, x):
        for module in self._modules:
            x = module(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._modules[index])
        return self._modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x) -> Tensor:
        return F.relu(x)


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise."""

    def forward(self, x) -> Tensor:
        return F.sigmoid(x)
