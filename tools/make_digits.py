"""Write ``slopegrad/datasets/digits.npz`` from scikit-learn's bundled copy of the digits data set.

Run once by the instructor (scikit-learn is in the development environment only)::

    python -m tools.make_digits

The data set is the UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn ships
it: 1,797 images of 8x8 pixels with integer values 0..16, and their labels 0..9. It is stored as
``uint8`` (every value is a small integer, so nothing is lost) and compressed, so that it travels
inside slopegrad to students and to the grading sandbox, where scikit-learn is not installed.
``tests/test_ch5_training_loop.py`` checks that the file equals ``sklearn.datasets.load_digits()``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

TARGET = Path(__file__).resolve().parents[1] / "slopegrad" / "datasets" / "digits.npz"


def digits_arrays() -> dict[str, np.ndarray]:
    """scikit-learn's digits as the arrays the file stores: ``images`` (1797, 8, 8) and ``target`` (1797,), uint8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images
    if not (np.array_equal(images, np.round(images)) and images.min() >= 0 and images.max() <= 16):
        raise ValueError("expected integer pixel values in 0..16")
    if not np.array_equal(digits.data, images.reshape(len(images), -1)):
        raise ValueError("expected data to be the flattened images")
    return {"images": images.astype(np.uint8), "target": digits.target.astype(np.uint8)}


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, **digits_arrays())
    print(f"wrote {target.name} ({target.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
