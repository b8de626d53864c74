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

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL
from autograder.mistakes import Mistake
from autograder.mistakes.ch4_schedules import CATALOGUE, CONTRACT, COSINE, LAST_LR, LINEAR, SEQUENTIAL, STEP
from autograder.problems import schedules as P

from .store import spec
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


@dataclass(frozen=True)
class Check:
    """One check of the notebook: what its test cell computes, and which mistakes it can name.

    ``compute(classes, sequence, on)`` runs the test cell's problem on ``classes``; ``on`` moves it
    onto PyTorch (:data:`ON_TORCH`). ``cells`` are the solution cells the problem runs: the mistakes
    made in them give the variants, the first cell's first (an earlier variant names an equal value).
    """

    name: str
    compute: Compute
    hint: str
    cells: tuple[str, ...]
    lr_at: bool = False  # the student's side reads lr_at; PyTorch's always steps
    rtol: float = 1e-10
    atol: float = 1e-10
    closed_form: Callable[[], Any] | None = None  # the expected value where PyTorch's SGD cannot give it

    def mistakes(self) -> list[Mistake]:
        """The catalogue's mistakes made in :attr:`cells`, those of the first cell first."""
        made = [m for cell in self.cells for m in CATALOGUE.mistakes if cell in {e.cell for e in m.edits}]
        return list(dict.fromkeys(made))


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
CHAIN = (SEQUENTIAL, LINEAR, COSINE, STEP)  # SequentialLR's own mistakes first, then those its chains inherit
GROUP_ENTRIES = {"rtol": DEFAULT_RTOL, "atol": DEFAULT_ATOL, "closed_form": P.expected_group_entries}  # PyTorch's groups hold more

CHECKS = (
    # visible (their expected values are written out in the notebook too)
    Check("steplr_seed_visible", single("StepLR", 25, 0.1, step_size=10, gamma=0.1), GENERAL["steplr"], (STEP,)),
    Check("steplr_sequence_visible", STEP_VISIBLE, GENERAL["steplr"], (STEP,)),
    Check("steplr_lr_at_visible", STEP_VISIBLE, GENERAL["steplr"], (STEP,), lr_at=True),
    Check("steplr_outside_change_visible", single("StepLR", 8, 0.1, changes={2: 0.5}, step_size=2, gamma=0.5),
          GENERAL["steplr"], (STEP,)),
    Check("cosine_sequence_visible", COSINE_VISIBLE, GENERAL["cosine"], (COSINE,)),
    Check("cosine_lr_at_visible", COSINE_VISIBLE, GENERAL["cosine"], (COSINE,), lr_at=True),
    Check("linear_sequence_visible", LINEAR_VISIBLE, GENERAL["linear"], (LINEAR,)),
    Check("linear_lr_at_visible", LINEAR_VISIBLE, GENERAL["linear"], (LINEAR,), lr_at=True),
    Check("sequential_sequence_visible", warmup_then_cosine, GENERAL["sequential"], CHAIN),
    Check("sequential_lr_at_visible", warmup_then_cosine, GENERAL["sequential"], CHAIN, lr_at=True),
    # hidden: StepLR
    Check("steplr_grid", grid("StepLR", P.STEP_GRID), GENERAL["steplr"], (STEP,)),
    Check("steplr_grid_lr_at", grid("StepLR", P.STEP_GRID), GENERAL["steplr"], (STEP,), lr_at=True),
    Check("steplr_outside_changes", grid("StepLR", P.STEP_GRID, changes=P.OUTSIDE_CHANGES), GENERAL["steplr"], (STEP,)),
    Check("steplr_resume", grid("StepLR", P.STEP_GRID, P.resume_discrepancy), GENERAL["resume"], (STEP,)),
    Check("steplr_last_lr", grid("StepLR", P.STEP_GRID, P.last_lr_discrepancy), GENERAL["contract"], (STEP,)),
    Check("steplr_step_order_warning", on_steplr(P.step_order_warnings), GENERAL["contract"], (STEP,)),
    Check("steplr_only_lr", on_steplr(P.group_entries_after), GENERAL["contract"] + ONLY_LR, (STEP,), **GROUP_ENTRIES),
    # hidden: cosine
    Check("cosine_grid", grid("CosineAnnealingLR", P.COSINE_GRID), GENERAL["cosine"], (COSINE,)),
    Check("cosine_grid_lr_at", grid("CosineAnnealingLR", P.COSINE_GRID), GENERAL["cosine"], (COSINE,), lr_at=True),
    Check("cosine_three_groups", grid("CosineAnnealingLR", [dict(T_max=30, eta_min=0.001)], base_lrs=P.THREE_BASE_LRS),
          GENERAL["cosine"], (COSINE,)),
    Check("cosine_resume", grid("CosineAnnealingLR", P.COSINE_GRID, P.resume_discrepancy), GENERAL["resume"], (COSINE,)),
    # hidden: linear warm-up
    Check("linear_grid", grid("LinearLR", P.LINEAR_GRID), GENERAL["linear"], (LINEAR,)),
    Check("linear_grid_lr_at", grid("LinearLR", P.LINEAR_GRID), GENERAL["linear"], (LINEAR,), lr_at=True),
    Check("linear_resume", grid("LinearLR", P.LINEAR_GRID, P.resume_discrepancy), GENERAL["resume"], (LINEAR,)),
    # hidden: chains
    Check("sequential_grid", chains(), GENERAL["sequential"], CHAIN),
    Check("sequential_grid_lr_at", chains(), GENERAL["sequential"], CHAIN, lr_at=True),
    Check("sequential_resume", chains(P.resume_discrepancy), GENERAL["resume"], CHAIN),
    Check("sequential_last_lr", chains(P.last_lr_discrepancy), GENERAL["last_lr"], CHAIN),
    Check("sequential_step_order_warning", on_chain(P.step_order_warnings), GENERAL["sequential_warning"], CHAIN),
    Check("sequential_only_lr", on_chain(P.group_entries_after, "warmup4_step5_cosine25"), GENERAL["sequential"] + ONLY_LR,
          CHAIN, **GROUP_ENTRIES),
    Check("sequential_trajectory", on_chain(P.scheduled_trajectory), GENERAL["sequential"], CHAIN),
)


# ---- recording ----------------------------------------------------------------------------------
def solution_classes(mistake: Mistake | None) -> Classes:
    """The reference solution's scheduler classes, with ``mistake`` made."""
    namespace = CATALOGUE.solution(mistake)
    return {name: namespace[name] for name in TORCH_CLASSES}


def recorded(check: Check) -> dict[str, Any]:
    expected = check.closed_form() if check.closed_form else check.compute(TORCH_CLASSES, P.lr_sequence, ON_TORCH)
    sequence = P.closed_form_sequence if check.lr_at else P.lr_sequence
    variants = [(m.hint, check.compute(solution_classes(m), sequence, {})) for m in check.mistakes()]
    return spec(expected, rtol=check.rtol, atol=check.atol, hint=check.hint, variants=variants)


def record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    return {f"{ASSIGNMENT}.{check.name}": recorded(check) for check in CHECKS}
