"""Golden expectations of Chapter 4 (learning-rate schedules), recorded from torch.optim.lr_scheduler.

Every check runs the procedure of :mod:`autograder.problems.schedules` its test cell runs: on
``torch.optim.SGD`` with PyTorch's schedulers for the expected value, and on the reference
solution with each common mistake of :mod:`autograder.mistakes.ch4_schedules` made for the
variants (StepLR decaying one call late or early, cosine off by one, a warm-up that starts at 0
or never reaches its end factor, a chain that does not restart its schedulers at the milestones,
one base lr for every group, ...). So a student who makes one of them records exactly its
variant, and the failing check names the mistake.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.mistakes.ch4_schedules import CATALOGUE, CONTRACT, COSINE, LAST_LR, LINEAR, SEQUENTIAL, STEP
from autograder.problems import schedules as P

from . import table
from .table import Check, Choice, made_in
from .torch_backend import TORCH

ASSIGNMENT = "ch4_schedules"


def torch_sgd(groups: list[dict], lr: float | None = None) -> torch.optim.SGD:
    return torch.optim.SGD(groups) if lr is None else torch.optim.SGD(groups, lr=lr)


ON_TORCH: dict[str, Any] = {"backend": TORCH, "make_optimizer": torch_sgd}
TORCH_CLASSES: dict[str, Any] = {
    "StepLR": torch_schedulers.StepLR,
    "CosineAnnealingLR": torch_schedulers.CosineAnnealingLR,
    "LinearLR": torch_schedulers.LinearLR,
    "SequentialLR": torch_schedulers.SequentialLR,
}

GENERAL = {
    "steplr": "StepLR: lr_e = lr_0 * gamma ** (e // step_size) for each group's own base lr; e counts the calls of scheduler.step().",
    "cosine": "CosineAnnealingLR: lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2 for each group's base lr, also beyond T_max.",
    "linear": "LinearLR: lr_e = base_lr * (start_factor + (end_factor - start_factor) * min(e, total_iters) / total_iters).",
    "sequential": (
        "SequentialLR: at epoch e the active scheduler is i = bisect_right(milestones, e), at its own epoch "
        "e - milestones[i - 1]; step() restarts it with jump_to(0) exactly at its milestone."
    ),
    "resume": (
        "After state_dict() / load_state_dict() into a fresh optimizer and scheduler, training must go on "
        "with exactly the uninterrupted learning rates: keep every piece of your scheduler's state in "
        "attributes of self (the base class saves them all), and do not override state_dict()."
    ),
    "last_lr": LAST_LR,
    "sequential_warning": (
        "The order warning comes from the schedulers' own step(): SequentialLR.step() must call the active "
        "scheduler's step() (jump_to(0) only exactly at a milestone), and never catch or silence warnings."
    ),
    "contract": CONTRACT,
}
ONLY_LR = " A scheduler writes group['lr'] (and sets group['initial_lr'] once); it never touches other entries."

Classes = dict[str, Any]  # "StepLR", "CosineAnnealingLR", "LinearLR", "SequentialLR" -> PyTorch's or a solution's class
Sequence = Callable[..., np.ndarray]  # how a test cell reads the rates: P.lr_sequence (stepped) or P.closed_form_sequence
Compute = Callable[[Classes, Sequence, dict[str, Any]], Any]  # (classes, sequence, on) -> the checked value


def check(name: str, compute: Compute, hint: str, mistakes: Choice, lr_at: bool = False,
          closed_form: Callable[[], Any] | None = None) -> Check:
    """The table's row of one test cell: ``compute(classes, sequence, on)`` is its problem.

    The expected value runs it on PyTorch (:data:`ON_TORCH`, rates read by stepping), unless
    ``closed_form()`` gives it where PyTorch's SGD cannot; a solution runs it on its own classes,
    read with ``lr_at`` where the test cell does (PyTorch's schedulers always step).
    """
    sequence = P.closed_form_sequence if lr_at else P.lr_sequence
    return Check(
        name,
        computed=lambda solution: compute({kind: solution[kind] for kind in TORCH_CLASSES}, sequence, {}),
        expected=closed_form or (lambda: compute(TORCH_CLASSES, P.lr_sequence, ON_TORCH)),
        hint=hint,
        mistakes=mistakes,
    )


# ---- the test cells' problems -----------------------------------------------------------------
def single(kind: str, epochs: int, base_lr: float, changes: dict[int, float] | None = None, **options: Any) -> Compute:
    """One group's rates under ``classes[kind](optimizer, **options)`` (the visible checks)."""
    extra = {"changes": changes} if changes else {}

    def compute(classes, sequence, on):
        return sequence(lambda o: classes[kind](o, **options), epochs=epochs, base_lrs=[base_lr], **extra, **on)[:, 0]

    return compute


def warmup_then_cosine(classes: Classes, sequence: Sequence, on: dict[str, Any]) -> np.ndarray:
    def make(o):
        warmup = classes["LinearLR"](o, start_factor=0.25, total_iters=3)
        cosine = classes["CosineAnnealingLR"](o, T_max=4)
        return classes["SequentialLR"](o, [warmup, cosine], milestones=[3])

    return sequence(make, epochs=8, base_lrs=[0.4], **on)[:, 0]


def grid(kind: str, options: list[dict[str, Any]], problem: Callable[..., Any] | None = None, **kwargs: Any) -> Compute:
    """``problem`` (else the check's sequence) for each option set of ``classes[kind]``."""
    return lambda classes, sequence, on: P.over_grid(problem or sequence, classes[kind], options, **on, **kwargs)


def chains(problem: Callable[..., Any] | None = None) -> Compute:
    """``problem`` (else the check's sequence) for each chain of :data:`P.CHAINS`."""
    return lambda classes, sequence, on: P.over_chains(problem or sequence, classes, **on)


def on_chain(problem: Callable[..., Any], name: str = P.TRAJECTORY_CHAIN) -> Compute:
    return lambda classes, sequence, on: problem(P.chain(classes, name), **on)


def on_steplr(problem: Callable[..., Any]) -> Compute:
    return lambda classes, sequence, on: problem(lambda o: classes["StepLR"](o, step_size=2, gamma=0.5), **on)


STEP_VISIBLE = single("StepLR", 10, 0.1, step_size=3, gamma=0.5)
COSINE_VISIBLE = single("CosineAnnealingLR", 9, 1.0, T_max=4, eta_min=0.2)
LINEAR_VISIBLE = single("LinearLR", 6, 0.4, start_factor=0.25, total_iters=3)
IN_STEP, IN_COSINE, IN_LINEAR = made_in(STEP), made_in(COSINE), made_in(LINEAR)  # the mistakes each check names
# SequentialLR's own mistakes and those its chains inherit, in the catalogue's order: no two of them record
# the same wrong value on the chains, so none hides another's hint (tests/test_mistakes.py fails if one does).
IN_CHAIN = made_in(SEQUENTIAL, LINEAR, COSINE, STEP)
GROUP_ENTRIES = P.expected_group_entries  # PyTorch's groups hold more entries than a solution's

CHECKS = (
    # visible (their expected values are written out in the notebook too)
    check("steplr_seed_visible", single("StepLR", 25, 0.1, step_size=10, gamma=0.1), GENERAL["steplr"], IN_STEP),
    check("steplr_sequence_visible", STEP_VISIBLE, GENERAL["steplr"], IN_STEP),
    check("steplr_lr_at_visible", STEP_VISIBLE, GENERAL["steplr"], IN_STEP, lr_at=True),
    check("steplr_outside_change_visible", single("StepLR", 8, 0.1, changes={2: 0.5}, step_size=2, gamma=0.5),
          GENERAL["steplr"], IN_STEP),
    check("cosine_sequence_visible", COSINE_VISIBLE, GENERAL["cosine"], IN_COSINE),
    check("cosine_lr_at_visible", COSINE_VISIBLE, GENERAL["cosine"], IN_COSINE, lr_at=True),
    check("linear_sequence_visible", LINEAR_VISIBLE, GENERAL["linear"], IN_LINEAR),
    check("linear_lr_at_visible", LINEAR_VISIBLE, GENERAL["linear"], IN_LINEAR, lr_at=True),
    check("sequential_sequence_visible", warmup_then_cosine, GENERAL["sequential"], IN_CHAIN),
    check("sequential_lr_at_visible", warmup_then_cosine, GENERAL["sequential"], IN_CHAIN, lr_at=True),
    # hidden: StepLR
    check("steplr_grid", grid("StepLR", P.STEP_GRID), GENERAL["steplr"], IN_STEP),
    check("steplr_grid_lr_at", grid("StepLR", P.STEP_GRID), GENERAL["steplr"], IN_STEP, lr_at=True),
    check("steplr_outside_changes", grid("StepLR", P.STEP_GRID, changes=P.OUTSIDE_CHANGES), GENERAL["steplr"], IN_STEP),
    check("steplr_resume", grid("StepLR", P.STEP_GRID, P.resume_discrepancy), GENERAL["resume"], IN_STEP),
    check("steplr_last_lr", grid("StepLR", P.STEP_GRID, P.last_lr_discrepancy), GENERAL["contract"], IN_STEP),
    check("steplr_step_order_warning", on_steplr(P.step_order_warnings), GENERAL["contract"], IN_STEP),
    check("steplr_only_lr", on_steplr(P.group_entries_after), GENERAL["contract"] + ONLY_LR, IN_STEP,
          closed_form=GROUP_ENTRIES),
    # hidden: cosine
    check("cosine_grid", grid("CosineAnnealingLR", P.COSINE_GRID), GENERAL["cosine"], IN_COSINE),
    check("cosine_grid_lr_at", grid("CosineAnnealingLR", P.COSINE_GRID), GENERAL["cosine"], IN_COSINE, lr_at=True),
    check("cosine_three_groups", grid("CosineAnnealingLR", [dict(T_max=30, eta_min=0.001)], base_lrs=P.THREE_BASE_LRS),
          GENERAL["cosine"], IN_COSINE),
    check("cosine_resume", grid("CosineAnnealingLR", P.COSINE_GRID, P.resume_discrepancy), GENERAL["resume"], IN_COSINE),
    # hidden: linear warm-up
    check("linear_grid", grid("LinearLR", P.LINEAR_GRID), GENERAL["linear"], IN_LINEAR),
    check("linear_grid_lr_at", grid("LinearLR", P.LINEAR_GRID), GENERAL["linear"], IN_LINEAR, lr_at=True),
    check("linear_resume", grid("LinearLR", P.LINEAR_GRID, P.resume_discrepancy), GENERAL["resume"], IN_LINEAR),
    # hidden: chains
    check("sequential_grid", chains(), GENERAL["sequential"], IN_CHAIN),
    check("sequential_grid_lr_at", chains(), GENERAL["sequential"], IN_CHAIN, lr_at=True),
    check("sequential_resume", chains(P.resume_discrepancy), GENERAL["resume"], IN_CHAIN),
    check("sequential_last_lr", chains(P.last_lr_discrepancy), GENERAL["last_lr"], IN_CHAIN),
    check("sequential_step_order_warning", on_chain(P.step_order_warnings), GENERAL["sequential_warning"], IN_CHAIN),
    check("sequential_only_lr", on_chain(P.group_entries_after, "warmup4_step5_cosine25"), GENERAL["sequential"] + ONLY_LR,
          IN_CHAIN, closed_form=GROUP_ENTRIES),
    check("sequential_trajectory", on_chain(P.scheduled_trajectory), GENERAL["sequential"], IN_CHAIN),
)


# ---- recording ----------------------------------------------------------------------------------
def record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    return table.record(CATALOGUE, CHECKS)
