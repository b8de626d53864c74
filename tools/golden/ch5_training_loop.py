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

import contextlib
import io
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler as torch_schedulers

from autograder.mistakes.ch5_training_loop import CATALOGUE
from autograder.problems import training_loop as P
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
        return P.run(torch_train, TORCH_CLASSES[self.optimizer], TORCH_CLASSES[self.scheduler], self.name, TORCH_RUN)

    def with_mistake(self, mistake: str) -> dict[str, Any]:
        """The run as a student who made ``mistake`` records it (the reference optimizers, slopegrad)."""
        return _student_run(self, mistake)


@cache
def _student_run(run: Run, mistake: str) -> dict[str, Any]:
    namespace = CATALOGUE.solution(mistake)
    return P.run(namespace["train"], namespace[run.optimizer], namespace[run.scheduler], run.name)


MISTAKES = CATALOGUE.mistakes

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


def _variants(value: Callable[[Any], Any], results: Callable[[str], Any]) -> list[tuple[str, Any]]:
    """``(hint, value(results(mistake)))`` for each mistake."""
    return [(m.hint, value(results(m.name))) for m in MISTAKES]


def _history(run: Run, hint: str) -> dict[str, Any]:
    return spec(run.expected()["history"], rtol=HISTORY_RTOL, atol=HISTORY_ATOL, hint=hint,
                variants=_variants(lambda result: result["history"], run.with_mistake))


def _bar(value: Any, variants: list[tuple[str, Any]], upper: float, lower: float = 0.0, *, hint: str) -> dict[str, Any]:
    """A range [lower, upper] as a check: the midpoint, with atol half the width (rounded so that both
    ends pass) and no rtol. A mistake's result outside the range is named within that same atol, and
    only where no other mistake's result lies that close: a wide bar must not name the wrong mistake
    (near chance accuracy, or near the untrained loss, several mistakes look alike)."""
    assert lower <= value <= upper, "PyTorch's run must clear its own bar"
    middle = (upper + lower) / 2
    atol = max(upper - middle, middle - lower)
    failing = [(h, v) for h, v in variants if abs(v - middle) > atol]
    named = [(h, v) for h, v in failing if all(abs(v - w) > atol for g, w in failing if g != h)]
    return spec(middle, rtol=0.0, atol=atol, hint=hint, variants=named)


def _bars(run: Run, label: str) -> dict[str, dict[str, Any]]:
    expected = run.expected()
    epochs = P.RUNS[run.name]["epochs"]
    return {
        f"{run.name}_final_loss": _bar(
            P.final_loss(expected), _variants(P.final_loss, run.with_mistake), P.LOSS_BAR,
            hint=BAR_HINT.format(label=label, what=f"the mean training loss of the last of {epochs} epochs must be "
                                 f"below {P.LOSS_BAR}"),
        ),
        f"{run.name}_test_accuracy": _bar(
            expected["test_accuracy"],
            _variants(lambda result: result["test_accuracy"], run.with_mistake),
            1.0, P.ACCURACY_BAR,
            hint=BAR_HINT.format(label=label, what=f"the trained model must classify at least {P.ACCURACY_BAR:.0%} "
                                 "of the 357 test images correctly"),
        ),
    }


def _same_seed_checks() -> dict[str, dict[str, Any]]:
    def twice(train, optimizer_class, scheduler_class, backend=P.SLOPEGRAD_RUN) -> dict[str, Any]:
        result = P.determinism(train, optimizer_class, scheduler_class, ADAM_TWICE.name, backend)
        return {"first": result["first"], "second": result["second"]}

    def with_mistake(mistake: str) -> dict[str, Any]:
        namespace = CATALOGUE.solution(mistake)
        return twice(namespace["train"], namespace[ADAM_TWICE.optimizer], namespace[ADAM_TWICE.scheduler])

    expected = twice(torch_train, TORCH_CLASSES[ADAM_TWICE.optimizer], TORCH_CLASSES[ADAM_TWICE.scheduler], TORCH_RUN)
    return {
        "same_seed_histories": spec(
            expected, rtol=HISTORY_RTOL, atol=HISTORY_ATOL,
            hint="Two runs from the same seeds (weights, split, batch order) must both give PyTorch's history. "
            + OPTIMIZER_HISTORY_HINT,
            variants=_variants(lambda result: result, with_mistake),
        ),
        "same_seed_difference": spec(
            0.0, rtol=0.0, atol=0.0,
            hint="Two runs from the same seeds gave different losses: something keeps state from one run to the "
            "next (a class attribute or a global in your optimizer, scheduler or loop, e.g. a dict or step counter "
            "defined at class level instead of in __init__ / self.state), or your loop draws random numbers of its "
            "own. Everything random here comes from the seeds: the model's weights, the split and the loader's order.",
        ),
    }


def record() -> dict[str, dict[str, Any]]:
    """Every check of the chapter; one torch thread (tiny matrices: threads only cost time here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # the mistakes print the errors they raise and warn about the scheduler's order: expected here
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", UserWarning)
            return _record()
    finally:
        torch.set_num_threads(threads)


def _record() -> dict[str, dict[str, Any]]:
    torch.set_default_dtype(torch.float64)
    checks = {check: _history(run, hint) for check, (run, hint) in HISTORIES.items()}
    for run, label in BARS.items():
        checks.update(_bars(run, label))
    checks.update(_same_seed_checks())
    return {name(check): value for check, value in checks.items()}
