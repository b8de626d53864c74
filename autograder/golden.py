"""Expectations recorded from PyTorch, read from ``autograder/golden/<assignment>.json``.

Instructor-side only: the grading sandbox and the released course never contain this
folder. A check is named ``"<assignment>.<check>"``; the part before the first dot picks
the file. Files are JSON (see :mod:`autograder.records`), written by ``python -m tools.golden``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from .compare import Expectation, Variant
from .records import decode

SCHEMA = 1
GOLDEN_DIR_ENV = "AUTOGRADER_GOLDEN_DIR"


class GoldenMissing(LookupError):
    """The golden files exist but hold no expectation for a check."""


def golden_dir() -> Path | None:
    """The golden folder, or ``None`` where there is none (a student's or the sandbox's copy)."""
    configured = os.environ.get(GOLDEN_DIR_ENV)
    folder = Path(configured) if configured else Path(__file__).with_name("golden")
    return folder if folder.is_dir() and any(folder.glob("*.json")) else None


def assignment_of(check_name: str) -> str:
    assignment, dot, rest = check_name.partition(".")
    if not dot or not assignment or not rest:
        raise ValueError(f"check names look like '<assignment>.<check>', got {check_name!r}")
    return assignment


@lru_cache(maxsize=None)
def load_assignment(folder: Path, assignment: str) -> dict[str, Expectation]:
    """All expectations of one assignment, by check name."""
    path = folder / f"{assignment}.json"
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    if raw.get("schema") != SCHEMA:
        raise ValueError(f"{path.name}: unknown golden schema {raw.get('schema')!r}")
    return {name: _expectation(name, spec) for name, spec in raw["checks"].items()}


def expectation(check_name: str, folder: Path | None = None) -> Expectation | None:
    """The expectation for ``check_name``; ``None`` if there are no golden files at all."""
    folder = folder or golden_dir()
    if folder is None:
        return None
    found = load_assignment(folder, assignment_of(check_name)).get(check_name)
    if found is None:
        raise GoldenMissing(f"no golden value for check {check_name!r}: run `python -m tools.golden`")
    return found


def _expectation(name: str, spec: dict) -> Expectation:
    return Expectation(
        name=name,
        value=decode(spec["expected"]),
        rtol=float(spec.get("rtol", Expectation.rtol)),
        atol=float(spec.get("atol", Expectation.atol)),
        hint=spec.get("hint", ""),
        variants=tuple(Variant(v["hint"], decode(v["value"])) for v in spec.get("variants", [])),
    )
