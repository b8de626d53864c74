"""Golden expectations of Chapter 5 (the training loop), recorded from PyTorch.

Every history check runs the same procedure of :mod:`autograder.problems.training_loop` on PyTorch: the
slopegrad model's initial weights copied into ``torch.nn.Linear`` layers (float64), the very same
minibatches (the slopegrad loader's, turned into tensors), ``torch.optim.SGD`` / ``torch.optim.Adam``
with ``torch.optim.lr_scheduler.StepLR`` / ``ExponentialLR``, and the reference loop written in torch.

The variants are what a student with one of the chapter's mistakes records
(:mod:`autograder.mistakes.ch5_training_loop`: gradients never zeroed or zeroed once per epoch,
zeroed between ``backward()`` and ``step()``, the scheduler stepped per batch, before the epoch or
never, the learning rate read after ``scheduler.step()``, the last batch's loss or the sum of the
losses recorded instead of the mean, a crash on ``scheduler=None``): the reference solution with
that mistake's edit, run with the reference optimizers on slopegrad, each with the mistake's hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler as torch_schedulers

from autograder.mistakes import Catalogue, Mistake
from autograder.mistakes.ch5_training_loop import CATALOGUE
from autograder.problems import training_loop as P
from slopegrad.data import DataLoader
from slopegrad.nn import Linear, ReLU, Sequential

from .table import NOBODY, Check, Namespace, made_in, record as record_table

ASSIGNMENT = "ch5_training_loop"
HISTORY_RTOL = 1e-8  # float64 through a few hundred steps; torch and slopegrad agree to ~1e-13
HISTORY_ATOL = 1e-10


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


# ------------------------------------------------------------------------------- the reference loop
def torch_train(model, loader, optimizer, scheduler, epochs) -> dict[str, list[float]]:
    """The reference loop in torch: what every expected history is recorded from."""
    history: dict[str, list[float]] = {"loss": [], "lr": []}
    for _ in range(epochs):
        lr = optimizer.param_groups[0]["lr"]
        losses = []
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(float(np.mean(losses)))
        history["lr"].append(float(lr))
    return history


# ------------------------------------------------------------------------------- the graded runs
TORCH_CLASSES = {  # the notebook's classes -> torch's
    "PlainSGD": torch.optim.SGD,
    "SGD": torch.optim.SGD,
    "Adam": torch.optim.Adam,
    "ExponentialLR": torch_schedulers.ExponentialLR,
    "StepLR": torch_schedulers.StepLR,
}


@dataclass(frozen=True)
class Run:
    """A run of :data:`autograder.problems.training_loop.RUNS` with the classes a graded cell names."""

    name: str
    optimizer: str  # a class of the notebook's namespace (TORCH_CLASSES)
    scheduler: str

    def expected(self) -> dict[str, Any]:
        """PyTorch's run: torch.optim, torch's schedulers and the reference loop."""
        return _torch_run(self)

    def on(self, solution: Namespace) -> dict[str, Any]:
        """The run as a student with this solution records it (its loop and optimizers, slopegrad)."""
        return _student_run(self, solution["train"], solution[self.optimizer], solution[self.scheduler])


@cache
def _torch_run(run: Run) -> dict[str, Any]:
    return P.run(torch_train, TORCH_CLASSES[run.optimizer], TORCH_CLASSES[run.scheduler], run.name, TORCH_RUN)


@cache  # (a solution's functions are the same objects every time it is asked for: one training per run)
def _student_run(run: Run, train: Callable, optimizer_class: type, scheduler_class: type) -> dict[str, Any]:
    return P.run(train, optimizer_class, scheduler_class, run.name)


EVERY_MISTAKE = made_in("train")  # every mistake of the chapter is made in its loop

SMALL = Run("small", "PlainSGD", "ExponentialLR")
SMALL_CONSTANT = Run("small_constant", "PlainSGD", "ExponentialLR")
SMALL_ADAM = Run("small_adam", "Adam", "StepLR")
PLAIN = Run("plain", "PlainSGD", "ExponentialLR")
PLAIN_CONSTANT = Run("plain_constant", "PlainSGD", "ExponentialLR")
SGD_MOMENTUM = Run("sgd_momentum", "SGD", "StepLR")
ADAM = Run("adam", "Adam", "StepLR")
ADAM_TWICE = Run("adam_twice", "Adam", "StepLR")


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
BAR_HINT = (
    "With your {label} and StepLR(step_size=2, gamma=0.5), {what} (the check shows the range's midpoint and "
    "half-width as expected value and atol). Check your loop's order first, then your optimizer."
)

HISTORIES = {  # check -> the run whose history it compares, its general hint
    "visible_history": (SMALL, HISTORY_HINT),
    "visible_history_without_scheduler": (SMALL_CONSTANT, HISTORY_HINT),
    "visible_adam_history": (SMALL_ADAM, OPTIMIZER_HISTORY_HINT),
    "history": (PLAIN, HISTORY_HINT),
    "history_without_scheduler": (PLAIN_CONSTANT, HISTORY_HINT),
    "sgd_momentum_history": (SGD_MOMENTUM, OPTIMIZER_HISTORY_HINT),
    "adam_history": (ADAM, OPTIMIZER_HISTORY_HINT),
}
BARS = {SGD_MOMENTUM: "SGD(lr=0.05, momentum=0.9)", ADAM: "Adam(lr=0.01)"}  # run -> its optimizer, as hints name it


def _history(name: str, run: Run, hint: str) -> Check:
    return Check(name, lambda solution: run.on(solution)["history"], lambda: run.expected()["history"], hint,
                 EVERY_MISTAKE, rtol=HISTORY_RTOL, atol=HISTORY_ATOL)


def _bar(name: str, value: Callable[[dict[str, Any]], float], run: Run, upper: float, lower: float = 0.0, *,
         hint: str) -> Check:
    """A range [lower, upper] of ``value(result of run)`` as a check: the midpoint, with atol half the
    width (rounded so that both ends pass) and no rtol. A mistake's result outside the range is named
    within that same atol, and only where no other mistake's result lies that close: a wide bar must not
    name the wrong mistake (near chance accuracy, or near the untrained loss, several mistakes look alike)."""
    middle = (upper + lower) / 2
    atol = max(upper - middle, middle - lower)

    def expected() -> float:
        assert lower <= value(run.expected()) <= upper, "PyTorch's run must clear its own bar"
        return middle

    def told_apart(catalogue: Catalogue) -> list[Mistake]:
        results = {m: value(run.on(catalogue.solution(m))) for m in EVERY_MISTAKE(catalogue)}
        failing = {m: v for m, v in results.items() if abs(v - middle) > atol}
        return [m for m, v in failing.items() if all(abs(v - w) > atol for o, w in failing.items() if o.hint != m.hint)]

    return Check(name, lambda solution: value(run.on(solution)), expected, hint, told_apart, rtol=0.0, atol=atol)


def _bars(run: Run, label: str) -> list[Check]:
    epochs = P.RUNS[run.name]["epochs"]
    return [
        _bar(f"{run.name}_final_loss", P.final_loss, run, P.LOSS_BAR,
             hint=BAR_HINT.format(label=label, what=f"the mean training loss of the last of {epochs} epochs must be "
                                  f"below {P.LOSS_BAR}")),
        _bar(f"{run.name}_test_accuracy", lambda result: result["test_accuracy"], run, 1.0, P.ACCURACY_BAR,
             hint=BAR_HINT.format(label=label, what=f"the trained model must classify at least {P.ACCURACY_BAR:.0%} "
                                  "of the 357 test images correctly")),
    ]


def _twice(train, optimizer_class, scheduler_class, backend=P.SLOPEGRAD_RUN) -> dict[str, Any]:
    result = P.determinism(train, optimizer_class, scheduler_class, ADAM_TWICE.name, backend)
    return {"first": result["first"], "second": result["second"]}


def _same_seed_checks() -> list[Check]:
    def on(solution: Namespace) -> dict[str, Any]:
        return _twice(solution["train"], solution[ADAM_TWICE.optimizer], solution[ADAM_TWICE.scheduler])

    return [
        Check("same_seed_histories", on,
              lambda: _twice(torch_train, TORCH_CLASSES[ADAM_TWICE.optimizer], TORCH_CLASSES[ADAM_TWICE.scheduler],
                             TORCH_RUN),
              "Two runs from the same seeds (weights, split, batch order) must both give PyTorch's history. "
              + OPTIMIZER_HISTORY_HINT, EVERY_MISTAKE, rtol=HISTORY_RTOL, atol=HISTORY_ATOL),
        Check("same_seed_difference",
              lambda solution: P.determinism(solution["train"], solution[ADAM_TWICE.optimizer],
                                             solution[ADAM_TWICE.scheduler], ADAM_TWICE.name)["largest_difference"],
              lambda: 0.0,
              "Two runs from the same seeds gave different losses: something keeps state from one run to the "
              "next (a class attribute or a global in your optimizer, scheduler or loop, e.g. a dict or step counter "
              "defined at class level instead of in __init__ / self.state), or your loop draws random numbers of its "
              "own. Everything random here comes from the seeds: the model's weights, the split and the loader's order.",
              NOBODY, rtol=0.0, atol=0.0),
    ]


def record() -> dict[str, dict[str, Any]]:
    """Every check of the chapter; one torch thread (tiny matrices: threads only cost time here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    try:
        checks = [_history(name, run, hint) for name, (run, hint) in HISTORIES.items()]
        for run, label in BARS.items():
            checks += _bars(run, label)
        return record_table(CATALOGUE, [*checks, *_same_seed_checks()])
    finally:
        torch.set_num_threads(threads)
