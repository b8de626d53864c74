"""Chapter 5 (the training loop): the fixed training runs its graded cells put a student's loop through.

A run builds everything a loop needs from fixed seeds, hands it to the student's
``train(model, loader, optimizer, scheduler, epochs)`` and reports plain data: the history the loop
returned and the test accuracy of the trained model.

* data: the digits (:func:`slopegrad.data.load_digits`), standardised to ``x / 16``, split into
  :data:`TRAIN_SIZE` training and :data:`TEST_SIZE` test images with seed :data:`SEED`;
* model: ``Linear(64, 32) -> ReLU -> Linear(32, 10)`` in float64, its weights drawn after
  ``slopegrad.manual_seed(seed)``;
* batches: a :class:`slopegrad.data.DataLoader` of :data:`BATCH_SIZE` shuffled from ``seed``;
* optimizer and scheduler: built by the caller's classes with the options of a named run
  (:data:`RUNS`), in PyTorch's spelling.

``tools/golden/ch5_training_loop.py`` runs the very same procedure on PyTorch (the model's weights
copied into ``torch.nn``, the same batches, ``torch.optim`` and ``torch.optim.lr_scheduler``, the
reference loop) through a different :class:`Backend`, to record the expected histories.

When the student's loop raises (anything but ``NotImplementedError``), the error is printed and the
history is recorded as the string ``"error: <ExceptionName>"``, so that the judge can name a known
mistake (``scheduler.step()`` called on ``None``). The inputs are not secret; the expected outputs are.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

import slopegrad
from slopegrad.data import DataLoader, load_digits, train_test_split
from slopegrad.lr_scheduler import LRScheduler
from slopegrad.nn import Linear, ReLU, Sequential

from .schedules import PlainSGD
from .student_code import describe as _report

__all__ = [
    "PlainSGD",
    "ExponentialLR",
    "digits_split",
    "make_model",
    "make_loader",
    "accuracy",
    "run",
    "RUNS",
    "determinism",
]

SEED = 0
TEST_SIZE = 357
TRAIN_SIZE = 1440  # 1797 - TEST_SIZE: 45 full batches of 32
BATCH_SIZE = 32
HIDDEN = 32

# The named runs of the graded cells (inputs, not secrets). "optimizer" and "scheduler" are the
# options (PyTorch's spelling) passed to the classes the cell names; "samples" keeps only the first
# training images (None: all of them).
RUNS: dict[str, dict[str, Any]] = {
    # visible: PlainSGD and ExponentialLR (both provided), 256 images, 3 epochs of 8 batches
    "small": {"optimizer": {"lr": 0.5}, "scheduler": {"gamma": 0.5}, "epochs": 3, "samples": 256},
    "small_constant": {"optimizer": {"lr": 0.5}, "scheduler": None, "epochs": 2, "samples": 256},
    # visible, with the student's Adam and StepLR
    "small_adam": {"optimizer": {"lr": 0.01}, "scheduler": {"step_size": 1, "gamma": 0.5}, "epochs": 3, "samples": 256},
    # hidden: the whole training set
    "plain": {"optimizer": {"lr": 0.3}, "scheduler": {"gamma": 0.7}, "epochs": 4, "samples": None},
    "plain_constant": {"optimizer": {"lr": 0.3}, "scheduler": None, "epochs": 2, "samples": None, "seed": 1},
    # hidden, with the student's own optimizers and StepLR
    "sgd_momentum": {"optimizer": {"lr": 0.05, "momentum": 0.9}, "scheduler": {"step_size": 2, "gamma": 0.5},
                     "epochs": 5, "samples": None},
    "adam": {"optimizer": {"lr": 0.01}, "scheduler": {"step_size": 2, "gamma": 0.5}, "epochs": 5, "samples": None},
    "adam_twice": {"optimizer": {"lr": 0.005, "betas": (0.8, 0.99)}, "scheduler": {"step_size": 1, "gamma": 0.7},
                   "epochs": 3, "samples": None, "seed": 2},
}

# What a trained model must reach in the hidden runs with the student's optimizers: the mean
# training loss of the last epoch below LOSS_BAR and a test accuracy of at least ACCURACY_BAR.
LOSS_BAR = 0.35
ACCURACY_BAR = 0.90


class ExponentialLR(LRScheduler):
    """``lr_e = lr_0 * gamma ** e``, as ``torch.optim.lr_scheduler.ExponentialLR`` (provided, as in Chapter 4)."""

    def __init__(self, optimizer: Any, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        return [base_lr * self.gamma**epoch for base_lr in self.base_lrs]

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        return lrs if self.last_epoch == 0 else [lr * self.gamma for lr in lrs]


def digits_split(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, x_test, y_train, y_test``: the digits scaled to [0, 1] (``x / 16``), 1440 / 357 images."""
    x, y = load_digits()
    return train_test_split(x / 16.0, y, test_size=TEST_SIZE, seed=seed)


