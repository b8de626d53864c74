"""Chapter 4's common mistakes (learning-rate schedules), as edits of the reference solution."""

from __future__ import annotations

from . import Catalogue, mistake

STEP, COSINE, LINEAR, SEQUENTIAL = "steplr", "cosine", "linear_warmup", "sequential"  # the solution cells

STEPLR_CELLS = {"test_steplr_visible", "test_steplr_hidden"}
COSINE_CELLS = {"test_cosine_visible", "test_cosine_hidden"}
LINEAR_CELLS = {"test_linear_visible", "test_linear_hidden"}
SEQUENTIAL_CELLS = {"test_sequential_visible", "test_sequential_hidden"}
SEQUENTIAL_HIDDEN = {"test_sequential_hidden"}

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
# Two checks' general hints, which are also the hints of the mistakes only those checks catch.
LAST_LR = (
    "get_last_lr() must return the learning rates now in the optimizer's groups: at the end of "
    "SequentialLR.step(), set self._last_lr = scheduler.get_last_lr() from the scheduler that just stepped."
)
CONTRACT = "The bookkeeping lives in LRScheduler: do not override step(), state_dict() or load_state_dict() in StepLR."

STEP_LR_AT = "base_lr * self.gamma ** (epoch // self.step_size)"
STEP_DECAYS = "if self.last_epoch > 0 and self.last_epoch % self.step_size == 0:"
STEP_CHAINABLE = """\
        current = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch > 0 and self.last_epoch % self.step_size == 0:
            return [lr * self.gamma for lr in current]
        return current
"""
COSINE_EPOCH = "math.pi * epoch / self.T_max"
COSINE_LR = "self.eta_min + (base_lr - self.eta_min) * cosine"
PROGRESS = "progress = min(epoch, self.total_iters) / self.total_iters"
SEQ_CLOSED = "return self._schedulers[index].lr_at(epoch - start)"
SEQ_RESTART = "if index > 0 and self._milestones[index - 1] == self.last_epoch:"

