"""The check API that every graded test cell reports through.

A test cell runs the student's code and hands the *result* to a named check::

    from autograder.checks import check
    check("ch1_gradient_descent.step_basic", parameter.data, expected=[0.95, -2.05])

``check`` does two things, and never anything else:

1. **Record** the value as JSON when grading (the grader sets ``AUTOGRADER_RECORDS`` to a
   file inside the submission's sandbox); a trusted judge later compares the records with
   the golden files, outside the student's process. So nothing in this module decides a
   grade.
2. **Compare at once** where an expectation is at hand: the golden files in the
   instructor's checkout (so the reference notebook passes and a wrong answer fails with
   a message and a targeted hint), or else the ``expected=`` shown in a visible test.
   A mismatch raises :class:`CheckFailed`, an ``AssertionError``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .compare import DEFAULT_ATOL, DEFAULT_RTOL, Expectation, judge
from .golden import assignment_of, expectation
from .records import decode, encode

RECORDS_ENV = "AUTOGRADER_RECORDS"

__all__ = ["check", "CheckFailed", "grading"]


class CheckFailed(AssertionError):
    """A check whose value differs from what was expected."""


def check(name: str, value: Any, expected: Any = None, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> None:
    """Report ``value`` under ``name`` and compare it where an expectation is available."""
    assignment_of(name)  # validates the name's form
    recorded = encode(value)
    _record(name, recorded)
    golden = expectation(name)
    if golden is None and expected is None:
        return  # nothing to compare with here: the judge will decide from the record
    # Compare exactly what the judge would see: the value after its trip through JSON.
    inline = Expectation(name, decode(encode(expected)), rtol, atol) if golden is None else None
    verdict = judge(decode(recorded), golden or inline)
    if not verdict.passed:
        hint = f"\nHint: {verdict.hint}" if verdict.hint else ""
        raise CheckFailed(f"check {name!r} failed: {verdict.message}{hint}")
    print(f"passed: {name}")


def grading() -> bool:
    """True while the grader runs this notebook: work whose output no check reads (an animation's
    frames, a figure) may be skipped then. Never true in a student's or the book's run; a student
    who sets it only makes their own notebook draw less."""
    return bool(os.environ.get(RECORDS_ENV))


def _record(name: str, recorded: Any) -> None:
    path = os.environ.get(RECORDS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as records:
        records.write(json.dumps({"check": name, "value": recorded}) + "\n")
