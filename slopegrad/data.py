"""Data utilities: a minibatch loader, a seeded train/test split and the digits data set.

The loader plays the part of ``torch.utils.data.DataLoader`` for arrays held in memory::

    >>> from slopegrad.data import DataLoader, load_digits, train_test_split
    >>> x, y = load_digits()                       # (1797, 64) pixels 0..16, labels 0..9
    >>> x_train, x_test, y_train, y_test = train_test_split(x / 16, y, test_size=357, seed=0)
    >>> loader = DataLoader(x_train, y_train, batch_size=32, shuffle=True, seed=0)
    >>> for xb, yb in loader:                     # xb: Tensor (32, 64), yb: int64 array (32,)
    ...     ...

Iterating a loader again starts a new epoch: with ``shuffle=True`` it draws a new order from its
own ``numpy.random.Generator``, created once from ``seed``. Two loaders built with the same seed
therefore give the same batches epoch after epoch, whatever else draws random numbers.

The digits are the UCI "Optical Recognition of Handwritten Digits" test set, 1,797 images of
8x8 pixels, exactly as scikit-learn ships it (``sklearn.datasets.load_digits``). A copy travels
inside this package (``datasets/digits.npz``), so nothing is downloaded and scikit-learn is not
needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import numpy as np

from . import random as _random
from .tensor import Tensor

__all__ = ["DataLoader", "load_digits", "train_test_split", "DIGITS_PATH"]

DIGITS_PATH = Path(__file__).with_name("datasets") / "digits.npz"


class DataLoader:
    """Minibatches ``(x, y)`` of in-memory arrays, optionally shuffled from a seed.

    Args:
        x: inputs, an array (or Tensor) whose first axis indexes the samples.
        y: integer labels (or any targets), an array with the same first length.
        batch_size: samples per batch; the last batch of an epoch may be smaller.
        shuffle: draw a new order of the samples at the start of every epoch.
        seed: an integer seed or a ``numpy.random.Generator`` for the shuffling; ``None``
            draws from slopegrad's default generator (the one ``slopegrad.manual_seed`` resets).
        drop_last: leave out the last batch of an epoch when it is smaller than ``batch_size``.
        dtype: the floating dtype of the input Tensors (float64 by default).

    Iterating yields ``(Tensor of the inputs, NumPy array of the targets)``; the inputs do not
    require grad. ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, x, y, batch_size: int = 32, shuffle: bool = False, seed=None, drop_last: bool = False,
                 dtype=np.float64) -> None:
        self.x = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)
        self.y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if self.x.ndim == 0 or self.y.ndim == 0 or len(self.x) != len(self.y):
            raise ValueError(f"x and y must have the same number of samples, got shapes {self.x.shape} and {self.y.shape}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is None:
            self._rng = None  # slopegrad's default generator, looked up at every epoch
        elif isinstance(seed, np.random.Generator):
            self._rng = seed
        else:
            self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self) -> np.ndarray:
        """The order of the samples for the next epoch (draws from the generator if shuffling)."""
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n)
        rng = self._rng if self._rng is not None else _random.default_generator()
        return rng.permutation(n)

    def __iter__(self) -> Iterator[tuple[Tensor, np.ndarray]]:
        order = self.order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = order[start:start + self.batch_size]
            yield Tensor(self.x[batch]), self.y[batch]

    def __repr__(self) -> str:
        return (f"DataLoader(samples={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits data set: ``(x, y)`` with x float64 of shape (1797, 64), pixel values 0..16
    (each row an 8x8 image, row by row), and y int64 of shape (1797,), the digit shown (0..9).

    Identical to ``sklearn.datasets.load_digits()``'s ``data`` and ``target``.
    """
    with np.load(DIGITS_PATH) as stored:
        images, target = stored["images"], stored["target"]
    return images.reshape(len(images), -1).astype(np.float64), target.astype(np.int64)


def train_test_split(x, y, test_size, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the samples with ``numpy.random.default_rng(seed)`` and split them.

    ``test_size`` is a number of samples (an int) or a fraction (a float in (0, 1), rounded up
    to whole samples). Returns ``x_train, x_test, y_train, y_test``: the test set is the first
    ``test_size`` samples of the shuffled order, the training set the rest.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must have the same number of samples, got {n} and {len(y)}")
    n_test = math.ceil(test_size * n) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"test_size must leave samples on both sides, got {test_size!r} of {n}")
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]
