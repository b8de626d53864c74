"""Run a learning-rate scheduler on a fixed optimizer and report the learning rates it sets.

Every function takes ``make_scheduler(optimizer) -> scheduler`` and returns plain data. The
optimizer is the plain :class:`PlainSGD` of this module on slopegrad (what a student's
scheduler drives); ``tools/golden`` passes ``torch.optim.SGD`` and the torch backend instead,
so the very same procedure records PyTorch's learning rates.

The parameter groups have different base learning rates (:data:`BASE_LRS`), one parameter
each, and the optimizer is stepped before the scheduler in every epoch, as in training. The
parameters get no gradient: these problems watch the learning rates only
(:func:`scheduled_trajectory` trains).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

import numpy as np

from slopegrad.optim import Optimizer, resolve_lr

from .backends import SLOPEGRAD, Backend
from .trajectories import label, option_grid, trajectory

BASE_LRS: tuple[float, ...] = (0.1, 0.03)
EPOCHS = 60
CHECKPOINT = 23  # where resumed_sequence saves and reloads
EXTRA_OPTIONS = {"momentum": 0.9, "weight_decay": 1e-4, "label_value": 7.0}

Scheduler = Any
MakeScheduler = Callable[[Any], Scheduler]

# The settings the hidden tests sweep (inputs, not secrets), in PyTorch's spelling.
STEP_GRID = option_grid(step_size=(1, 3, 7, 10), gamma=(0.1, 0.5, 0.9))
COSINE_GRID = option_grid(T_max=(1, 5, 10, 60, 100), eta_min=(0.0, 0.01))
LINEAR_GRID = [
    {"start_factor": start, "end_factor": end, "total_iters": total}
    for start in (0.01, 0.25, 1.0 / 3)
    for end, total in ((1.0, 1), (1.0, 5), (1.0, 20), (0.5, 10))
]
# Chains for SequentialLR: (list of (scheduler class name, options), milestones).
CHAINS: dict[str, tuple[list[tuple[str, dict[str, Any]]], list[int]]] = {
    "warmup5_cosine55": ([("LinearLR", {"start_factor": 0.1, "total_iters": 5}), ("CosineAnnealingLR", {"T_max": 55})], [5]),
    "warmup8_cut_at4_cosine20": (
        [("LinearLR", {"start_factor": 0.1, "total_iters": 8}), ("CosineAnnealingLR", {"T_max": 20, "eta_min": 0.001})],
        [4],
    ),
    "warmup3_hold_to10_cosine30": (
        [("LinearLR", {"start_factor": 0.25, "total_iters": 3}), ("CosineAnnealingLR", {"T_max": 30})],
        [10],
    ),
    "warmup1_cosine59": ([("LinearLR", {"start_factor": 0.5, "total_iters": 1}), ("CosineAnnealingLR", {"T_max": 59})], [1]),
    "warmup4_step5_cosine25": (
        [
            ("LinearLR", {"start_factor": 0.2, "total_iters": 4}),
            ("StepLR", {"step_size": 5, "gamma": 0.5}),
            ("CosineAnnealingLR", {"T_max": 25, "eta_min": 0.002}),
        ],
        [4, 20],
    ),
    "step3_then_warmup6": (
        [("StepLR", {"step_size": 3, "gamma": 0.5}), ("LinearLR", {"start_factor": 0.5, "total_iters": 6})],
        [12],
    ),
}
TRAJECTORY_CHAIN = "warmup5_cosine55"
THREE_BASE_LRS = (0.5, 0.1, 0.02)
OUTSIDE_CHANGES = {7: 0.5, 30: 3.0}  # epoch -> factor applied to every group's lr by hand


class PlainSGD(Optimizer):
    """Plain gradient descent, the optimizer schedules are shown and tested with.

    ``theta <- theta - lr * grad`` for every parameter that has a gradient, with each group's
    own ``lr`` read at every step, so a scheduler's changes take effect at once. Accepts
    ``lr=`` and ``learning_rate=`` (default ``1e-3``, as ``torch.optim.SGD``).
    """

    def __init__(self, params: Iterable[Any], lr: float | None = None, *, learning_rate: float | None = None) -> None:
        super().__init__(params, {"lr": resolve_lr(lr, learning_rate, default=1e-3)})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data -= group["lr"] * p.grad
        return loss


def make_optimizer_groups(
    base_lrs: Iterable[float] = BASE_LRS,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
    **options: Any,
) -> Any:
    """An optimizer with one group (one parameter of shape (2,)) per base learning rate."""
    groups = [{"params": [backend.parameter(np.zeros(2))], "lr": lr, **options} for lr in base_lrs]
    return make_optimizer(groups)


def _lrs(optimizer: Any) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


def lr_sequence(
    make_scheduler: MakeScheduler,
    epochs: int = EPOCHS,
    base_lrs: Iterable[float] = BASE_LRS,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
    changes: dict[int, float] | None = None,
) -> np.ndarray:
    """The learning rate of every group in every epoch, shape ``(epochs, groups)``.

    Each epoch: record ``group["lr"]``, ``optimizer.step()``, ``scheduler.step()``.
    ``changes = {epoch: factor}`` multiplies every group's ``lr`` by ``factor`` by hand right
    after that epoch's ``scheduler.step()`` (an outside change a step-by-step schedule keeps).
    """
    optimizer = make_optimizer_groups(base_lrs, backend, make_optimizer)
    scheduler = make_scheduler(optimizer)
    rows = []
    for epoch in range(epochs):
        rows.append(_lrs(optimizer))
        optimizer.step()
        scheduler.step()
        if changes and epoch in changes:
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * changes[epoch]
    return np.array(rows, dtype=np.float64)


def closed_form_sequence(
    make_scheduler: MakeScheduler,
    epochs: int = EPOCHS,
    base_lrs: Iterable[float] = BASE_LRS,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
) -> np.ndarray:
    """``scheduler.lr_at(e)`` for ``e = 0 .. epochs - 1`` on a fresh scheduler, shape ``(epochs, groups)``."""
    scheduler = make_scheduler(make_optimizer_groups(base_lrs, backend, make_optimizer))
    return np.array([[float(lr) for lr in scheduler.lr_at(epoch)] for epoch in range(epochs)], dtype=np.float64)


def last_lr_sequence(
    make_scheduler: MakeScheduler,
    epochs: int = EPOCHS,
    base_lrs: Iterable[float] = BASE_LRS,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
) -> np.ndarray:
    """``scheduler.get_last_lr()`` after construction and after each ``scheduler.step()``."""
    optimizer = make_optimizer_groups(base_lrs, backend, make_optimizer)
    scheduler = make_scheduler(optimizer)
    rows = [[float(lr) for lr in scheduler.get_last_lr()]]
    for _ in range(epochs - 1):
        optimizer.step()
        scheduler.step()
        rows.append([float(lr) for lr in scheduler.get_last_lr()])
    return np.array(rows, dtype=np.float64)


def resumed_sequence(
    make_scheduler: MakeScheduler,
    epochs: int = EPOCHS,
    base_lrs: Iterable[float] = BASE_LRS,
    *,
    checkpoint: int = CHECKPOINT,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
) -> np.ndarray:
    """As :func:`lr_sequence`, but after ``checkpoint`` epochs training resumes from state dicts.

    The optimizer's and the scheduler's state dicts are saved; a fresh optimizer and a fresh
    scheduler are built as at the start, the optimizer's state dict is loaded, then the
    scheduler's, and training goes on with them. A correct round trip gives exactly the
    uninterrupted sequence.
    """
    base_lrs = tuple(base_lrs)
    optimizer = make_optimizer_groups(base_lrs, backend, make_optimizer)
    scheduler = make_scheduler(optimizer)
    rows = []
    for epoch in range(epochs):
        if epoch == checkpoint:
            saved_optimizer, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
            optimizer = make_optimizer_groups(base_lrs, backend, make_optimizer)
            scheduler = make_scheduler(optimizer)
            optimizer.load_state_dict(saved_optimizer)
            scheduler.load_state_dict(saved_scheduler)
        rows.append(_lrs(optimizer))
        optimizer.step()
        scheduler.step()
    return np.array(rows, dtype=np.float64)


def resume_discrepancy(make_scheduler: MakeScheduler, epochs: int = EPOCHS, base_lrs: Iterable[float] = BASE_LRS, **kwargs: Any) -> np.ndarray:
    """:func:`resumed_sequence` minus the uninterrupted :func:`lr_sequence`: zeros when a round trip works.

    Independent of whether the schedule itself is right: it checks only the state dict round trip.
    """
    base_lrs = tuple(base_lrs)
    return resumed_sequence(make_scheduler, epochs, base_lrs, **kwargs) - lr_sequence(make_scheduler, epochs, base_lrs, **kwargs)


def last_lr_discrepancy(make_scheduler: MakeScheduler, epochs: int = EPOCHS, base_lrs: Iterable[float] = BASE_LRS, **kwargs: Any) -> np.ndarray:
    """:func:`last_lr_sequence` minus the learning rates actually in the groups: zeros when ``get_last_lr()`` tells the truth."""
    base_lrs = tuple(base_lrs)
    return last_lr_sequence(make_scheduler, epochs, base_lrs, **kwargs) - lr_sequence(make_scheduler, epochs, base_lrs, **kwargs)


def step_order_warnings(
    make_scheduler: MakeScheduler,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
) -> dict[str, bool]:
    """Whether a ``UserWarning`` about the order of the two ``step()`` calls is raised.

    ``"scheduler.step() first"``: the scheduler steps three times before the optimizer ever
    does (it should warn); ``"optimizer.step() first"``: the right order for three epochs
    (it should not).
    """

    def warned(scheduler_first: bool) -> bool:
        optimizer = make_optimizer_groups(BASE_LRS, backend, make_optimizer)
        scheduler = make_scheduler(optimizer)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                if scheduler_first:
                    scheduler.step()
                else:
                    optimizer.step()
                    scheduler.step()
        return any(
            issubclass(w.category, UserWarning) and "before `optimizer.step()`" in str(w.message) for w in caught
        )

    return {"scheduler.step() first": warned(True), "optimizer.step() first": warned(False)}


def group_entries_after(
    make_scheduler: MakeScheduler,
    epochs: int = 10,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[[list[dict]], Any] = PlainSGD,
) -> list[dict[str, Any]]:
    """Every group's entries other than ``params`` and ``lr`` after ``epochs`` epochs.

    The groups carry :data:`EXTRA_OPTIONS`; a scheduler may add ``initial_lr`` and change
    ``lr``, nothing else.
    """
    optimizer = make_optimizer_groups(BASE_LRS, backend, make_optimizer, **EXTRA_OPTIONS)
    scheduler = make_scheduler(optimizer)
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
    return [
        {key: value for key, value in group.items() if key not in ("params", "lr")}
        for group in optimizer.param_groups
    ]


def expected_group_entries(base_lrs: Iterable[float] = BASE_LRS) -> list[dict[str, Any]]:
    """What :func:`group_entries_after` must return: the options as given, plus ``initial_lr``."""
    return [{**EXTRA_OPTIONS, "initial_lr": lr} for lr in base_lrs]


def scheduled_trajectory(
    make_scheduler: MakeScheduler,
    lr: float = 0.5,
    steps: int = 40,
    *,
    backend: Backend = SLOPEGRAD,
    make_optimizer: Callable[..., Any] = PlainSGD,
) -> dict[str, np.ndarray]:
    """Train the fixed problem of :mod:`.trajectories` with a scheduler stepped after every step."""
    schedulers = []

    def build(parameters: list[Any]) -> Any:
        optimizer = make_optimizer(parameters, lr=lr)
        schedulers.append(make_scheduler(optimizer))
        return optimizer

    return trajectory(build, steps, backend, after_step=lambda optimizer, t: schedulers[0].step())


def over_grid(problem: Callable[..., Any], scheduler_class: Callable[..., Any], grid: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """``problem(make_scheduler, **kwargs)`` for every option set of ``grid``, keyed by its label."""
    return {label(options): problem(lambda opt, o=options: scheduler_class(opt, **o), **kwargs) for options in grid}


def chain(classes: dict[str, Callable[..., Any]], name: str) -> MakeScheduler:
    """``make_scheduler`` for the chain :data:`CHAINS` ``[name]``, built from ``classes``.

    ``classes`` maps ``"SequentialLR"``, ``"LinearLR"``, ``"CosineAnnealingLR"`` and ``"StepLR"``
    to the classes to use (a student's, or PyTorch's).
    """
    parts, milestones = CHAINS[name]

    def make(optimizer: Any) -> Scheduler:
        schedulers = [classes[kind](optimizer, **options) for kind, options in parts]
        return classes["SequentialLR"](optimizer, schedulers, milestones=list(milestones))

    return make


def over_chains(problem: Callable[..., Any], classes: dict[str, Callable[..., Any]], **kwargs: Any) -> dict[str, Any]:
    """``problem`` for every chain of :data:`CHAINS`, keyed by the chain's name."""
    return {name: problem(chain(classes, name), **kwargs) for name in CHAINS}
