"""The problems' backend for PyTorch, used only to record golden data."""

from __future__ import annotations

import numpy as np
import torch


class TorchBackend:
    def parameter(self, array: np.ndarray) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.tensor(np.asarray(array, dtype=np.float64)))

    def constant(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(array, dtype=np.float64))

    def values(self, parameter: torch.Tensor) -> np.ndarray:
        return parameter.detach().numpy().astype(np.float64, copy=True)


TORCH = TorchBackend()
