"""Golden expectations of Chapter 5 (the training loop), recorded from PyTorch.

Every history check runs the same procedure of :mod:`autograder.problems.training` on PyTorch: the
slopegrad model's initial weights copied into ``torch.nn.Linear`` layers (float64), the very same
minibatches (the slopegrad loader's, turned into tensors), ``torch.optim.SGD`` / ``torch.optim.Adam``
with ``torch.optim.lr_scheduler.StepLR`` / ``ExponentialLR``, and the reference loop written in torch.

The variants run the same procedure through the loop with one of the chapter's mistakes (gradients
never zeroed or zeroed once per epoch so that they accumulate across batches, zeroed between
``backward()`` and ``step()``, the scheduler stepped per batch, before the epoch or never, the
learning rate recorded after ``scheduler.step()``, the last batch's loss or the sum of the losses
recorded instead of the mean, a crash on ``scheduler=None``), each with a hint that names the
misconception and the fix.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler as torch_schedulers

from autograder.problems import training as P
from slopegrad.data import DataLoader
from slopegrad.nn import Linear, ReLU, Sequential

from .store import spec

ASSIGNMENT = "ch5_training_loop"
HISTORY_RTOL = 1e-8  # float64 through a few hundred steps; torch and slopegrad agree to ~1e-13
HISTORY_ATOL = 1e-10


def name(check: str) -> str:
    return f"{ASSIGNMENT}.{check}"


# ----------------------------------------------------------------------------------- torch backend
def torch_model(reference: Sequential) -> torch.nn.Sequential:
    """The same network in torch (float64), with the slopegrad model's weights copied."""
    layers = []
    for module in reference:
        if isinstance(module, Linear):
            layer = torch.nn.Linear(module.in_features, module.out_features, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(np.array(module.weight.data, dtype=np.float64)))
                layer.bias.copy_(torch.from_numpy(np.array(module.bias.data, dtype=np.float64)))
            layers.append(layer)
        elif isinstance(module, ReLU):
            layers.append(torch.nn.ReLU())
        else:  # pragma: no cover - the problems build only these
            raise TypeError(f"no torch counterpart for {type(module).__name__}")
    return torch.nn.Sequential(*layers)


