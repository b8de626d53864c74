"""Write golden files in the format :mod:`autograder.golden` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL, first_mismatch, variant_tolerance
from autograder.golden import SCHEMA
from autograder.records import decode, encode

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "autograder" / "golden"


def spec(
    expected: Any,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    hint: str = "",
    variants: Iterable[tuple[str, Any]] = (),
) -> dict[str, Any]:
    """One check's expectation; ``variants`` are ``(hint, wrong value)`` pairs.

    Only the variants the judge could ever match are kept: one equal to ``expected`` passes, and one
    equal to an earlier variant is named by that variant's hint. (Variants of an exact check are
    matched within ``VARIANT_RTOL``, as the judge matches them.)
    """
    return {
        "expected": encode(expected),
        "rtol": rtol,
        "atol": atol,
        "hint": hint,
        "variants": [{"hint": h, "value": encode(v)} for h, v in distinct(expected, variants, *variant_tolerance(rtol, atol))],
    }


def distinct(expected: Any, candidates: Iterable[tuple[str, Any]], rtol: float = DEFAULT_RTOL,
             atol: float = DEFAULT_ATOL) -> list[tuple[str, Any]]:
    """The ``(hint, value)`` pairs that differ from ``expected`` and from every earlier kept one."""
    kept: list[tuple[str, Any]] = []
    for hint, value in candidates:
        if same(value, expected, rtol, atol) or any(same(value, other, rtol, atol) for _, other in kept):
            continue
        kept.append((hint, value))
    return kept


def same(a: Any, b: Any, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> bool:
    """Whether two values are equal as the judge sees them (after their trip through JSON)."""
    return first_mismatch(decode(encode(a)), decode(encode(b)), rtol, atol) is None


def write(assignment: str, checks: dict[str, dict[str, Any]], folder: Path = GOLDEN_DIR) -> Path:
    for name in checks:
        if not name.startswith(assignment + "."):
            raise ValueError(f"check {name!r} does not belong to assignment {assignment!r}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.json"
    document = {"schema": SCHEMA, "assignment": assignment, "checks": checks}
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")
    return path