def make_model(seed: int = SEED) -> Sequential:
    """``Linear(64, 32) -> ReLU -> Linear(32, 10)`` (float64), its weights drawn after ``manual_seed(seed)``."""
    slopegrad.manual_seed(seed)
    return Sequential(Linear(64, HIDDEN), ReLU(), Linear(HIDDEN, 10))


def make_loader(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE, seed: int = SEED) -> DataLoader:
    """Shuffled minibatches, the order drawn from ``seed``."""
    return DataLoader(x, y, batch_size=batch_size, shuffle=True, seed=seed)


def accuracy(model: Any, x: Any, y: Any) -> float:
    """The fraction of the samples whose largest logit is the label's (slopegrad models)."""
    with slopegrad.no_grad():
        logits = model(slopegrad.Tensor(np.asarray(getattr(x, "data", x), dtype=np.float64)))
    predicted = np.argmax(logits.data, axis=1)
    return float(np.count_nonzero(predicted == np.asarray(y)) / len(predicted))


class SlopegradRun:
    """Train the slopegrad model itself, on the loader's Tensors."""

    def model(self, reference: Sequential) -> Sequential:
        return reference

    def loader(self, loader: DataLoader) -> Iterable[Any]:
        return loader

    def accuracy(self, model: Any, x: np.ndarray, y: np.ndarray) -> float:
        return accuracy(model, x, y)


SLOPEGRAD_RUN = SlopegradRun()


def run(
    train: Callable[..., Any],
    optimizer_class: Callable[..., Any],
    scheduler_class: Callable[..., Any] | None,
    name: str,
    backend: Any = SLOPEGRAD_RUN,
) -> dict[str, Any]:
    """Run :data:`RUNS` ``[name]`` through ``train``; return ``{"history": ..., "test_accuracy": ...}``.

    ``optimizer_class(model.parameters(), **options)`` and ``scheduler_class(optimizer, **options)``
    build the optimizer and the scheduler (no scheduler when the run has none). ``"history"`` is what
    ``train`` returned, or ``"error: <Name>"`` if it raised; ``"test_accuracy"`` is then the same string.
    """
    config = RUNS[name]
    seed = config.get("seed", SEED)
    x_train, x_test, y_train, y_test = digits_split()
    if config["samples"] is not None:
        x_train, y_train = x_train[: config["samples"]], y_train[: config["samples"]]
    model = backend.model(make_model(seed))
    loader = backend.loader(make_loader(x_train, y_train, seed=seed))
    optimizer = optimizer_class(model.parameters(), **config["optimizer"])
    scheduler = None if config["scheduler"] is None else scheduler_class(optimizer, **config["scheduler"])
    try:
        history = train(model, loader, optimizer, scheduler, config["epochs"])
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, then judged
        record = _report(error)
        return {"history": record, "test_accuracy": record}
    return {"history": history, "test_accuracy": backend.accuracy(model, x_test, y_test)}


def final_loss(result: dict[str, Any]) -> Any:
    """The mean training loss of the last epoch of a :func:`run` (or its error record)."""
    history = result["history"]
    if isinstance(history, str):
        return history
    try:
        return float(np.asarray(getattr(history["loss"][-1], "data", history["loss"][-1]), dtype=np.float64))
    except Exception as error:  # noqa: BLE001 - a history of the wrong form
        return _report(error)


def determinism(
    train: Callable[..., Any],
    optimizer_class: Callable[..., Any],
    scheduler_class: Callable[..., Any] | None,
    name: str = "adam_twice",
    backend: Any = SLOPEGRAD_RUN,
) -> dict[str, Any]:
    """The same run twice: ``{"first": history, "second": history, "largest_difference": float}``.

    ``largest_difference`` is the largest absolute difference between the two loss histories
    (0.0 when a seed fixes everything), or an error record when they cannot be compared.
    """
    first = run(train, optimizer_class, scheduler_class, name, backend)["history"]
    second = run(train, optimizer_class, scheduler_class, name, backend)["history"]
    try:
        a = np.asarray([float(np.asarray(getattr(v, "data", v))) for v in first["loss"]])
        b = np.asarray([float(np.asarray(getattr(v, "data", v))) for v in second["loss"]])
        difference = float(np.max(np.abs(a - b))) if a.shape == b.shape and a.size else float("inf")
    except Exception as error:  # noqa: BLE001 - histories of the wrong form
        difference = _report(error)
    return {"first": first, "second": second, "largest_difference": difference}


