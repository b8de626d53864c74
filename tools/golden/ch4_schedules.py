"""Golden expectations of Chapter 4 (learning-rate schedules), recorded from torch.optim.lr_scheduler.

Every learning-rate check runs the same procedure of :mod:`autograder.problems.schedules` on
``torch.optim.SGD`` with PyTorch's schedulers. The variants run it on slopegrad with
deliberately wrong schedulers (the common mistakes: StepLR decaying one call late or early,
cosine off by one, a warm-up that starts at 0 or never reaches its end factor, a chain that
does not restart its schedulers at the milestones, one base lr for every group, ...), so that
a failing check names the mistake.
"""

from __future__ import annotations

import bisect
import copy
import math
from typing import Any

import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import first_mismatch
from autograder.problems import schedules as P
from autograder.records import decode, encode
from slopegrad.lr_scheduler import LRScheduler

from .store import spec
from .torch_backend import TORCH

ASSIGNMENT = "ch4_schedules"


def _name(check: str) -> str:
    return f"{ASSIGNMENT}.{check}"


def torch_sgd(groups: list[dict], lr: float | None = None) -> torch.optim.SGD:
    return torch.optim.SGD(groups) if lr is None else torch.optim.SGD(groups, lr=lr)


ON_TORCH: dict[str, Any] = {"backend": TORCH, "make_optimizer": torch_sgd}
TORCH_CLASSES: dict[str, Any] = {
    "StepLR": torch_schedulers.StepLR,
    "CosineAnnealingLR": torch_schedulers.CosineAnnealingLR,
    "LinearLR": torch_schedulers.LinearLR,
    "SequentialLR": torch_schedulers.SequentialLR,
}


