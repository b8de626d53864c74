"""What every chapter's golden data must satisfy, once, over a table of chapters.

Each chapter's own test module keeps what is particular to it (its numbers, its mistakes, its
parity with torch); the checks here were copies in each of them.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import pytest

import nbtools
from autograder.compare import first_mismatch, verdict_for
from autograder.golden import load_assignment
from nbtools import ROOT, SOURCE

GOLDEN_DIR = ROOT / "autograder" / "golden"


@dataclass(frozen=True)
class Chapter:
    assignment: str
    notebook: str
    checks: int  # golden entries, one per check the notebook makes
    recorder: bool = True  # tools.golden.<assignment>.record() rewrites its golden file
    name_pattern: str = r'check\(\s*"({name})"'  # how the notebook spells its check names

    @property
    def path(self):
        return SOURCE / self.assignment / self.notebook

    @property
    def golden(self):
        return GOLDEN_DIR / f"{self.assignment}.json"

    def check_names(self) -> set[str]:
        return set(nbtools.check_names(self.path, self.assignment, pattern=self.name_pattern))

    def __str__(self) -> str:
        return self.assignment


CHAPTERS = [
    Chapter("ch1_gradient_descent", "gradient_descent.ipynb", 22),
    Chapter("ch2_momentum", "momentum.ipynb", 23),
    Chapter("ch4_schedules", "schedules.ipynb", 31),
    Chapter("ch5_training_loop", "training_loop.ipynb", 13, recorder=False, name_pattern=r'"({name})"'),
]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_golden_covers_exactly_the_notebooks_checks(chapter):
    golden = load_assignment(GOLDEN_DIR, chapter.assignment)
    assert set(golden) == chapter.check_names()
    assert len(golden) == chapter.checks
    assert chapter.golden.stat().st_size < 1_500_000


@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_every_variant_is_wrong_and_every_hint_says_something(chapter):
    for name, spec in load_assignment(GOLDEN_DIR, chapter.assignment).items():
        assert len(spec.hint) > 30, name
        for variant in spec.variants:
            assert len(variant.hint) > 30
            verdict = verdict_for(variant.value, spec)  # a wrong answer that fails, and gets its own hint
            assert not verdict.passed and verdict.hint == variant.hint, (name, variant.hint)


@pytest.mark.torch
@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.recorder], ids=str)
def test_golden_file_is_what_the_recorder_writes_now(chapter):
    import torch

    recorder = importlib.import_module(f"tools.golden.{chapter.assignment}")
    default = torch.get_default_dtype()
    try:
        fresh = json.loads(json.dumps(recorder.record(), sort_keys=True))
    finally:
        torch.set_default_dtype(default)  # a recorder may work in float64; leave other tests' torch as it was
    stored = json.loads(chapter.golden.read_text())["checks"]
    assert set(fresh) == set(stored)
    for name in fresh:
        assert first_mismatch(fresh[name], stored[name], 1e-12, 1e-12) is None, name
