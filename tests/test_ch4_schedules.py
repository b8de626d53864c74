"""Chapter 4 (learning-rate schedules): the reference notebook, its golden data, its hints, the
provided scheduler base class and every number the narrative states."""

from __future__ import annotations

import gc
import inspect
import math
import re
import warnings
import weakref

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import first_mismatch
from autograder.golden import load_assignment
from autograder.mistakes import ch4_schedules as mistakes
from autograder.problems import schedules as problems
from autograder.problems.trajectories import label
from courseplots import VALLEY_HESSIAN
import figures
import nbtools
from chapters import BY_NAME
from nbtools import RELEASE, ROOT, SOURCE, run_in_process
from slopegrad.lr_scheduler import STEP_ORDER_WARNING, LRScheduler
from slopegrad.nn import Parameter
from tools.golden import ch4_schedules as recorder

torch.set_default_dtype(torch.float64)

ASSIGNMENT = "ch4_schedules"
NOTEBOOK = SOURCE / ASSIGNMENT / "schedules.ipynb"
CHAPTER = BY_NAME[ASSIGNMENT]  # its test cells, exercises and points: tests/chapters.py
VISIBLE, HIDDEN = CHAPTER.visible, CHAPTER.hidden
GOLDEN = ROOT / "autograder" / "golden" / f"{ASSIGNMENT}.json"

FIGURES = {"plot_schedules", "plot_training", "plot_noise_schedules", "plot_valley"}
FAST = {grade_id: "pass" for grade_id in FIGURES}  # no check depends on the figures
ON_TORCH = recorder.ON_TORCH


def torch_sequence(make, epochs=problems.EPOCHS, base_lrs=problems.BASE_LRS, **kwargs):
    return problems.lr_sequence(make, epochs, base_lrs, **ON_TORCH, **kwargs)


# ------------------------------------------------------------------------ the reference notebook
def test_the_released_stubs_raise_and_the_provided_validation_works():
    """(Every released notebook runs with only its stubs raising: test_release.py.)"""
    stubs = run_in_process(RELEASE / ASSIGNMENT / NOTEBOOK.name, replace=FAST).namespace
    optimizer = problems.PlainSGD([Parameter(np.zeros(2))], lr=0.1)
    with pytest.raises(NotImplementedError):
        stubs["StepLR"](optimizer, step_size=3)  # the constructor's first step needs get_lr
    with pytest.raises(NotImplementedError):
        stubs["CosineAnnealingLR"](optimizer, T_max=3)
    with pytest.raises(ValueError):
        stubs["LinearLR"](optimizer, start_factor=0.0)  # the provided validation works in the release


# ----------------------------------------------------------------------------------- golden data
def test_the_golden_hints_cover_the_chapters_mistakes():
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    hints = {name.split(".")[1]: {v.hint for v in spec.variants} for name, spec in golden.items()}
    assert {mistakes.STEP_LATE, mistakes.STEP_EARLY} <= hints["steplr_grid"]
    assert {mistakes.STEP_LATE, mistakes.STEP_EARLY, mistakes.STEP_SHIFTED, mistakes.ONE_BASE} <= hints["steplr_grid_lr_at"]
    assert mistakes.STEP_CLOSED in hints["steplr_outside_changes"]
    assert {mistakes.COSINE_NEXT, mistakes.COSINE_PREVIOUS, mistakes.COSINE_NO_ETA_MIN, mistakes.ONE_BASE} <= hints["cosine_grid"]
    assert {mistakes.WARMUP_FROM_ZERO, mistakes.WARMUP_SHORT, mistakes.WARMUP_UNCLAMPED} <= hints["linear_grid"]
    assert {mistakes.SEQ_NO_RESTART, mistakes.SEQ_LATE} <= hints["sequential_grid"]
    assert mistakes.SEQ_GLOBAL in hints["sequential_grid_lr_at"]
    for visible in ("steplr_seed_visible", "cosine_sequence_visible", "linear_sequence_visible"):
        assert hints[visible], visible
    assert {m.hint for m in mistakes.CATALOGUE.mistakes} <= set().union(*hints.values()), "the recorder runs every mistake"


def test_the_inline_expectations_equal_the_golden_ones():
    """What a visible test shows students (expected=...) is what torch gives."""
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    for grade_id in VISIBLE:
        source = CHAPTER.cell_source(grade_id)
        found = re.findall(r'check\("(' + ASSIGNMENT + r'\.\w+)", \w+, expected=(.+)\)$', source, re.M)
        assert len(found) >= 2, grade_id
        for name, expected in found:
            namespace = {}
            exec(compile(source.split("\nlrs = ")[0], grade_id, "exec"), {"check": lambda *a, **k: None}, namespace)
            value = eval(expected, {}, namespace)
            assert first_mismatch(np.asarray(value, dtype=float), golden[name].value, 1e-10, 1e-10) is None, name


