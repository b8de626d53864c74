"""The bookkeeping every optimizer shares (provided to students, not graded).

Like ``torch.optim.Optimizer``, this class knows nothing about any update rule. It holds

* ``param_groups``: a list of dicts, each with a ``"params"`` list and its own
  hyperparameters (the optimizer's ``defaults`` fill in what a group leaves out);
* ``state``: per-parameter state, created lazily by ``step()`` on first use and keyed
  by the parameter object itself (never by a recyclable ``id()``);
* ``zero_grad()``, ``state_dict()`` and ``load_state_dict()``.

A subclass passes its hyperparameters as ``defaults`` and implements ``step()``.
Both spellings of the common hyperparameters are accepted, so the course's calls
(``learning_rate=0.01``, ``beta1=0.9, beta2=0.999``) and PyTorch's (``lr=0.01``,
``betas=(0.9, 0.999)``) build the same optimizer; see :func:`resolve_lr` and
:func:`resolve_betas`.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

__all__ = ["Optimizer", "resolve_lr", "resolve_betas"]


def resolve_lr(lr: float | None, learning_rate: float | None, default: float | None = None) -> float:
    """Return the learning rate given as ``lr=`` (PyTorch) or ``learning_rate=`` (this course)."""
    if lr is not None and learning_rate is not None and lr != learning_rate:
        raise ValueError(f"got both lr={lr} and learning_rate={learning_rate}; give only one")
    value = lr if lr is not None else learning_rate if learning_rate is not None else default
    if value is None:
        raise TypeError("a learning rate is required: pass lr=... or learning_rate=...")
    if not value >= 0.0:
        raise ValueError(f"invalid learning rate: {value} (it must be >= 0)")
    return float(value)


def resolve_betas(
    betas: tuple[float, float] | None,
    beta1: float | None,
    beta2: float | None,
    default: tuple[float, float] = (0.9, 0.999),
) -> tuple[float, float]:
    """Return ``(beta1, beta2)`` given as ``betas=(b1, b2)`` (PyTorch) or ``beta1=``/``beta2=`` (this course)."""
    if betas is not None and (beta1 is not None or beta2 is not None):
        raise ValueError("give either betas=(beta1, beta2) or beta1=/beta2=, not both")
    b1, b2 = betas if betas is not None else (
        default[0] if beta1 is None else beta1,
        default[1] if beta2 is None else beta2,
    )
    for name, b in (("beta1", b1), ("beta2", b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"invalid {name}: {b} (it must be in [0, 1))")
    return float(b1), float(b2)


class Optimizer:
    """Base class: parameter groups, defaults and lazy per-parameter state.

    Args:
        params: an iterable of parameters, or of dicts ``{"params": [...], **options}``
            defining parameter groups with their own options.
        defaults: the hyperparameters used by every group that does not set its own.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters; options it does not set come from ``defaults``."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if _is_parameter(params) else list(params)
        for p in group["params"]:
            if not _is_parameter(p):
                raise TypeError(f"optimizers take parameters (with .data and .grad), got {type(p).__name__}")
            if not getattr(p, "requires_grad", True):
                raise ValueError("an optimizer can only optimize parameters that require gradients")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (PyTorch's default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0.0

    def step(self, closure=None):  # pragma: no cover - every optimizer overrides it
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    # ---- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A copy of the state and groups, with parameters replaced by their positions.

        Like PyTorch, parameters are numbered across groups in order, so a state dict can be
        loaded into a fresh optimizer built over a fresh model of the same architecture.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": copy.deepcopy(groups)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (arrays are copied, never shared)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state dict has {len(saved_groups)} parameter groups, this optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("a parameter group in the state dict has a different number of parameters")
            for i, p in zip(saved["params"], group["params"]):
                by_index[i] = p
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: _copy_like(v, p) for k, v in s.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _is_parameter(obj: Any) -> bool:
    return hasattr(obj, "data") and hasattr(obj, "grad")


def _copy_like(value: Any, param: Any) -> Any:
    """Copy a saved state entry; arrays take the parameter's dtype as PyTorch's loader does."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return np.array(value, dtype=param.data.dtype, copy=True)
    return copy.deepcopy(value)
