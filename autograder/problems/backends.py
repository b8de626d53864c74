"""How a problem makes parameters and reads them back, for slopegrad (and, in tools/golden, torch).

A problem is written once against this small interface, so the very same computation can
drive a student's optimizer on slopegrad and ``torch.optim`` on PyTorch.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

import slopegrad
from slopegrad.nn import Parameter


class Backend(Protocol):
    def parameter(self, array: np.ndarray) -> Any: ...
    def constant(self, array: np.ndarray) -> Any: ...
    def values(self, parameter: Any) -> np.ndarray: ...


class SlopegradBackend:
    """Parameters are :class:`slopegrad.nn.Parameter`; constants are plain tensors."""

    def parameter(self, array: np.ndarray) -> Parameter:
        return Parameter(np.array(array, copy=True))

    def constant(self, array: np.ndarray) -> slopegrad.Tensor:
        return slopegrad.Tensor(np.array(array, copy=True))

    def values(self, parameter: Parameter) -> np.ndarray:
        return np.array(parameter.data, dtype=np.float64, copy=True)


SLOPEGRAD = SlopegradBackend()
