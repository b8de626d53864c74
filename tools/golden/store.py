"""Write golden files in the format :mod:`autograder.golden` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL
from autograder.golden import SCHEMA
from autograder.records import encode

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "autograder" / "golden"


def spec(
    expected: Any,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    hint: str = "",
    variants: Iterable[tuple[str, Any]] = (),
) -> dict[str, Any]:
    """One check's expectation; ``variants`` are ``(hint, wrong value)`` pairs."""
    return {
        "expected": encode(expected),
        "rtol": rtol,
        "atol": atol,
        "hint": hint,
        "variants": [{"hint": h, "value": encode(v)} for h, v in variants],
    }


def write(assignment: str, checks: dict[str, dict[str, Any]], folder: Path = GOLDEN_DIR) -> Path:
    for name in checks:
        if not name.startswith(assignment + "."):
            raise ValueError(f"check {name!r} does not belong to assignment {assignment!r}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.json"
    document = {"schema": SCHEMA, "assignment": assignment, "checks": checks}
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")
    return path
