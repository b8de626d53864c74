"""A chapter's golden file as a table of checks: the one shape every recorder fills in.

A :class:`Check` says what its test cell computes from a solution (``computed``, run on the
namespace of the reference solution or of one with a common mistake made), what the right value
is (``expected``: ``torch.optim`` or a closed form) and which of the chapter's mistakes it names
(``mistakes``). :func:`record` turns a table into the golden entries: the expected value, the
general hint, and as variants what each chosen mistake's code computes, with that mistake's hint
(:func:`tools.golden.store.spec` keeps those the judge can match).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL, first_mismatch
from autograder.mistakes import Catalogue, Mistake

from .store import spec

Namespace = dict[str, Any]
Choice = Callable[[Catalogue], list[Mistake]]  # which of a catalogue's mistakes a check names, in order


def made_in(*cells: str) -> Choice:
    """The mistakes made in any of the solution cells ``cells``, in the catalogue's order."""
    return lambda catalogue: [m for m in catalogue.mistakes if any(edit.cell in cells for edit in m.edits)]


def losing(*cells: str) -> Choice:
    """The mistakes that lose any of the test cells ``cells``, in the catalogue's order."""
    return lambda catalogue: [m for m in catalogue.mistakes if m.loses & set(cells)]


def named(*names: str) -> Choice:
    """The mistakes called ``names``, in that order."""
    return lambda catalogue: [catalogue[name] for name in names]


def but(choice: Choice, *names: str) -> Choice:
    """The mistakes ``choice`` names, except those called ``names`` (another check names them)."""
    return lambda catalogue: [m for m in choice(catalogue) if m.name not in names]


NOBODY: Choice = lambda catalogue: []  # noqa: E731 - a check that names no mistake


@dataclass(frozen=True)
class Check:
    """One golden entry: ``computed(solution)`` is the value its test cell checks, ``expected()`` the right one."""

    name: str
    computed: Callable[[Namespace], Any]
    expected: Callable[[], Any]
    hint: str
    mistakes: Choice
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    parity: tuple[float, float] | None = None  # (rtol, atol) within which the reference solution must agree

    def entry(self, catalogue: Catalogue) -> dict[str, Any]:
        expected = self.expected()
        if self.parity is not None:
            found = first_mismatch(self.computed(catalogue.solution()), expected, *self.parity)
            if found is not None:
                raise AssertionError(f"{self.name}: the reference solution differs from the expected value: {found}")
        variants = [(m.hint, self.computed(catalogue.solution(m))) for m in self.mistakes(catalogue)]
        return spec(expected, rtol=self.rtol, atol=self.atol, hint=self.hint, variants=variants)


def record(catalogue: Catalogue, checks: Iterable[Check]) -> dict[str, dict[str, Any]]:
    """The golden entries of ``checks``, by full check name (``<assignment>.<check>``).

    The mistakes' code runs as a student's would: what it prints (the errors the problems report),
    its warnings and its floating-point overflows are expected, and kept out of the recorder's output.
    """
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return {f"{catalogue.assignment}.{check.name}": check.entry(catalogue) for check in checks}
