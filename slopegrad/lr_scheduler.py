"""Learning-rate schedulers: the bookkeeping every schedule shares (provided to students, not graded).

Like ``torch.optim.lr_scheduler.LRScheduler``, this class knows nothing about any particular
schedule. It

* remembers each parameter group's starting learning rate as ``group["initial_lr"]`` (set
  once, so several schedulers on one optimizer agree) and in ``self.base_lrs``;
* counts epochs: ``last_epoch`` is ``0`` right after construction and grows by one with every
  ``scheduler.step()``, which is called once per epoch, *after* ``optimizer.step()``;
* wraps the optimizer's ``step`` with a counter (as PyTorch does), so that it can warn when
  ``scheduler.step()`` is called before the optimizer has ever stepped;
* writes the new learning rates into ``group["lr"]`` and nothing else, and keeps them for
  :meth:`get_last_lr`;
* saves and restores itself with :meth:`state_dict` / :meth:`load_state_dict`.

A schedule (a subclass) says what the learning rates are, in one or both of two forms:

* ``lr_at(epoch)``, the closed form: the list of learning rates (one per parameter group)
  at any epoch, computed from ``self.base_lrs``;
* ``get_lr()``, the step-by-step form, called by :meth:`step` right after ``last_epoch`` has
  grown by one: the new learning rates, usually computed from the current ``group["lr"]``
  (PyTorch's "chainable" form). By default it is the closed form at ``last_epoch``.

Typical use::

    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=10, gamma=0.1)
    for epoch in range(30):
        for batch in batches:
            optimizer.zero_grad()
            loss(batch).backward()
            optimizer.step()
        scheduler.step()
"""

from __future__ import annotations

import copy
import warnings
import weakref
from functools import wraps
from typing import Any

__all__ = ["LRScheduler", "STEP_ORDER_WARNING"]

STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
    "Call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`. "
    "Otherwise the first value of the learning-rate schedule is skipped: the first epoch "
    "trains with the second epoch's learning rate."
)
STEP_OVERRIDDEN_WARNING = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before `lr_scheduler.step()`."
)

# Attributes the step counter puts on the optimizer and on its wrapped step. The names are
# deliberately unlike anything an optimizer would use for itself (its own step count, say).
_COUNTER = "_lr_scheduler_step_count"
_WRAPPED = "_counted_by_lr_scheduler"


class LRScheduler:
    """Base class of the learning-rate schedules.

    Args:
        optimizer: any optimizer with ``param_groups`` (each a dict with an ``"lr"``) and a
            ``step()`` method, e.g. a subclass of :class:`slopegrad.optim.Optimizer`.

    Construction sets every group's learning rate for epoch 0 (``last_epoch == 0``).
    """

    def __init__(self, optimizer: Any) -> None:
        if not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer (it needs param_groups and step())")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        _count_optimizer_steps(optimizer)
        self._initial_step()

    # ---- what a schedule defines ----------------------------------------------------------
    def lr_at(self, epoch: int) -> list[float]:
        """Closed form: the learning rate of every parameter group at ``epoch`` (from ``base_lrs``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at(epoch)")

    def get_lr(self) -> list[float]:
        """Step-by-step form: the learning rates for epoch ``self.last_epoch``.

        Called by :meth:`step` after ``last_epoch`` has grown by one (and once by the
        constructor, with ``last_epoch == 0``). The default is the closed form; a schedule
        may override it to compute the new rates from the current ``group["lr"]``.
        """
        return self.lr_at(self.last_epoch)

    # ---- bookkeeping ----------------------------------------------------------------------
    def _initial_step(self) -> None:
        """Set the learning rates of epoch 0 (without counting a call of ``step()``)."""
        self._step_count = 0
        self.step()

    def step(self) -> None:
        """Advance one epoch: ``last_epoch += 1``, then set every group's ``lr`` from :meth:`get_lr`.

        Call it once per epoch, after ``optimizer.step()``.
        """
        if self._step_count == 1:  # the first call after construction
            if not getattr(self.optimizer.step, _WRAPPED, False):
                warnings.warn(STEP_OVERRIDDEN_WARNING, UserWarning, stacklevel=2)
            elif getattr(self.optimizer, _COUNTER, 0) < 1:
                warnings.warn(STEP_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def jump_to(self, epoch: int) -> None:
        """Set ``last_epoch = epoch`` and every group's ``lr`` from the closed form :meth:`lr_at`.

        No call of ``step()`` is counted and no warning is given. :class:`SequentialLR`-like
        schedulers use it to restart a schedule at its epoch 0 (PyTorch's ``_update_lr(0)``).
        """
        self.last_epoch = epoch
        self._set_lrs(self.lr_at(epoch))

    def _set_lrs(self, values: Any) -> None:
        groups = self.optimizer.param_groups
        values = list(values)
        if len(values) != len(groups):
            raise ValueError(
                f"{type(self).__name__} returned {len(values)} learning rates for {len(groups)} "
                "parameter groups: return one per group"
            )
        for group, lr in zip(groups, values):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set most recently, one per parameter group."""
        return list(self._last_lr)

    # ---- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A copy of every attribute except the optimizer (which has its own state dict)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (values are copied, never shared).

        To resume training: build the optimizer and the scheduler as at the start, then load
        the optimizer's state dict, then the scheduler's (as in PyTorch).
        """
        self.__dict__.update(copy.deepcopy(dict(state_dict)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


def _count_optimizer_steps(optimizer: Any) -> None:
    """Wrap ``optimizer.step`` so that each call adds one to ``optimizer._lr_scheduler_step_count``.

    Done once per optimizer (a second scheduler finds the wrapper in place). The wrapper holds
    the optimizer through a weak reference, so the optimizer and its step do not keep each
    other alive.
    """
    step = optimizer.step
    if getattr(step, _WRAPPED, False):
        return
    function = getattr(step, "__func__", None)
    if function is not None and getattr(step, "__self__", None) is optimizer:
        optimizer_ref = weakref.ref(optimizer)

        @wraps(function)
        def counted_step(*args: Any, **kwargs: Any) -> Any:
            opt = optimizer_ref()
            setattr(opt, _COUNTER, getattr(opt, _COUNTER, 0) + 1)
            return function(opt, *args, **kwargs)

    else:  # a plain callable stored on the instance

        @wraps(step)
        def counted_step(*args: Any, **kwargs: Any) -> Any:
            setattr(optimizer, _COUNTER, getattr(optimizer, _COUNTER, 0) + 1)
            return step(*args, **kwargs)

    setattr(counted_step, _WRAPPED, True)
    setattr(optimizer, _COUNTER, 0)
    optimizer.step = counted_step