class TorchBatches:
    """The slopegrad loader's batches (same order, same seed) as torch tensors."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield torch.from_numpy(np.array(x.data, dtype=np.float64)), torch.from_numpy(np.asarray(y, dtype=np.int64))


class TorchRun:
    def model(self, reference: Sequential) -> torch.nn.Sequential:
        return torch_model(reference)

    def loader(self, loader: DataLoader) -> TorchBatches:
        return TorchBatches(loader)

    def accuracy(self, model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
        with torch.no_grad():
            predicted = model(torch.from_numpy(np.asarray(x, dtype=np.float64))).argmax(dim=1).numpy()
        return float(np.count_nonzero(predicted == np.asarray(y)) / len(predicted))


TORCH_RUN = TorchRun()


# ---------------------------------------------------------------------- the loop, right and wrong
MISTAKES = (
    "zero_grad_per_epoch",
    "zero_grad_never",
    "zero_grad_before_step",
    "scheduler_per_batch",
    "scheduler_first",
    "scheduler_first_lr_before",
    "scheduler_never",
    "lr_after_scheduler",
    "last_batch_loss",
    "sum_of_losses",
)


def torch_train(model, loader, optimizer, scheduler, epochs, mistakes: Iterable[str] = ()) -> dict[str, list[float]]:
    """The reference loop in torch; ``mistakes`` switches on wrong variants (:data:`MISTAKES`)."""
    mistakes = set(mistakes)
    unknown = mistakes - set(MISTAKES)
    if unknown:
        raise ValueError(f"unknown mistakes {sorted(unknown)}")
    has_scheduler = scheduler is not None and "scheduler_never" not in mistakes
    history: dict[str, list[float]] = {"loss": [], "lr": []}
    for _ in range(epochs):
        lr = optimizer.param_groups[0]["lr"]
        if has_scheduler and mistakes & {"scheduler_first", "scheduler_first_lr_before"}:
            scheduler.step()
            if "scheduler_first" in mistakes:
                lr = optimizer.param_groups[0]["lr"]
        if "zero_grad_per_epoch" in mistakes:
            optimizer.zero_grad()
        losses = []
        for x, y in loader:
            if not mistakes & {"zero_grad_per_epoch", "zero_grad_never", "zero_grad_before_step"}:
                optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            if "zero_grad_before_step" in mistakes:
                optimizer.zero_grad()
            optimizer.step()
            if has_scheduler and "scheduler_per_batch" in mistakes:
                scheduler.step()
            losses.append(loss.item())
        if has_scheduler and not mistakes & {"scheduler_per_batch", "scheduler_first", "scheduler_first_lr_before"}:
            scheduler.step()
        if "lr_after_scheduler" in mistakes:
            lr = optimizer.param_groups[0]["lr"]
        if "last_batch_loss" in mistakes:
            history["loss"].append(losses[-1])
        elif "sum_of_losses" in mistakes:
            history["loss"].append(float(np.sum(losses)))
        else:
            history["loss"].append(float(np.mean(losses)))
        history["lr"].append(float(lr))
    return history


def loop_with(*mistakes: str):
    return lambda model, loader, optimizer, scheduler, epochs: torch_train(model, loader, optimizer, scheduler, epochs, mistakes)


def crashes_without_scheduler(model, loader, optimizer, scheduler, epochs):
    """A loop that calls ``scheduler.step()`` unconditionally."""
    if scheduler is None:
        raise AttributeError("'NoneType' object has no attribute 'step'")
    return torch_train(model, loader, optimizer, scheduler, epochs)


HINTS = {
    "zero_grad_per_epoch": (
        "Your history is what a loop produces that calls optimizer.zero_grad() once per epoch instead of once "
        "per batch: gradients accumulate across backward() calls (as in PyTorch), so every step uses the sum of "
        "all the batches' gradients so far. Call optimizer.zero_grad() at the start of every batch, before "
        "loss.backward()."
    ),
    "zero_grad_never": (
        "Your history is what a loop produces that never calls optimizer.zero_grad(): gradients accumulate "
        "across backward() calls (as in PyTorch), so each step uses the sum of every gradient so far. Call "
        "optimizer.zero_grad() at the start of every batch, before loss.backward()."
    ),
    "zero_grad_before_step": (
        "Your model never changed: the steps saw no gradients. Calling optimizer.zero_grad() between "
        "loss.backward() and optimizer.step() (or stepping before backward()) throws the gradients away "
        "(zero_grad sets them to None, and optimizers skip parameters whose grad is None). The order per batch "
        "is zero_grad(), forward, loss, loss.backward(), optimizer.step()."
    ),
    "scheduler_per_batch": (
        "Your history is what a loop produces that calls scheduler.step() after every batch: the schedule then "
        "counts optimizer steps, not epochs, and decays len(loader) times too fast. Call scheduler.step() once "
        "per epoch, after the epoch's last optimizer.step()."
    ),
    "scheduler_first": (
        "Your loop calls scheduler.step() at the start of each epoch, before the epoch's optimizer steps: the "
        "first epoch already trains with the second epoch's learning rate (the base class warns about this). "
        "Call scheduler.step() at the end of the epoch, after its optimizer steps."
    ),
    "scheduler_never": (
        "The learning rate never changed: your loop does not call scheduler.step(). Call it once per epoch, "
        "after the epoch's optimizer steps (when a scheduler is given)."
    ),
    "lr_after_scheduler": (
        "The losses are right, but the learning rates are shifted by one epoch: you read "
        "optimizer.param_groups[0]['lr'] after scheduler.step(), which already holds the next epoch's rate. "
        "Record the rate the epoch trained with: read it at the start of the epoch."
    ),
    "last_batch_loss": (
        "Your history holds the loss of each epoch's last batch. Record the mean of the epoch's batch losses "
        "(the sum of float(loss.data) over the batches divided by the number of batches)."
    ),
    "sum_of_losses": (
        "Your history holds the sum of each epoch's batch losses. Record their mean: divide by the number of "
        "batches."
    ),
    "crash": (
        "Your train raised an AttributeError: scheduler may be None (no schedule). Call scheduler.step() only "
        "if scheduler is not None."
    ),
}
HISTORY_HINT = (
    "The history differs from the reference loop's (recorded from PyTorch with the same weights, batches, "
    "optimizer and scheduler). Per batch: optimizer.zero_grad(), logits = model(x), loss = "
    "cross_entropy(logits, y), loss.backward(), optimizer.step(); after the epoch: scheduler.step() if there is "
    "one. Return {'loss': [mean batch loss of each epoch], 'lr': [learning rate each epoch trained with]}."
)
OPTIMIZER_HISTORY_HINT = (
    "With your optimizers and StepLR (the classes of the section 'Bring your optimizers') the history differs "
    "from PyTorch's. If your train passes the tests with PlainSGD, check that these cells hold your finished "
    "solutions of Chapters 2-4 (they pass those chapters' tests)."
)


def _variants_of(run_name: str, optimizer_class, scheduler_class, key: str | None = "history") -> list[tuple[str, Any]]:
    """The loop mistakes' results on a run (``key``: which part of the run's result, or all of it)."""
    variants = []
    has_scheduler = P.RUNS[run_name]["scheduler"] is not None
    for mistake in MISTAKES:
        if not has_scheduler and (mistake.startswith("scheduler") or mistake == "lr_after_scheduler"):
            continue
        result = P.run(loop_with(mistake), optimizer_class, scheduler_class, run_name, TORCH_RUN)
        hint = HINTS["scheduler_first" if mistake == "scheduler_first_lr_before" else mistake]
        variants.append((hint, result if key is None else result[key]))
    if not has_scheduler:
        variants.append((HINTS["crash"], P.run(crashes_without_scheduler, optimizer_class, scheduler_class, run_name, TORCH_RUN)[key]))
    if has_scheduler:
        # stepped per batch, with the learning rate read at the end of the epoch
        result = P.run(loop_with("scheduler_per_batch", "lr_after_scheduler"), optimizer_class, scheduler_class,
                       run_name, TORCH_RUN)
        variants.append((HINTS["scheduler_per_batch"], result if key is None else result[key]))
    return variants


def _history(run_name: str, optimizer_class, scheduler_class, hint: str) -> dict[str, Any]:
    expected = P.run(torch_train, optimizer_class, scheduler_class, run_name, TORCH_RUN)["history"]
    return spec(expected, rtol=HISTORY_RTOL, atol=HISTORY_ATOL, hint=hint,
                variants=_variants_of(run_name, optimizer_class, scheduler_class))


def _bar(upper: float, lower: float = 0.0, *, hint: str) -> dict[str, Any]:
    """A range [lower, upper] as a check: the midpoint, with atol half the width (rounded so that both
    ends pass) and no rtol."""
    middle = (upper + lower) / 2
    return spec(middle, rtol=0.0, atol=max(upper - middle, middle - lower), hint=hint)


def record() -> dict[str, dict[str, Any]]:
    """Every check of the chapter; one torch thread (tiny matrices: threads only cost time here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # the variants print the errors they raise and warn about the scheduler's order: expected here
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return _record()
    finally:
        torch.set_num_threads(threads)


def _record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    sgd, adam = torch.optim.SGD, torch.optim.Adam
    step_lr, exponential = torch_schedulers.StepLR, torch_schedulers.ExponentialLR
    checks: dict[str, dict[str, Any]] = {}

    # visible: PlainSGD (torch.optim.SGD without momentum) and ExponentialLR on 256 images
    checks[name("visible_history")] = _history("small", sgd, exponential, HISTORY_HINT)
    checks[name("visible_history_without_scheduler")] = _history("small_constant", sgd, None, HISTORY_HINT)
    checks[name("visible_adam_history")] = _history("small_adam", adam, step_lr, OPTIMIZER_HISTORY_HINT)

    # hidden: the whole training set
    checks[name("history")] = _history("plain", sgd, exponential, HISTORY_HINT)
    checks[name("history_without_scheduler")] = _history("plain_constant", sgd, None, HISTORY_HINT)

    # hidden, with the student's optimizers: bars
    for run_name, optimizer_class in (("sgd_momentum", sgd), ("adam", adam)):
        label = "SGD(lr=0.05, momentum=0.9)" if optimizer_class is sgd else "Adam(lr=0.01)"
        checks[name(f"{run_name}_final_loss")] = _bar(
            P.LOSS_BAR,
            hint=f"With your {label} and StepLR(step_size=2, gamma=0.5), the mean training loss of the last of "
            f"{P.RUNS[run_name]['epochs']} epochs must be below {P.LOSS_BAR} (the check shows the range's midpoint "
            "and half-width as expected value and atol). Check your loop's order first, then your optimizer.",
        )
        checks[name(f"{run_name}_test_accuracy")] = _bar(
            1.0, P.ACCURACY_BAR,
            hint=f"With your {label} and StepLR(step_size=2, gamma=0.5), the trained model must classify at least "
            f"{P.ACCURACY_BAR:.0%} of the 357 test images correctly (the check shows the range's midpoint and "
            "half-width as expected value and atol). Check your loop's order first, then your optimizer.",
        )

    # hidden, with the student's optimizers: exact histories, and the same run twice
    checks[name("sgd_momentum_history")] = _history("sgd_momentum", sgd, step_lr, OPTIMIZER_HISTORY_HINT)
    checks[name("adam_history")] = _history("adam", adam, step_lr, OPTIMIZER_HISTORY_HINT)
    twice = P.determinism(torch_train, adam, step_lr, "adam_twice", TORCH_RUN)
    checks[name("same_seed_histories")] = spec(
        {"first": twice["first"], "second": twice["second"]}, rtol=HISTORY_RTOL, atol=HISTORY_ATOL,
        hint="Two runs from the same seeds (weights, split, batch order) must both give PyTorch's history. "
        + OPTIMIZER_HISTORY_HINT,
        variants=[
            (hint, {"first": wrong["history"], "second": wrong["history"]})
            for hint, wrong in _variants_of("adam_twice", adam, step_lr, key=None)
        ],
    )
    checks[name("same_seed_difference")] = spec(
        0.0, rtol=0.0, atol=0.0,
        hint="Two runs from the same seeds gave different losses: something keeps state from one run to the "
        "next (a class attribute or a global in your optimizer, scheduler or loop, e.g. a dict or step counter "
        "defined at class level instead of in __init__ / self.state), or your loop draws random numbers of its "
        "own. Everything random here comes from the seeds: the model's weights, the split and the loader's order.",
    )
    return checks
