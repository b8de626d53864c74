"""The chapters, as the tests know them: one row per ``source/`` notebook.

Each row states what the notebook must have (its test cells, visible and hidden, its exercises,
its points, the cells it copies from earlier chapters), so that ``test_chapters.py`` checks every
chapter the same way and each chapter's own test module reads its sets from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

import nbtools
from nbtools import ROOT, SOURCE

GOLDEN_DIR = ROOT / "autograder" / "golden"

# The cells students fill with their earlier chapters' code -> (that chapter's notebook, grade_id there).
BRING_SGD = {"bring_sgd": ("ch2_momentum/momentum.ipynb", "sgd_step")}
BRING_ADAM = {"bring_adam_update": ("ch3_adam/adam.ipynb", "adam_update"), "bring_adam": ("ch3_adam/adam.ipynb", "adam")}
BRING_STEPLR = {"bring_steplr": ("ch4_schedules/schedules.ipynb", "steplr")}


@dataclass(frozen=True)
class Chapter:
    assignment: str
    notebook: str
    visible: frozenset[str]  # visible test cells
    hidden: frozenset[str]  # test cells whose tests are hidden from students
    exercises: frozenset[str]  # the solution cells this chapter teaches
    points: tuple[int, int]  # (visible points, total points): 30 % visible
    checks: int  # golden entries, one per check the notebook makes
    bring: dict[str, tuple[str, str]] = field(default_factory=dict)
    drawing: frozenset[str] = frozenset()  # untagged cells that only draw or print: no check reads them
    name_pattern: str = r'check\(\s*"({name})"'  # how the notebook spells its check names

    @property
    def path(self) -> Path:
        return SOURCE / self.assignment / self.notebook

    @property
    def golden(self) -> Path:
        return GOLDEN_DIR / f"{self.assignment}.json"

    @property
    def tests(self) -> frozenset[str]:
        return self.visible | self.hidden

    def quick(self) -> dict[str, str]:
        """Replacements that skip the cells no check depends on, to keep notebook runs short: the
        ``drawing`` cells and the cells tagged ``uses-solution`` after the last test cell."""
        keys = list(self.code_cells())
        last_test = max(keys.index(key) for key in self.tests)
        after = {key for key in self.uses_solution() if keys.index(key) > last_test}
        return {key: "pass" for key in self.drawing | after}

    def uses_solution(self) -> set[str]:
        """The cells tagged ``uses-solution``: they need a finished exercise (students see them fail until then)."""
        return {key for key, cell in self.code_cells().items() if "uses-solution" in cell.metadata.get("tags", [])}

    def code_cells(self) -> dict:
        return nbtools.code_cells(self.path)

    def cell_source(self, grade_id: str) -> str:
        return nbtools.cell_source(self.path, grade_id)

    def stubbed(self) -> dict[str, str]:
        """Every solution cell as nbgrader releases it: each solution region replaced by a raising stub."""
        return {grade_id: re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "raise NotImplementedError()", cell.source,
                                 flags=re.S)
                for grade_id, cell in self.code_cells().items() if nbtools.nbgrader_meta(cell).get("solution")}

    def markdown(self) -> str:
        """All the notebook's prose, in order."""
        return "\n".join(cell.source for cell in nbtools.read(self.path).cells if cell.cell_type == "markdown")

    def check_names(self) -> set[str]:
        return set(nbtools.check_names(self.path, self.assignment, pattern=self.name_pattern))

    def __str__(self) -> str:
        return self.assignment


def _cells(*names: str) -> frozenset[str]:
    return frozenset(names)


CHAPTERS = [
    Chapter("ch1_gradient_descent", "gradient_descent.ipynb",
            visible=_cells("test_step_visible", "test_descent_visible", "test_analysis_visible"),
            hidden=_cells("test_step_hidden", "test_descent_hidden", "test_analysis_hidden"),
            exercises=_cells("gradient_descent_step", "gradient_descent", "step_size_analysis"),
            points=(9, 30), checks=22),
    Chapter("ch2_momentum", "momentum.ipynb",
            visible=_cells("test_optimal_momentum_visible", "test_sgd_step_visible"),
            hidden=_cells("test_optimal_momentum_hidden", "test_sgd_grid_hidden", "test_sgd_dampening_nesterov_hidden",
                          "test_sgd_state_hidden", "test_sgd_lr_change_hidden", "test_sgd_region_hidden"),
            exercises=_cells("optimal_momentum", "sgd_step"),
            points=(6, 20), checks=23, drawing=_cells("animation")),
    Chapter("ch3_adam", "adam.ipynb",
            visible=_cells("test_rmsprop_visible", "test_adagrad_visible", "test_adam_update_visible",
                           "test_adam_visible", "test_adamw_visible"),
            hidden=_cells("test_rmsprop_hidden", "test_adagrad_hidden", "test_adam_hidden", "test_adam_state_hidden",
                          "test_adam_facts_hidden", "test_adamw_hidden"),
            exercises=_cells("rmsprop", "adagrad", "adam_update", "adam", "adamw"),
            points=(30, 100), checks=47, drawing=_cells("moments_demo", "first_step_figure")),
    Chapter("ch4_schedules", "schedules.ipynb",
            visible=_cells("test_steplr_visible", "test_cosine_visible", "test_linear_visible", "test_sequential_visible"),
            hidden=_cells("test_steplr_hidden", "test_cosine_hidden", "test_linear_hidden", "test_sequential_hidden"),
            exercises=_cells("steplr", "cosine", "linear_warmup", "sequential"),
            points=(9, 30), checks=31),
    Chapter("ch5_training_loop", "training_loop.ipynb",
            visible=_cells("test_train_visible", "test_optimizers_visible"),
            hidden=_cells("test_train_hidden", "test_train_bars_hidden", "test_train_optimizers_hidden"),
            exercises=_cells("train"),
            points=(6, 20), checks=13, bring={**BRING_SGD, **BRING_ADAM, **BRING_STEPLR},
            name_pattern=r'"({name})"'),
    Chapter("ch6_optimizer_cost", "optimizer_cost.ipynb",
            visible=_cells("test_state_visible", "test_clip_visible", "test_checkpoint_visible"),
            hidden=_cells("test_state_hidden", "test_state_optimizers_hidden", "test_clip_hidden",
                          "test_checkpoint_hidden", "test_checkpoint_optimizers_hidden"),
            exercises=_cells("state_accounting", "clip_grad_norm", "checkpoint"),
            points=(9, 30), checks=21, bring={**BRING_SGD, **BRING_ADAM},
            drawing=_cells("bandwidth", "memory_figure", "timing_figure", "precision_figure", "clip_demo")),
]
BY_NAME = {c.assignment: c for c in CHAPTERS}


def reference_run(chapter: Chapter) -> nbtools.Run:
    """The chapter's reference notebook run in process, as a graded kernel runs it (no animation
    frames), once per test process: the tests read it and never change it."""
    return _reference_run(chapter.assignment)


@cache
def _reference_run(assignment: str) -> nbtools.Run:
    from courseplots.animation import GRADING_VARIABLE

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(GRADING_VARIABLE, "1")
        return nbtools.run_in_process(BY_NAME[assignment].path)