CATALOGUE = Catalogue("ch4_schedules", "schedules.ipynb", (
    mistake("steplr_decays_late", "StepLR decays on call step_size + 1, in both lr_at and get_lr",
            STEP, (STEP_LR_AT, "base_lr * self.gamma ** (max(epoch - 1, 0) // self.step_size)"),
            (STEP_DECAYS, "if self.last_epoch > 1 and (self.last_epoch - 1) % self.step_size == 0:"),
            loses=STEPLR_CELLS | SEQUENTIAL_HIDDEN, hint=STEP_LATE),
    mistake("steplr_one_late", "StepLR decays one call late: lr_at uses (e - 1) // step_size",
            STEP, ("(epoch // self.step_size)", "((epoch - 1) // self.step_size)"),
            loses=STEPLR_CELLS | SEQUENTIAL_HIDDEN, hint=STEP_SHIFTED, demo=True),
    mistake("steplr_decays_early", "StepLR decays one call early: (e + 1) // step_size",
            STEP, (STEP_LR_AT, "base_lr * self.gamma ** ((epoch + 1) // self.step_size)"),
            (STEP_DECAYS, "if (self.last_epoch + 1) % self.step_size == 0:"),
            loses=STEPLR_CELLS | SEQUENTIAL_HIDDEN, hint=STEP_EARLY),
    mistake("steplr_recomputes_closed_form", "StepLR's get_lr recomputes the closed form (loses outside changes)",
            STEP, (STEP_CHAINABLE, "        return self.lr_at(self.last_epoch)\n"),
            loses=STEPLR_CELLS, hint=STEP_CLOSED),
    mistake("steplr_one_base_lr", "StepLR's lr_at uses the first group's base lr for every group",
            STEP, (STEP_LR_AT + " for base_lr in self.base_lrs",
                   "self.base_lrs[0] * self.gamma ** (epoch // self.step_size) for base_lr in self.base_lrs"),
            loses={"test_steplr_hidden"} | SEQUENTIAL_HIDDEN, hint=ONE_BASE),
    mistake("steplr_overrides_step", "StepLR overrides step() and so never gives the order warning",
            STEP, ("    def lr_at(self, epoch):",
                   "    def step(self):\n        self.last_epoch += 1\n        self._set_lrs(self.get_lr())\n\n"
                   "    def lr_at(self, epoch):"),
            loses={"test_steplr_hidden"}, hint=CONTRACT),
    mistake("cosine_off_by_one", "cosine one epoch ahead: cos(pi * (e + 1) / T_max)",
            COSINE, (COSINE_EPOCH, "math.pi * (epoch + 1) / self.T_max"),
            loses=COSINE_CELLS | SEQUENTIAL_CELLS, hint=COSINE_NEXT, demo=True),
    mistake("cosine_one_behind", "cosine one epoch behind: cos(pi * (e - 1) / T_max)",
            COSINE, (COSINE_EPOCH, "math.pi * (epoch - 1) / self.T_max"),
            loses=COSINE_CELLS | SEQUENTIAL_CELLS, hint=COSINE_PREVIOUS),
    mistake("cosine_without_eta_min", "cosine anneals to 0, ignoring eta_min",
            COSINE, (COSINE_LR, "base_lr * cosine"),
            loses=COSINE_CELLS | SEQUENTIAL_HIDDEN, hint=COSINE_NO_ETA_MIN),
    mistake("cosine_one_base_lr", "cosine uses the first group's base lr for every group",
            COSINE, ("(base_lr - self.eta_min) * cosine for base_lr in self.base_lrs",
                     "(self.base_lrs[0] - self.eta_min) * cosine for base_lr in self.base_lrs"),
            loses={"test_cosine_hidden"} | SEQUENTIAL_HIDDEN, hint=ONE_BASE),
    mistake("warmup_from_zero", "the warm-up ramps from 0 instead of start_factor",
            LINEAR, ("factor = self.start_factor + (self.end_factor - self.start_factor) * progress",
                     "factor = self.end_factor * progress"),
            loses=LINEAR_CELLS | SEQUENTIAL_CELLS, hint=WARMUP_FROM_ZERO),
    mistake("warmup_never_reaches_the_end", "the warm-up stops at min(e, total_iters - 1)",
            LINEAR, (PROGRESS, "progress = min(epoch, self.total_iters - 1) / self.total_iters"),
            loses=LINEAR_CELLS | SEQUENTIAL_HIDDEN, hint=WARMUP_SHORT),  # the visible chain cannot tell
    mistake("warmup_unclamped", "the warm-up keeps moving after total_iters",
            LINEAR, (PROGRESS, "progress = epoch / self.total_iters"),
            loses=LINEAR_CELLS | SEQUENTIAL_HIDDEN, hint=WARMUP_UNCLAMPED),
    mistake("sequential_global_epoch", "SequentialLR.lr_at hands the active scheduler the global epoch",
            SEQUENTIAL, (SEQ_CLOSED, "return self._schedulers[index].lr_at(epoch)"),
            loses=SEQUENTIAL_CELLS, hint=SEQ_GLOBAL),
    mistake("sequential_never_restarts", "SequentialLR.step never restarts a scheduler at its milestone",
            SEQUENTIAL, (SEQ_RESTART, "if False:"),
            loses=SEQUENTIAL_HIDDEN, hint=SEQ_NO_RESTART),
    mistake("sequential_switches_late", "SequentialLR switches one epoch late (bisect_left)",
            SEQUENTIAL, ("index = bisect.bisect_right(self._milestones, epoch)", "index = bisect.bisect_left(self._milestones, epoch)"),
            ("index = bisect.bisect_right(self._milestones, self.last_epoch)",
             "index = bisect.bisect_left(self._milestones, self.last_epoch)"),
            loses=SEQUENTIAL_CELLS, hint=SEQ_LATE),
    mistake("sequential_forgets_last_lr", "SequentialLR.step never updates _last_lr",
            SEQUENTIAL, ("        self._last_lr = active.get_last_lr()\n", ""),
            loses=SEQUENTIAL_HIDDEN, hint=LAST_LR),
))
