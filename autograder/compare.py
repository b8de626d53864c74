"""The one comparison between a recorded value and its expectation.

Used twice with identical results: inside the instructor's notebook (``check`` compares at
once) and by the judge, outside the student's process, from the recorded data. A failing
value is also compared against known wrong variants (the common mistakes of
``conventions.md``), so that the message can name the misconception, not only the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_RTOL = 1e-10
DEFAULT_ATOL = 1e-10
VARIANT_RTOL = 1e-4
VARIANT_ATOL = 1e-12
"""How closely a failing value must match a wrong variant of an exact check (rtol = atol = 0). Such a
check expects what is exact when right (a difference of 0.0, an epoch count), but its variants are
results of computations recorded on the instructor's machine; the same mistake computed elsewhere
differs in its last bits, which a float32 training run grows to about 1e-6 relative (BLAS kernels,
summation order), and the hint must still name it."""


def variant_tolerance(rtol: float, atol: float) -> tuple[float, float]:
    """The tolerance within which a value matches a wrong variant of a check with tolerance ``rtol, atol``."""
    return (VARIANT_RTOL, VARIANT_ATOL) if rtol == 0 and atol == 0 else (rtol, atol)


@dataclass(frozen=True)
class Variant:
    """A known wrong answer and the hint that explains the mistake behind it."""

    hint: str
    value: Any


@dataclass(frozen=True)
class Expectation:
    """What a check expects: a value, tolerances, a general hint and known wrong variants."""

    name: str
    value: Any
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    hint: str = ""
    variants: tuple[Variant, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    message: str = ""
    hint: str = ""
    variant: int | None = None  # the known wrong variant it matched, by index in the expectation's variants


def verdict_for(actual: Any, expectation: Expectation) -> Verdict:
    """The verdict on one value: ``actual`` compared with ``expectation``; on failure, where and why.

    One check's value only; :func:`autograder.judge.judge` applies it to every check of a submission.
    """
    mismatch = first_mismatch(actual, expectation.value, expectation.rtol, expectation.atol)
    if mismatch is None:
        return Verdict(expectation.name, True)
    rtol, atol = variant_tolerance(expectation.rtol, expectation.atol)
    for index, variant in enumerate(expectation.variants):
        # A variant that the wider tolerance cannot tell from the right answer names no mistake.
        if (first_mismatch(actual, variant.value, rtol, atol) is None
                and first_mismatch(variant.value, expectation.value, rtol, atol) is not None):
            return Verdict(expectation.name, False, mismatch, variant.hint, index)
    return Verdict(expectation.name, False, mismatch, expectation.hint)


def first_mismatch(actual: Any, expected: Any, rtol: float, atol: float, path: str = "value") -> str | None:
    """``None`` if ``actual`` matches ``expected``, else a sentence about the first difference."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected a dict, got {_kind(actual)}"
        if set(actual) != set(expected):
            missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
            return f"{path}: keys differ (missing {missing}, unexpected {extra})"
        for key in expected:
            found = first_mismatch(actual[key], expected[key], rtol, atol, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)) and not isinstance(actual, np.ndarray):
        if not isinstance(actual, (list, tuple)):
            return f"{path}: expected a sequence of {len(expected)}, got {_kind(actual)}"
        if len(actual) != len(expected):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            found = first_mismatch(a, e, rtol, atol, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected is None or isinstance(expected, (bool, str)):
        return None if type(actual) is type(expected) and actual == expected else f"{path}: expected {expected!r}, got {actual!r}"
    return _numeric_mismatch(actual, expected, rtol, atol, path)


def _numeric_mismatch(actual: Any, expected: Any, rtol: float, atol: float, path: str) -> str | None:
    if isinstance(actual, (bool, str, dict, list, tuple)) or actual is None:
        return f"{path}: expected a number or array, got {_kind(actual)}"
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{path}: expected a number or array, got {_kind(actual)}"
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return f"{path}: expected shape {e.shape}, got shape {a.shape}"
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    where = np.unravel_index(int(np.argmin(close)), close.shape) if close.ndim else ()
    at = f" at index {tuple(int(i) for i in where)}" if where else ""
    diff = np.abs(a - e)
    worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
    return (
        f"{path}{at}: expected {e[where].item()!r}, got {a[where].item()!r} "
        f"(largest difference {worst:.3g}; tolerance rtol={rtol:g}, atol={atol:g})"
    )


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return type(value).__name__