# ------------------------------------------------------------------------- explicit torch parity
def test_reference_schedules_equal_torch_on_their_grids(ns):
    cases = [
        (ns["StepLR"], torch_schedulers.StepLR, problems.STEP_GRID),
        (ns["CosineAnnealingLR"], torch_schedulers.CosineAnnealingLR, problems.COSINE_GRID),
        (ns["LinearLR"], torch_schedulers.LinearLR, problems.LINEAR_GRID),
    ]
    for ours, theirs, grid in cases:
        for options in grid:
            expected = torch_sequence(lambda o: theirs(o, **options))
            for problem in (problems.lr_sequence, problems.closed_form_sequence):
                got = problem(lambda o: ours(o, **options))
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, err_msg=f"{ours.__name__} {label(options)}")


def test_reference_chains_and_training_equal_torch(ns):
    classes = {name: ns[name] for name in ("SequentialLR", "LinearLR", "CosineAnnealingLR", "StepLR")}
    for name in problems.CHAINS:
        expected = torch_sequence(problems.chain(recorder.TORCH_CLASSES, name))
        np.testing.assert_allclose(problems.lr_sequence(problems.chain(classes, name)), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(problems.closed_form_sequence(problems.chain(classes, name)), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(problems.resumed_sequence(problems.chain(classes, name)), expected, rtol=1e-12, atol=1e-15)
    ours = problems.scheduled_trajectory(problems.chain(classes, problems.TRAJECTORY_CHAIN))
    theirs = problems.scheduled_trajectory(problems.chain(recorder.TORCH_CLASSES, problems.TRAJECTORY_CHAIN), **ON_TORCH)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ours["p3"], np.broadcast_to(ours["p3"][0], ours["p3"].shape))  # no gradient, no move


def test_the_provided_exponential_lr_equals_torch(ns):
    for gamma in (0.5, 0.9, 0.99):
        expected = torch_sequence(lambda o: torch_schedulers.ExponentialLR(o, gamma=gamma))
        np.testing.assert_allclose(problems.lr_sequence(lambda o: ns["ExponentialLR"](o, gamma=gamma)), expected, rtol=1e-12)
        np.testing.assert_allclose(problems.closed_form_sequence(lambda o: ns["ExponentialLR"](o, gamma=gamma)), expected, rtol=1e-12)
        expected = torch_sequence(lambda o: torch_schedulers.ExponentialLR(o, gamma=gamma), changes=problems.OUTSIDE_CHANGES)
        got = problems.lr_sequence(lambda o: ns["ExponentialLR"](o, gamma=gamma), changes=problems.OUTSIDE_CHANGES)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_the_contract_problems_agree_with_torch_and_the_reference(ns):
    """Warnings, group entries, get_last_lr and resuming behave alike on both sides."""
    make = {
        "StepLR": (lambda o: ns["StepLR"](o, step_size=3), lambda o: torch_schedulers.StepLR(o, step_size=3)),
        "chain": (problems.chain({k: ns[k] for k in recorder.TORCH_CLASSES}, "warmup4_step5_cosine25"),
                  problems.chain(recorder.TORCH_CLASSES, "warmup4_step5_cosine25")),
    }
    for ours, theirs in make.values():
        assert problems.step_order_warnings(ours) == problems.step_order_warnings(theirs, **ON_TORCH) == {
            "scheduler.step() first": True, "optimizer.step() first": False}
        np.testing.assert_array_equal(problems.resume_discrepancy(ours), 0.0)
        np.testing.assert_array_equal(problems.last_lr_discrepancy(ours), 0.0)
        np.testing.assert_allclose(problems.last_lr_sequence(ours), problems.last_lr_sequence(theirs, **ON_TORCH), rtol=1e-12)
        assert problems.group_entries_after(ours) == problems.expected_group_entries()
        torch_groups = problems.group_entries_after(theirs, **ON_TORCH)
        for group, expected in zip(torch_groups, problems.expected_group_entries()):
            assert {k: group[k] for k in expected} == expected  # torch's SGD adds its own options


# Common mistakes and their hints: autograder/mistakes/ch4_schedules.py, tested by tests/test_mistakes.py.


# ------------------------------------------------------------------------- the provided base class
class Counting(problems.PlainSGD):
    """An optimizer with its own step counter, which the scheduler's wrapper must leave alone."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, lr=lr)
        self._step_count = 0

    def step(self, closure=None):
        self._step_count += 1
        return super().step(closure)


class Halving(LRScheduler):
    def lr_at(self, epoch):
        return [base * 0.5 ** epoch for base in self.base_lrs]


def caught_warnings(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_the_order_warning_fires_once_and_only_for_the_wrong_order():
    optimizer = Counting([Parameter(np.zeros(2))])
    scheduler = Halving(optimizer)
    assert caught_warnings(scheduler.step) == [STEP_ORDER_WARNING]
    assert caught_warnings(scheduler.step) == []  # like PyTorch: checked on the first call only
    optimizer = Counting([Parameter(np.zeros(2))])
    scheduler = Halving(optimizer)
    assert caught_warnings(lambda: (optimizer.step(), scheduler.step(), optimizer.step(), scheduler.step())) == []
    assert optimizer._step_count == 2 and optimizer._lr_scheduler_step_count == 2  # both counters right
    # PyTorch's wording, which ours follows.
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    their_scheduler = torch_schedulers.StepLR(theirs, step_size=2)
    assert "Detected call of `lr_scheduler.step()` before `optimizer.step()`" in caught_warnings(their_scheduler.step)[0]
    assert STEP_ORDER_WARNING.startswith("Detected call of `lr_scheduler.step()` before `optimizer.step()`")


def test_a_step_replaced_after_construction_is_reported():
    optimizer = problems.PlainSGD([Parameter(np.zeros(2))], lr=0.1)
    scheduler = Halving(optimizer)
    optimizer.step = lambda: None
    assert any("overridden" in message for message in caught_warnings(scheduler.step))


def test_the_step_wrapper_is_installed_once_and_keeps_no_optimizer_alive():
    optimizer = problems.PlainSGD([Parameter(np.zeros(2))], lr=0.1)
    first = Halving(optimizer)
    wrapped = optimizer.step
    optimizer.step()
    Halving(optimizer)  # a second scheduler finds the wrapper and keeps the count
    assert optimizer.step is wrapped and optimizer._lr_scheduler_step_count == 1
    assert caught_warnings(first.step) == []
    alive = weakref.ref(optimizer)
    del optimizer, first, wrapped
    gc.collect()
    assert alive() is None


def test_initial_lr_base_lrs_get_last_lr_and_only_lr_change():
    w, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    optimizer = problems.PlainSGD([{"params": [w], "lr": 0.4, "tag": "x"}, {"params": [b], "lr": 0.1}], lr=0.01)
    scheduler = Halving(optimizer)
    assert scheduler.last_epoch == 0 and scheduler.base_lrs == [0.4, 0.1]
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.4, 0.1]
    optimizer.step()
    scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == [0.2, 0.05] == scheduler.get_last_lr()
    scheduler.get_last_lr().append(99.0)  # a copy
    assert scheduler.get_last_lr() == [0.2, 0.05]
    second = Halving(optimizer)  # initial_lr is kept, so the second schedule starts from the base rates
    assert second.base_lrs == [0.4, 0.1] and [g["lr"] for g in optimizer.param_groups] == [0.4, 0.1]
    assert optimizer.param_groups[0]["tag"] == "x" and optimizer.defaults == {"lr": 0.01}
    assert set(optimizer.param_groups[1]) == {"params", "lr", "initial_lr"}


def test_state_dict_is_a_copy_without_the_optimizer_and_round_trips():
    optimizer = problems.PlainSGD([Parameter(np.zeros(2))], lr=0.4)
    scheduler = Halving(optimizer)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3 and state["base_lrs"] == [0.4]
    state["base_lrs"].append(1.0)
    assert scheduler.base_lrs == [0.4]
    fresh_optimizer = problems.PlainSGD([Parameter(np.zeros(2))], lr=0.4)
    fresh = Halving(fresh_optimizer)
    fresh_optimizer.load_state_dict(optimizer.state_dict())
    fresh.load_state_dict(scheduler.state_dict())
    optimizer.step(), scheduler.step(), fresh_optimizer.step(), fresh.step()
    assert fresh.get_last_lr() == scheduler.get_last_lr() == [0.4 * 0.5 ** 4]
    assert fresh.optimizer is fresh_optimizer


def test_the_base_class_rejects_what_it_cannot_drive():
    with pytest.raises(TypeError):
        Halving(object())

    class TooFew(LRScheduler):
        def lr_at(self, epoch):
            return [0.1]

    optimizer = problems.PlainSGD([{"params": [Parameter(np.zeros(1))]}, {"params": [Parameter(np.zeros(1))]}])
    with pytest.raises(ValueError, match="one per group"):
        TooFew(optimizer)
    with pytest.raises(NotImplementedError):
        LRScheduler(problems.PlainSGD([Parameter(np.zeros(1))]))


def test_plain_sgd_is_torch_sgd_and_takes_both_spellings():
    ours = problems.scheduled_trajectory(lambda o: Halving(o), lr=0.3, steps=10)
    theirs = problems.scheduled_trajectory(lambda o: torch_schedulers.ExponentialLR(o, gamma=0.5), lr=0.3, steps=10, **ON_TORCH)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-15)
    p = Parameter(np.zeros(1))
    assert problems.PlainSGD([p], learning_rate=0.2).param_groups[0]["lr"] == 0.2
    assert problems.PlainSGD([p]).param_groups[0]["lr"] == 1e-3 == torch.optim.SGD([torch.zeros(1, requires_grad=True)]).defaults["lr"]


# ---------------------------------------------------------------- the numbers the narrative states
def test_the_step_decay_numbers(ns):
    StepLR, ExponentialLR = ns["StepLR"], ns["ExponentialLR"]
    seed = problems.lr_sequence(lambda o: StepLR(o, step_size=10, gamma=0.1), epochs=30, base_lrs=[0.1])[:, 0]
    np.testing.assert_allclose(seed, [0.1] * 10 + [0.01] * 10 + [0.001] * 10, rtol=1e-12)
    assert seed[9] == 0.1 and seed[10] < 0.1  # first decay on the 10th call: epoch 10 is the first at 0.01
    late = [0.1 * 0.1 ** ((e - 1) // 10) for e in range(1, 30)]
    assert late[:10] == [0.1] * 10  # the late version trains epochs 0-10 at 0.1
    gamma = 0.1 ** (1 / 10)
    assert round(gamma, 3) == 0.794
    smooth = problems.lr_sequence(lambda o: ExponentialLR(o, gamma=gamma), epochs=31, base_lrs=[0.1])[:, 0]
    np.testing.assert_allclose(smooth[[10, 20, 30]], seed[[10, 20, 29]] * [1, 1, 0.1], rtol=1e-12)
    docstring = problems.closed_form_sequence(lambda o: StepLR(o, step_size=3, gamma=0.5), epochs=7, base_lrs=[0.1, 0.02])
    np.testing.assert_allclose(docstring[[0, 2, 3, 6]], [[0.1, 0.02], [0.1, 0.02], [0.05, 0.01], [0.025, 0.005]])
    calls = problems.lr_sequence(lambda o: StepLR(o, step_size=3, gamma=0.5), epochs=7, base_lrs=[0.1])[:, 0]
    np.testing.assert_allclose(calls[1:7], [0.1, 0.1, 0.05, 0.05, 0.05, 0.025])  # after 1..6 calls of step()
    by_hand = problems.lr_sequence(lambda o: StepLR(o, step_size=3, gamma=0.5), epochs=7, base_lrs=[0.1], changes={3: 0.4})[:, 0]
    np.testing.assert_allclose(by_hand[[4, 6]], [0.02, 0.01])  # set to 0.02 after the 4th call: the 6th gives 0.01


def test_the_cosine_numbers(ns):
    cosine = ns["CosineAnnealingLR"]
    for t_max in (4, 10, 60):
        lrs = problems.closed_form_sequence(lambda o: cosine(o, T_max=t_max, eta_min=0.2), epochs=2 * t_max + 1, base_lrs=[1.0])[:, 0]
        np.testing.assert_allclose(lrs[[0, t_max // 2, t_max, 2 * t_max]], [1.0, 0.6, 0.2, 1.0], atol=1e-12)
        assert np.all(np.diff(lrs[: t_max + 1]) < 0) and np.all(np.diff(lrs[t_max:]) > 0)
    drop = (1 - math.cos(math.pi / 10)) / 2
    assert round(100 * drop, 1) == 2.4
    lrs = problems.closed_form_sequence(lambda o: cosine(o, T_max=60), epochs=7, base_lrs=[1.0])[:, 0]
    assert math.isclose(1 - lrs[6], drop)  # a tenth of the way: 2.4 % of the range, where linear loses 10 %
    # PyTorch's recursive form agrees with the closed form up to rounding.
    for options in problems.COSINE_GRID:
        recursive = torch_sequence(lambda o: torch_schedulers.CosineAnnealingLR(o, **options))
        closed = problems.closed_form_sequence(lambda o: cosine(o, **options))
        assert np.max(np.abs(recursive - closed)) < 1e-14
    examples = problems.closed_form_sequence(lambda o: cosine(o, T_max=4, eta_min=0.2), epochs=9, base_lrs=[1.0])[:, 0]
    np.testing.assert_allclose(examples[[0, 2, 4, 6, 8]], [1.0, 0.6, 0.2, 0.6, 1.0], atol=1e-12)


def test_the_warm_up_numbers(ns):
    linear = ns["LinearLR"]
    factors = problems.closed_form_sequence(lambda o: linear(o, start_factor=0.1, total_iters=5), epochs=8, base_lrs=[1.0])[:, 0]
    np.testing.assert_allclose(factors, [0.1, 0.28, 0.46, 0.64, 0.82, 1.0, 1.0, 1.0], atol=1e-12)
    defaults = inspect.signature(torch_schedulers.LinearLR).parameters
    assert (defaults["start_factor"].default, defaults["end_factor"].default, defaults["total_iters"].default) == (1 / 3, 1.0, 5)
    ours = inspect.signature(linear).parameters
    assert (ours["start_factor"].default, ours["end_factor"].default, ours["total_iters"].default) == (1 / 3, 1.0, 5)
    example = problems.closed_form_sequence(lambda o: linear(o, start_factor=0.25, total_iters=3), epochs=11, base_lrs=[0.4])[:, 0]
    np.testing.assert_allclose(example[[0, 1, 2, 3, 10]], [0.1, 0.2, 0.3, 0.4, 0.4], atol=1e-12)
    batch, lr = nbtools.stated(NOTEBOOK, r"a batch of (\d+) trains at \$\\text\{lr\} = ([\d.]+)\$")
    assert float(lr) == pytest.approx(0.1 * int(batch) / 256)  # Goyal et al.'s linear scaling rule, as the text states it


def test_adams_first_step_moves_every_coordinate_by_about_lr():
    g = torch.tensor([1e-3, 0.5, 100.0])
    x = torch.nn.Parameter(torch.zeros(3))
    adam = torch.optim.Adam([x], lr=0.01)
    x.grad = g.clone()
    adam.step()
    np.testing.assert_allclose(-x.detach().numpy(), 0.01 * g.numpy() / (g.numpy() + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(-x.detach().numpy(), 0.01, rtol=1e-4)


def test_the_chaining_numbers_and_torchs_quirks(ns):
    warmup_cosine = ns["warmup_cosine"]
    lrs = problems.lr_sequence(lambda o: warmup_cosine(o, warmup_epochs=5, total_epochs=60), epochs=61, base_lrs=[0.1])[:, 0]
    theirs = torch_sequence(problems.chain(recorder.TORCH_CLASSES, "warmup5_cosine55"), epochs=61, base_lrs=[0.1])[:, 0]
    np.testing.assert_allclose(lrs, theirs, rtol=1e-12, atol=1e-15)
    assert lrs[5] == pytest.approx(0.1) and abs(lrs[60]) < 1e-15  # T_max = 60 - 5 = 55 ends exactly at epoch 60
    cut = torch_sequence(problems.chain(recorder.TORCH_CLASSES, "warmup8_cut_at4_cosine20"), epochs=6, base_lrs=[1.0])[:, 0]
    assert cut[3] < 0.8 and cut[4] == pytest.approx(1.0)  # warm-up cut short: the cosine starts at the full rate
    held = torch_sequence(problems.chain(recorder.TORCH_CLASSES, "warmup3_hold_to10_cosine30"), epochs=12, base_lrs=[1.0])[:, 0]
    np.testing.assert_allclose(held[3:11], 1.0)  # warm-up over early: waits at the end factor until the milestone
    visible = problems.lr_sequence(
        lambda o: ns["SequentialLR"](o, [ns["LinearLR"](o, start_factor=0.25, total_iters=3), ns["CosineAnnealingLR"](o, T_max=4)], milestones=[3]),
        epochs=8, base_lrs=[0.4])[:, 0]
    np.testing.assert_allclose(visible, [0.1, 0.2, 0.3, 0.4, 0.3414213562373095, 0.2, 0.0585786437626905, 0.0], atol=1e-12)


def test_the_contract_numbers(ns):
    """The demo: two groups halve each epoch; the wrong order skips lr_0."""
    optimizer = problems.PlainSGD([{"params": [Parameter(np.zeros(3))], "lr": 0.1}, {"params": [Parameter(np.zeros(1))], "lr": 0.02}])
    scheduler = ns["ExponentialLR"](optimizer, gamma=0.5)
    optimizer.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.01]
    optimizer = problems.PlainSGD([Parameter(np.zeros(1))], lr=0.1)
    scheduler = ns["ExponentialLR"](optimizer, gamma=0.5)
    assert caught_warnings(scheduler.step) == [STEP_ORDER_WARNING]
    assert optimizer.param_groups[0]["lr"] == 0.05  # the first update would use lr_1
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    message = caught_warnings(torch_schedulers.StepLR(theirs, step_size=2).step)[0]
    assert "PyTorch 1.1.0" in message  # the order changed in version 1.1.0


def test_the_demo_output(reference):
    output = reference.outcomes["exponential_demo"].output
    assert "epoch 3: lr = [0.0125, 0.0025]" in output
    assert re.search(r"get_last_lr\(\):\s+\[0\.00625, 0\.00125\]", output)
    assert "UserWarning: Detected call of `lr_scheduler.step()` before `optimizer.step()`" in output
    assert "instead of 0.1" in output and "lr = 0.05 instead" in output


def test_the_training_curves_the_narrative_describes(ns):
    X, y = ns["make_regression"]()
    assert X.shape == (256, 8) and ns["EPOCHS"] == 40
    np.testing.assert_allclose(X.std(axis=0) / np.logspace(0, -0.5, 8), 1.0, rtol=0.15)
    assert round(10 ** -0.5, 2) == 0.32
    floor = ns["best_loss"](X, y)
    curves = {name: ns["train"](make, lr, epochs=40) - floor for name, (make, lr) in ns["training_runs"].items()}
    assert np.all(np.concatenate(list(curves.values())) > -1e-12)  # nothing beats least squares
    warm, cosine = curves["warm-up 3 epochs + cosine, to 0.1"], curves["CosineAnnealingLR(T_max=40) from 0.1"]
    assert warm[3] > 2 * cosine[3] and warm[-1] < 2 * cosine[-1]  # the warm-up costs a few epochs, nothing at the end
    constant_fast, constant_slow = curves.pop("constant lr 0.1"), curves.pop("constant lr 0.01")
    assert len(curves) == 3
    for schedule in curves.values():
        assert constant_slow[5] > 10 * max(schedule[5], constant_fast[5])  # slow start
        assert 10 * schedule[-1] < min(constant_fast[-1], constant_slow[-1])  # ends ten times lower than either
    # constant 0.1 is close after a few epochs, then stalls: it never gets as low as any schedule ends
    assert constant_fast[5] < 1e-2 and np.min(constant_fast[5:]) > max(s[-1] for s in curves.values())
    # constant 0.01 stays above constant 0.1 until the very last epoch, where it ends below it
    assert np.all(constant_slow[1:-1] > constant_fast[1:-1]) and constant_slow[-1] < constant_fast[-1]
    assert (f"{constant_slow[-1]:.2e}", f"{constant_fast[-1]:.2e}") == ("3.68e-03", "5.78e-03")
    assert (f"{np.min(constant_fast[5:]):.0e}", f"{np.max(constant_fast[5:]):.0e}") == ("2e-04", "6e-03")
    text = CHAPTER.markdown()
    assert "(3.68e-3 against 5.78e-3)" in text and "between about 2e-4 and 6e-3 from epoch 5" in text
    assert "has not caught up" not in text


@pytest.mark.parametrize("grade_id", ["plot_training", "noisy_quadratic", "plot_noise_schedules"])
def test_no_legend_covers_a_curve(ns, grade_id):
    """The legend is outside the axes, or inside without a drawn point under it."""
    import matplotlib.pyplot as plt

    fig, _ = figures.draw_cell(CHAPTER.cell_source(grade_id), ns, grade_id)
    try:
        (ax,) = fig.axes
        assert figures.lines_under(ax.get_legend().get_window_extent(), ax) == [], grade_id
    finally:
        plt.close("all")


def test_result_tables_are_tables(reference):
    """Printed rows wider than the page were cut off in the book: results come as Table objects."""
    for grade_id in ("plot_training", "noisy_quadratic", "plot_noise_schedules"):
        source = CHAPTER.cell_source(grade_id)
        assert "display(Table(" in source and "print(" not in source, grade_id
        assert "----" in reference.outcomes[grade_id].output  # the text form of the table


def test_the_valley_the_narrative_describes(ns):
    assert 2 / np.linalg.eigvalsh(VALLEY_HESSIAN).max() == 0.5
    paths = {
        "constant": ns["valley_path"](None),
        "step": ns["valley_path"](lambda o: ns["StepLR"](o, step_size=5, gamma=0.5)),
        "cosine": ns["valley_path"](lambda o: ns["CosineAnnealingLR"](o, T_max=20)),
    }
    ends = {name: path[-1] for name, path in paths.items()}
    f = {name: 0.1 * x[0] ** 2 + 2 * x[1] ** 2 for name, x in ends.items()}
    assert f["constant"] < min(f["step"], f["cosine"])  # the constant rate ends with the lowest f
    assert abs(ends["constant"][0]) < min(abs(ends["step"][0]), abs(ends["cosine"][0]))  # further along x1
    assert max(abs(ends["step"][1]), abs(ends["cosine"][1])) < abs(ends["constant"][1]) / 100  # x2 damped sooner
    assert all(len(path) == 21 for path in paths.values())


# ------------------------------------------------ Section 9: the noise floor and Robbins-Monro
# A sample mean of N squares of independent Gaussians N(m, v) has mean m^2 + v and standard deviation
# sqrt((2 v^2 + 4 m^2 v) / N). Every comparison with a simulation below allows SIGMAS of those standard
# deviations: by the central limit theorem (N >= 2000 here) a correct formula misses it with probability
# about 2e-9 per comparison, so a different seed or platform would not make these tests flaky.
SIGMAS = 6.0


def exact_second_moment(lrs, curvature, noise, start):
    """E[x_k^2] for k = 0..len(lrs) of x <- (1 - lr_k curvature) x - lr_k noise xi_k, from the
    recursions of the mean and the variance (no closed form involved)."""
    mean, variance = [start], [0.0]
    for lr in lrs:
        mean.append((1 - lr * curvature) * mean[-1])
        variance.append((1 - lr * curvature) ** 2 * variance[-1] + lr ** 2 * noise ** 2)
    mean, variance = np.array(mean), np.array(variance)
    return mean ** 2 + variance, mean, variance


def sampling_tolerance(mean, variance, runs):
    return SIGMAS * np.sqrt((2 * variance ** 2 + 4 * mean ** 2 * variance) / runs)


def test_the_noise_floor_formula_is_the_fixed_point_of_the_variance_recursion(ns):
    noise_floor = ns["noise_floor"]
    for lr, curvature, noise in [(0.5, 1.0, 1.0), (0.1, 1.0, 1.0), (0.02, 1.0, 1.0), (0.3, 4.0, 0.5), (1.5, 1.0, 2.0)]:
        floor = noise_floor(lr, curvature, noise)
        assert math.isclose(floor, (1 - lr * curvature) ** 2 * floor + lr ** 2 * noise ** 2, rel_tol=1e-12)
        assert math.isclose(floor, lr ** 2 * noise ** 2 / (1 - (1 - lr * curvature) ** 2), rel_tol=1e-12)
        # the path from a fixed start: (1 - a l)^(2k) x0^2 + floor (1 - (1 - a l)^(2k))
        moment, _, _ = exact_second_moment([lr] * 60, curvature, noise, start=3.0)
        r2k = (1 - lr * curvature) ** (2 * np.arange(61))
        np.testing.assert_allclose(moment, r2k * 9.0 + floor * (1 - r2k), rtol=1e-12)
        # the expected loss curvature / 2 * floor = lr noise^2 / (2 (2 - lr curvature))
        assert math.isclose(curvature / 2 * floor, lr * noise ** 2 / (2 * (2 - lr * curvature)), rel_tol=1e-12)
    # proportional to the rate when lr * curvature is small; unbounded as lr * curvature -> 2
    assert math.isclose(noise_floor(1e-4) / noise_floor(1e-5), 10, rel_tol=1e-4)
    assert noise_floor(1.999) > 1000
    assert [f"{noise_floor(lr):.4f}" for lr in (0.5, 0.1, 0.02)] == ["0.3333", "0.0526", "0.0101"]
    assert round(noise_floor(0.1) / noise_floor(0.02)) == 5
    text = CHAPTER.markdown()
    assert "$0.3333$, $0.0526$ and $0.0101$" in text and "about five times more steps" in text


@pytest.mark.parametrize("lr, curvature, noise", [(0.5, 1.0, 1.0), (0.1, 1.0, 1.0), (0.3, 4.0, 0.5), (1.5, 1.0, 2.0)])
def test_the_noise_floor_formula_matches_a_simulation(lr, curvature, noise):
    """An independent simulation (plain NumPy, 20,000 runs): the stationary variance, and the path to it."""
    runs, steps = 20_000, 300
    rng = np.random.default_rng(2026)
    x = np.full(runs, 2.0)
    checkpoints = {}
    for k in range(1, steps + 1):
        x = x - lr * (curvature * x + noise * rng.standard_normal(runs))
        if k in (1, 3, 10, steps):
            checkpoints[k] = np.mean(x ** 2)
    moment, mean, variance = exact_second_moment([lr] * steps, curvature, noise, start=2.0)
    for k, measured in checkpoints.items():
        assert abs(measured - moment[k]) < sampling_tolerance(mean[k], variance[k], runs), (k, measured, moment[k])
    floor = lr * noise ** 2 / (curvature * (2 - lr * curvature))
    assert abs(variance[steps] / floor - 1) < 1e-9  # stationary by the last step
    assert abs(checkpoints[steps] / floor - 1) < SIGMAS * math.sqrt(2 / runs)


def test_the_notebooks_floor_runs_match_the_formula(ns):
    runs, start, curvature, noise = ns["RUNS"], ns["START"], ns["CURVATURE"], ns["NOISE"]
    assert (runs, start, curvature, noise) == (2000, 3.0, 1.0, 1.0) and ns["FLOOR_STEPS"] == 400
    assert f"{math.sqrt(2 / runs):.1%}" == "3.2%"
    for lr, measured in ns["floor_runs"].items():
        moment, mean, variance = exact_second_moment([lr] * 400, curvature, noise, start)
        assert len(measured) == 401 and measured[0] == start ** 2
        for k in (1, 5, 20, 100, 400):
            assert abs(measured[k] - moment[k]) < sampling_tolerance(mean[k], variance[k], runs), (lr, k)
        assert math.isclose(variance[400], ns["noise_floor"](lr), rel_tol=1e-6)  # at the floor by step 400


def test_the_robbins_monro_runs_the_narrative_describes(ns):
    steps, runs = ns["ROBBINS_MONRO_STEPS"], ns["RUNS"]
    assert steps == 2000
    lrs = {
        "constant 0.1": [0.1] * steps,
        "StepLR(step_size=500, gamma=0.1) from 0.1": [0.1 * 0.1 ** (k // 500) for k in range(steps)],
        "1/(k+1): both conditions": [1 / (k + 1) for k in range(steps)],
        "0.1 (10/(k+10))^2: finite sum": [0.1 * (10 / (k + 10)) ** 2 for k in range(steps)],
    }
    runs_by_name = ns["robbins_monro_runs"]
    assert list(runs_by_name) == list(lrs)
    exact = {}
    for name, schedule in lrs.items():
        # the scheduler's rates are the ones intended, step by step
        seen = []
        optimizer = problems.PlainSGD([Parameter(np.zeros(1))], lr=schedule[0])
        make = {"StepLR(step_size=500, gamma=0.1) from 0.1": lambda o: ns["StepLR"](o, step_size=500, gamma=0.1),
                "1/(k+1): both conditions": lambda o: ns["InverseTimeLR"](o, k0=1),
                "0.1 (10/(k+10))^2: finite sum": lambda o: ns["InverseTimeLR"](o, k0=10, power=2)}.get(name)
        scheduler = make(optimizer) if make else None
        for _ in range(steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if scheduler:
                scheduler.step()
        np.testing.assert_allclose(seen, schedule, rtol=1e-12)
        moment, mean, variance = exact_second_moment(schedule, 1.0, 1.0, 3.0)
        exact[name] = moment
        measured = runs_by_name[name]
        for k in (1, 10, 50, 500, 1000, 1500, 2000):
            assert abs(measured[k] - moment[k]) < sampling_tolerance(mean[k], variance[k], runs), (name, k)
    floor = ns["noise_floor"](0.1)
    constant, step, harmonic, summable = (exact[name] for name in lrs)
    # StepLR makes the very same steps as the constant rate until its first decay (the figure draws one inside the other)
    np.testing.assert_array_equal(runs_by_name["StepLR(step_size=500, gamma=0.1) from 0.1"][:501], runs_by_name["constant 0.1"][:501])
    assert "until its first decay, at step 500, it makes the very same steps" in CHAPTER.markdown()
    assert 9 * 0.81 ** 50 < 0.01 * floor and abs(constant[50] / floor - 1) < 0.01  # at its floor from about step 50
    assert (f"{ns['noise_floor'](0.01):.1e}", f"{ns['noise_floor'](0.001):.1e}") == ("5.0e-03", "5.0e-04")
    assert abs(step[1000] / ns["noise_floor"](0.01) - 1) < 0.01  # settled within the first decayed stage
    assert f"{step[1500]:.1e}" == "2.2e-03" and f"{step[2000]:.1e}" == "2.0e-03"  # expectations; the runs measure them
    # exactly 1/k: x_1 = -xi_0 and x_k = -(xi_0 + ... + xi_{k-1}) / k
    np.testing.assert_allclose(harmonic[1:] * np.arange(1, steps + 1), 1.0, rtol=1e-12)
    assert f"{harmonic[2000]:.0e}" == "5e-04"
    assert 95 < floor / harmonic[2000] < 110 and round(step[2000] / harmonic[2000]) == 4  # about a hundred, four
    assert np.all(np.diff(harmonic[10:]) < 0)  # still falling
    rate_sum = sum(0.1 * (10 / (k + 10)) ** 2 for k in range(1_000_000))
    product = np.prod([1 - 0.1 * (10 / (k + 10)) ** 2 for k in range(1_000_000)])
    assert f"{rate_sum:.2f}" == "1.05" and f"{product:.2f}" == "0.34"
    assert f"{summable[2000]:.2f}" == "1.07" and abs(summable[-1] / summable[1000] - 1) < 0.02  # frozen
    assert 9 * product ** 2 > 1.0 and np.all(summable > 1.0)  # the start is never forgotten
    # the Robbins-Monro sums of the harmonic rates: the partial sums grow like log k, their squares converge
    # StepLR(500, 0.1) from 0.1 continued forever: a geometric series of rates, 0.1 * 500 / (1 - 0.1)
    step_sum = sum(0.1 * 0.1 ** (k // 500) for k in range(500 * 40))
    assert f"{step_sum:.1f}" == f"{0.1 * 500 / (1 - 0.1):.1f}" == "55.6" and "about 55.6" in CHAPTER.markdown()
    harmonic_rates = 1 / np.arange(1, 10 ** 6 + 1)
    assert harmonic_rates.sum() > 14 and (harmonic_rates ** 2).sum() < math.pi ** 2 / 6
    text = CHAPTER.markdown()
    for stated in ("$5.0\\cdot10^{-3}$", "$2.2\\cdot10^{-3}$", "$2.0\\cdot10^{-3}$", "whose variance is $\\sigma^2/k$", "$5\\cdot 10^{-4}$ at step 2,000",
                   "a hundred times", "floor $5.0\\cdot10^{-4}$", "four times below `StepLR`", "\\approx 1.07$", "add up to about 1.05", "about $0.34$",
                   "only about 1.05"):
        assert stated in text, stated
