"""The check API that every graded test cell reports through.

A test cell runs the student's code and hands the *result* to a named check::

    from autograder.checks import check
    check("ch1_gradient_descent.step_basic", parameter.data, expected=[0.95, -2.05])

``check`` does two things, and never anything else:

1. **Record** the value as JSON when grading (the grader sets the variable
   :data:`autograder.records.RECORDS_ENV` to a file inside the submission's sandbox); a trusted judge later compares the records with
   the golden files, outside the student's process. So nothing in this module decides a
   grade.
2. **Compare at once** where an expectation is at hand: the golden files in the
   instructor's checkout (so the reference notebook passes and a wrong answer fails with
   a message and a targeted hint), or else the ``expected=`` shown in a visible test.

**Every check of a cell reports.** Inside :func:`reported_together` a failed check does not
stop the code that follows: it prints ``FAILED: <name>``, and when the block ends one
:class:`CheckFailed` (an ``AssertionError``) lists the result of every check run in it, with
each failure's message and hint. In a notebook every cell that calls ``check`` runs inside
such a block without saying so: importing this module under IPython installs an AST
transformer (:class:`ReportCellChecksTogether`) that wraps those cells. Outside a block, a
failed check raises at once. Either way every check that runs is recorded, and the judge
reads only the records.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from typing import Any

from .compare import DEFAULT_ATOL, DEFAULT_RTOL, Expectation, Verdict, verdict_for
from .golden import assignment_of, expectation
from .records import RECORDS_ENV, decode, encode

__all__ = ["check", "CheckFailed", "reported_together"]


class CheckFailed(AssertionError):
    """A check whose value differs from what was expected (or, from a block, every such check)."""


@dataclass(frozen=True)
class CheckOutcome:
    """One compared check: its name and the verdict's explanation (empty when it passed)."""

    name: str
    passed: bool
    explanation: str = ""

    def line(self) -> str:
        return f"passed: {self.name}" if self.passed else f"FAILED: {self.explanation}"


class CellChecks:
    """Collects the outcomes of the checks run inside it; on exit, one :class:`CheckFailed` if any failed.

    Use it through :func:`reported_together`. Blocks nest: a check reports to the innermost one.
    """

    def __init__(self) -> None:
        self.outcomes: list[CheckOutcome] = []

    def __enter__(self) -> CellChecks:
        _OPEN_BLOCKS.append(self)
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        _OPEN_BLOCKS.remove(self)
        failures = [o for o in self.outcomes if not o.passed]
        if not failures:
            return False  # an exception from the block itself goes on unchanged
        summary = CheckFailed(self.summary(interrupted_by=exc))
        raise summary.with_traceback(None) from exc

    def summary(self, interrupted_by: BaseException | None = None) -> str:
        """One failed check alone: its explanation. Several: every check's result, in order."""
        failed = [o for o in self.outcomes if not o.passed]
        if len(self.outcomes) == 1:
            lines = [failed[0].explanation]
        else:
            lines = [f"{len(failed)} of {len(self.outcomes)} checks failed:"] + [o.line() for o in self.outcomes]
        if interrupted_by is not None:
            lines.append(f"(then the code stopped with {type(interrupted_by).__name__}: {interrupted_by})")
        return "\n".join(lines)


_OPEN_BLOCKS: list[CellChecks] = []


def reported_together() -> CellChecks:
    """A block in which every check reports, and after which one error lists the failed ones::

        with reported_together():
            check("ch3_adam.a", a, expected=...)   # fails: prints "FAILED: ch3_adam.a", goes on
            check("ch3_adam.b", b, expected=...)   # still compared, printed and recorded
        # -> CheckFailed: 1 of 2 checks failed: FAILED: check 'ch3_adam.a' failed: ... / passed: ch3_adam.b
    """
    return CellChecks()


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
    outcome = _outcome(verdict_for(decode(recorded), golden or inline))
    if not _OPEN_BLOCKS:
        if not outcome.passed:
            raise CheckFailed(outcome.explanation)
        print(outcome.line())
        return
    _OPEN_BLOCKS[-1].outcomes.append(outcome)
    print(outcome.line() if outcome.passed else f"FAILED: {name} (the reason follows at the end)")


def _outcome(verdict: Verdict) -> CheckOutcome:
    if verdict.passed:
        return CheckOutcome(verdict.name, True)
    hint = f"\nHint: {verdict.hint}" if verdict.hint else ""
    return CheckOutcome(verdict.name, False, f"check {verdict.name!r} failed: {verdict.message}{hint}")



def _record(name: str, recorded: Any) -> None:
    path = os.environ.get(RECORDS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as records:
        records.write(json.dumps({"check": name, "value": recorded}) + "\n")


# ---- notebooks: every cell that calls check() runs inside reported_together() ----------------------


def calls_check(tree: ast.AST) -> bool:
    """Whether the code calls a function named ``check`` (``check(...)`` or ``<module>.check(...)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "check") or (isinstance(func, ast.Attribute) and func.attr == "check"):
                return True
    return False


class ReportCellChecksTogether(ast.NodeTransformer):
    """Wraps a cell that calls ``check`` in ``with autograder.checks.reported_together():``.

    An IPython AST transformer (``shell.ast_transformers``); other cells are left as they are.
    """

    def visit_Module(self, module: ast.Module) -> ast.Module:
        if not module.body or not calls_check(module):
            return module
        opener = ast.parse("__import__('autograder.checks', fromlist=['_']).reported_together()", mode="eval").body
        block = ast.With(items=[ast.withitem(context_expr=opener)], body=module.body)
        ast.copy_location(block, module.body[0])
        module.body = [block]
        return ast.fix_missing_locations(module)


def _install_in_ipython() -> None:
    """Under IPython, make every cell that calls ``check`` report all its checks (once per shell)."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: blocks only where written
        return
    shell = get_ipython()
    if shell is None or any(isinstance(t, ReportCellChecksTogether) for t in shell.ast_transformers):
        return
    shell.ast_transformers.append(ReportCellChecksTogether())


_install_in_ipython()