# ---- correct schedulers on slopegrad (to build chains around a wrong part) -----------------
class RefStepLR(LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return [base * self.gamma ** (epoch // self.step_size) for base in self.base_lrs]

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch > 0 and self.last_epoch % self.step_size == 0:
            return [lr * self.gamma for lr in lrs]
        return lrs


class RefCosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def cosine(self, epoch):
        return (1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def lr_at(self, epoch):
        return [self.eta_min + (base - self.eta_min) * self.cosine(epoch) for base in self.base_lrs]


class RefLinearLR(LRScheduler):
    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def factor(self, epoch):
        return self.start_factor + (self.end_factor - self.start_factor) * min(epoch, self.total_iters) / self.total_iters

    def lr_at(self, epoch):
        return [base * self.factor(epoch) for base in self.base_lrs]


class RefSequentialLR(LRScheduler):
    def __init__(self, optimizer, schedulers, milestones):
        self.optimizer, self._schedulers, self._milestones = optimizer, list(schedulers), list(milestones)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def active(self, epoch):
        return bisect.bisect_right(self._milestones, epoch)

    def lr_at(self, epoch):
        index = self.active(epoch)
        start = self._milestones[index - 1] if index > 0 else 0
        return self._schedulers[index].lr_at(epoch - start)

    def step(self):
        self.last_epoch += 1
        index = self.active(self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.jump_to(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update(copy.deepcopy(state))
        for scheduler, sub in zip(self._schedulers, saved):
            scheduler.load_state_dict(sub)


REF_CLASSES: dict[str, Any] = {
    "StepLR": RefStepLR,
    "CosineAnnealingLR": RefCosineAnnealingLR,
    "LinearLR": RefLinearLR,
    "SequentialLR": RefSequentialLR,
}


# ---- the common mistakes ------------------------------------------------------------------
class _ClosedFormSteps:
    """Mixin: step() recomputes from the closed form (the base class's get_lr)."""

    def get_lr(self):
        return LRScheduler.get_lr(self)


class StepLRLate(RefStepLR):
    """Decays on the call that reaches step_size + 1: lr_0 * gamma ** ((e - 1) // step_size), e >= 1."""

    def lr_at(self, epoch):
        return [base * self.gamma ** (max(epoch - 1, 0) // self.step_size) for base in self.base_lrs]

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch > 1 and (self.last_epoch - 1) % self.step_size == 0:
            return [lr * self.gamma for lr in lrs]
        return lrs


class StepLRShifted(_ClosedFormSteps, RefStepLR):
    """lr_0 * gamma ** ((e - 1) // step_size) taken literally, so epoch 0 even gets lr_0 / gamma."""

    def lr_at(self, epoch):
        return [base * self.gamma ** ((epoch - 1) // self.step_size) for base in self.base_lrs]


class StepLREarly(RefStepLR):
    """Decays one call early: lr_0 * gamma ** ((e + 1) // step_size)."""

    def lr_at(self, epoch):
        return [base * self.gamma ** ((epoch + 1) // self.step_size) for base in self.base_lrs]

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if (self.last_epoch + 1) % self.step_size == 0:
            return [lr * self.gamma for lr in lrs]
        return lrs


class StepLRClosedForm(_ClosedFormSteps, RefStepLR):
    """Right closed form, but step() recomputes it, wiping out changes made to group["lr"] by hand."""


class StepLROneBase(_ClosedFormSteps, RefStepLR):
    """Uses the first group's base lr for every group."""

    def lr_at(self, epoch):
        return [self.base_lrs[0] * self.gamma ** (epoch // self.step_size) for _ in self.base_lrs]


class CosineNext(RefCosineAnnealingLR):
    """Off by one: cos(pi * (e + 1) / T_max), so epoch 0 already starts below the base lr."""

    def cosine(self, epoch):
        return super().cosine(epoch + 1)


class CosinePrevious(RefCosineAnnealingLR):
    """Off by one the other way: cos(pi * (e - 1) / T_max)."""

    def cosine(self, epoch):
        return super().cosine(epoch - 1)


class CosineNoEtaMin(RefCosineAnnealingLR):
    """Forgets eta_min: base_lr * (1 + cos(pi * e / T_max)) / 2."""

    def lr_at(self, epoch):
        return [base * self.cosine(epoch) for base in self.base_lrs]


class CosineOneBase(RefCosineAnnealingLR):
    """Uses the first group's base lr for every group."""

    def lr_at(self, epoch):
        return [self.eta_min + (self.base_lrs[0] - self.eta_min) * self.cosine(epoch) for _ in self.base_lrs]


class WarmupFromZero(RefLinearLR):
    """Ramps from 0 instead of start_factor: end_factor * min(e, T) / T."""

    def factor(self, epoch):
        return self.end_factor * min(epoch, self.total_iters) / self.total_iters


class WarmupShort(RefLinearLR):
    """Stops one epoch short (min(e, T - 1)), so it never reaches end_factor."""

    def factor(self, epoch):
        return self.start_factor + (self.end_factor - self.start_factor) * min(epoch, self.total_iters - 1) / self.total_iters


class WarmupUnclamped(RefLinearLR):
    """Forgets to stop at total_iters: the factor keeps moving past end_factor."""

    def factor(self, epoch):
        return self.start_factor + (self.end_factor - self.start_factor) * epoch / self.total_iters


class SequentialGlobalEpoch(RefSequentialLR):
    """Hands the active scheduler the global epoch e instead of e - milestone."""

    def lr_at(self, epoch):
        return self._schedulers[self.active(epoch)].lr_at(epoch)


class SequentialNoRestart(RefSequentialLR):
    """Never restarts a scheduler at its milestone: always calls its step()."""

    def step(self):
        self.last_epoch += 1
        scheduler = self._schedulers[self.active(self.last_epoch)]
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class SequentialLateSwitch(RefSequentialLR):
    """Switches one epoch late: counts the milestones < e (bisect_left) instead of <= e."""

    def active(self, epoch):
        return bisect.bisect_left(self._milestones, epoch)


# ---- hints ----------------------------------------------------------------------------------
STEP_LATE = (
    "Your StepLR decays one call late. e counts the calls of scheduler.step() (e = 0 right after "
    "construction), and the first decay happens on call number step_size: lr_e = lr_0 * gamma ** "
    "(e // step_size). In get_lr(), last_epoch has already been incremented: multiply by gamma when "
    "last_epoch > 0 and last_epoch % step_size == 0 (not when (last_epoch - 1) is a multiple)."
)
STEP_SHIFTED = (
    "Your StepLR uses (e - 1) // step_size: that decays one call late, and at e = 0 it even gives "
    "lr_0 / gamma because (-1) // step_size == -1. The exponent is e // step_size."
)
STEP_EARLY = (
    "Your StepLR decays one call early: (e + 1) // step_size. e is the number of scheduler.step() "
    "calls so far, 0 right after construction; use lr_0 * gamma ** (e // step_size)."
)
STEP_CLOSED = (
    "Your StepLR's get_lr() recomputes the closed form, so a change made to group['lr'] from outside "
    "(by hand, or by another scheduler) is lost at the next step. Compute the new lr from the current "
    "group['lr']: multiply it by gamma when last_epoch is a positive multiple of step_size, else keep it."
)
ONE_BASE = (
    "Every parameter group has its own base learning rate: use self.base_lrs[i] for group i "
    "(return one lr per base lr, in order), not the first group's for all."
)
COSINE_NEXT = (
    "Your cosine is off by one: it uses cos(pi * (e + 1) / T_max), so epoch 0 already starts below the "
    "base lr. Use e itself: lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2, "
    "which gives base_lr at e = 0 and eta_min at e = T_max."
)
COSINE_PREVIOUS = (
    "Your cosine is off by one: it uses cos(pi * (e - 1) / T_max). Use e itself, so that e = 0 gives "
    "the base lr and e = T_max gives eta_min."
)
COSINE_NO_ETA_MIN = (
    "Your cosine ignores eta_min: lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2 "
    "goes down to eta_min, not to 0."
)
WARMUP_FROM_ZERO = (
    "Your warm-up starts at 0 instead of start_factor, so the first epoch trains with lr = 0 (and the "
    "ramp is too steep). The factor is start_factor + (end_factor - start_factor) * min(e, total_iters) "
    "/ total_iters: start_factor at e = 0."
)
WARMUP_SHORT = (
    "Your warm-up never reaches end_factor: it stops at min(e, total_iters - 1). The factor must be "
    "exactly end_factor from e = total_iters on: use min(e, total_iters)."
)
WARMUP_UNCLAMPED = (
    "Your warm-up keeps changing after total_iters epochs. Clamp the progress with min(e, total_iters) "
    "/ total_iters, so the factor stays at end_factor afterwards."
)
SEQ_GLOBAL = (
    "Your SequentialLR.lr_at hands the active scheduler the global epoch. Each scheduler restarts at "
    "its own epoch 0 at its milestone: use schedulers[i].lr_at(e - milestones[i - 1]) (e itself for i = 0)."
)
SEQ_NO_RESTART = (
    "Your SequentialLR.step() never restarts the scheduler that takes over at a milestone. When "
    "last_epoch equals that milestone, call scheduler.jump_to(0) (it sets the closed form of its epoch 0); "
    "call scheduler.step() on the other epochs."
)
SEQ_LATE = (
    "Your SequentialLR switches one epoch late: at e == milestone the next scheduler must already be in "
    "charge. The active index is the number of milestones <= e: bisect.bisect_right(milestones, e)."
)
IN_CHAIN = "Your {cls} is wrong, and the chain inherits the mistake: {hint}"

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
    "last_lr": (
        "get_last_lr() must return the learning rates now in the optimizer's groups: at the end of "
        "SequentialLR.step(), set self._last_lr = scheduler.get_last_lr() from the scheduler that just stepped."
    ),
    "sequential_warning": (
        "The order warning comes from the schedulers' own step(): SequentialLR.step() must call the active "
        "scheduler's step() (jump_to(0) only exactly at a milestone), and never catch or silence warnings."
    ),
    "contract": "The bookkeeping lives in LRScheduler: do not override step(), state_dict() or load_state_dict() in StepLR.",
}

STEP_MISTAKES = [(STEP_LATE, StepLRLate), (STEP_SHIFTED, StepLRShifted), (STEP_EARLY, StepLREarly), (ONE_BASE, StepLROneBase)]
COSINE_MISTAKES = [
    (COSINE_NEXT, CosineNext),
    (COSINE_PREVIOUS, CosinePrevious),
    (COSINE_NO_ETA_MIN, CosineNoEtaMin),
    (ONE_BASE, CosineOneBase),
]
LINEAR_MISTAKES = [(WARMUP_FROM_ZERO, WarmupFromZero), (WARMUP_SHORT, WarmupShort), (WARMUP_UNCLAMPED, WarmupUnclamped)]
SEQUENTIAL_MISTAKES = [
    (SEQ_GLOBAL, SequentialGlobalEpoch),
    (SEQ_NO_RESTART, SequentialNoRestart),
    (SEQ_LATE, SequentialLateSwitch),
]


# ---- the visible checks' problems (also in the notebook, written out) -----------------------
def seed_example(classes, on):
    return P.lr_sequence(lambda o: classes["StepLR"](o, step_size=10, gamma=0.1), epochs=25, base_lrs=[0.1], **on)[:, 0]


def step_visible(classes, on, problem=P.lr_sequence):
    return problem(lambda o: classes["StepLR"](o, step_size=3, gamma=0.5), epochs=10, base_lrs=[0.1], **on)[:, 0]


def cosine_visible(classes, on, problem=P.lr_sequence):
    return problem(lambda o: classes["CosineAnnealingLR"](o, T_max=4, eta_min=0.2), epochs=9, base_lrs=[1.0], **on)[:, 0]


def linear_visible(classes, on, problem=P.lr_sequence):
    return problem(lambda o: classes["LinearLR"](o, start_factor=0.25, total_iters=3), epochs=6, base_lrs=[0.4], **on)[:, 0]


def sequential_visible(classes, on, problem=P.lr_sequence):
    def make(o):
        warmup = classes["LinearLR"](o, start_factor=0.25, total_iters=3)
        cosine = classes["CosineAnnealingLR"](o, T_max=4)
        return classes["SequentialLR"](o, [warmup, cosine], milestones=[3])

    return problem(make, epochs=8, base_lrs=[0.4], **on)[:, 0]


# ---- recording ----------------------------------------------------------------------------
def record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    checks: dict[str, dict[str, Any]] = {}

    def add(check, compute, group, mistakes, closed=False, rtol=1e-10, atol=1e-10):
        """expected from torch; variants from the mistakes (hint, class) given as replacements."""
        expected = compute(TORCH_CLASSES, ON_TORCH, False)
        variants = []
        for hint, classes in mistakes:
            wrong = compute({**REF_CLASSES, **classes}, {}, closed)
            if _same(wrong, expected, rtol, atol):
                continue  # this mistake does not show on this problem
            if any(_same(wrong, value, rtol, atol) for _, value in variants):
                continue  # already named by an earlier hint
            variants.append((hint, wrong))
        checks[_name(check)] = spec(expected, rtol=rtol, atol=atol, hint=GENERAL[group], variants=variants)

    def replacing(cls_name, mistakes, in_chain=False):
        if in_chain:
            return [(IN_CHAIN.format(cls=cls_name, hint=hint), {cls_name: wrong}) for hint, wrong in mistakes]
        return [(hint, {cls_name: wrong}) for hint, wrong in mistakes]

    step_m = replacing("StepLR", STEP_MISTAKES)
    cos_m = replacing("CosineAnnealingLR", COSINE_MISTAKES)
    lin_m = replacing("LinearLR", LINEAR_MISTAKES)
    seq_m = replacing("SequentialLR", SEQUENTIAL_MISTAKES)
    chain_m = (
        seq_m
        + replacing("LinearLR", LINEAR_MISTAKES, in_chain=True)
        + replacing("CosineAnnealingLR", COSINE_MISTAKES[:3], in_chain=True)
        + replacing("StepLR", STEP_MISTAKES[:3], in_chain=True)
    )
    closed_step = [(STEP_CLOSED, {"StepLR": StepLRClosedForm})]

    def seq_or_closed(problem_fn):
        """compute(classes, on, closed): the stepwise sequence, or lr_at's on a student's classes."""

        def compute(classes, on, closed):
            return problem_fn(classes, on, P.closed_form_sequence if closed else P.lr_sequence)

        return compute

    # visible
    add("steplr_seed_visible", lambda c, on, closed: seed_example(c, on), "steplr", step_m)
    add("steplr_sequence_visible", seq_or_closed(step_visible), "steplr", step_m)
    add("steplr_lr_at_visible", seq_or_closed(step_visible), "steplr", step_m, closed=True)
    add(
        "steplr_outside_change_visible",
        lambda c, on, closed: P.lr_sequence(
            lambda o: c["StepLR"](o, step_size=2, gamma=0.5), epochs=8, base_lrs=[0.1], changes={2: 0.5}, **on
        )[:, 0],
        "steplr",
        closed_step + step_m,
    )
    add("cosine_sequence_visible", seq_or_closed(cosine_visible), "cosine", cos_m)
    add("cosine_lr_at_visible", seq_or_closed(cosine_visible), "cosine", cos_m, closed=True)
    add("linear_sequence_visible", seq_or_closed(linear_visible), "linear", lin_m)
    add("linear_lr_at_visible", seq_or_closed(linear_visible), "linear", lin_m, closed=True)
    add("sequential_sequence_visible", seq_or_closed(sequential_visible), "sequential", chain_m)
    add("sequential_lr_at_visible", seq_or_closed(sequential_visible), "sequential", chain_m, closed=True)

    # hidden: StepLR
    def grid(name, grid_):
        def compute(classes, on, closed, problem=None, **kw):
            chosen = problem or (P.closed_form_sequence if closed else P.lr_sequence)
            return P.over_grid(chosen, classes[name], grid_, **on, **kw)

        return compute

    add("steplr_grid", grid("StepLR", P.STEP_GRID), "steplr", step_m)
    add("steplr_grid_lr_at", grid("StepLR", P.STEP_GRID), "steplr", step_m, closed=True)
    add(
        "steplr_outside_changes",
        lambda c, on, closed: grid("StepLR", P.STEP_GRID)(c, on, False, changes=P.OUTSIDE_CHANGES),
        "steplr",
        closed_step + step_m,
    )
    add("steplr_resume", lambda c, on, closed: grid("StepLR", P.STEP_GRID)(c, on, False, problem=P.resume_discrepancy), "resume", [])
    add("steplr_last_lr", lambda c, on, closed: grid("StepLR", P.STEP_GRID)(c, on, False, problem=P.last_lr_discrepancy), "contract", [])
    add(
        "steplr_step_order_warning",
        lambda c, on, closed: P.step_order_warnings(lambda o: c["StepLR"](o, step_size=2, gamma=0.5), **on),
        "contract",
        [],
    )
    # Closed form: what a scheduler may leave in a group (PyTorch's SGD groups hold other keys).
    checks[_name("steplr_only_lr")] = spec(P.expected_group_entries(), hint=GENERAL["contract"] + (
        " A scheduler writes group['lr'] (and sets group['initial_lr'] once); it never touches other entries."
    ))

    # hidden: cosine
    add("cosine_grid", grid("CosineAnnealingLR", P.COSINE_GRID), "cosine", cos_m)
    add("cosine_grid_lr_at", grid("CosineAnnealingLR", P.COSINE_GRID), "cosine", cos_m, closed=True)
    add(
        "cosine_resume",
        lambda c, on, closed: grid("CosineAnnealingLR", P.COSINE_GRID)(c, on, False, problem=P.resume_discrepancy),
        "resume",
        [],
    )
    three = [dict(T_max=30, eta_min=0.001)]
    add(
        "cosine_three_groups",
        lambda c, on, closed: P.over_grid(P.lr_sequence, c["CosineAnnealingLR"], three, base_lrs=P.THREE_BASE_LRS, **on),
        "cosine",
        cos_m,
    )

    # hidden: linear warm-up
    add("linear_grid", grid("LinearLR", P.LINEAR_GRID), "linear", lin_m)
    add("linear_grid_lr_at", grid("LinearLR", P.LINEAR_GRID), "linear", lin_m, closed=True)
    add(
        "linear_resume",
        lambda c, on, closed: grid("LinearLR", P.LINEAR_GRID)(c, on, False, problem=P.resume_discrepancy),
        "resume",
        [],
    )

    # hidden: chains
    def chains(classes, on, closed, problem=None, **kw):
        chosen = problem or (P.closed_form_sequence if closed else P.lr_sequence)
        return P.over_chains(chosen, classes, **on, **kw)

    add("sequential_grid", chains, "sequential", chain_m)
    add("sequential_grid_lr_at", chains, "sequential", chain_m, closed=True)
    add("sequential_resume", lambda c, on, closed: chains(c, on, False, problem=P.resume_discrepancy), "resume", [])
    add("sequential_last_lr", lambda c, on, closed: chains(c, on, False, problem=P.last_lr_discrepancy), "last_lr", [])
    add(
        "sequential_step_order_warning",
        lambda c, on, closed: P.step_order_warnings(P.chain(c, P.TRAJECTORY_CHAIN), **on),
        "sequential_warning",
        [],
    )
    checks[_name("sequential_only_lr")] = spec(P.expected_group_entries(), hint=GENERAL["sequential"] + (
        " A scheduler writes group['lr'] (and sets group['initial_lr'] once); it never touches other entries."
    ))
    add(
        "sequential_trajectory",
        lambda c, on, closed: P.scheduled_trajectory(P.chain(c, P.TRAJECTORY_CHAIN), **on),
        "sequential",
        chain_m,
    )
    return checks


def _same(a: Any, b: Any, rtol: float, atol: float) -> bool:
    """Whether two values are equal as the judge sees them (after their trip through JSON)."""
    return first_mismatch(decode(encode(a)), decode(encode(b)), rtol, atol) is None
