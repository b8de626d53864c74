"""The provided base classes on their own: ``slopegrad.optim.Optimizer`` and
``slopegrad.lr_scheduler.LRScheduler`` (bookkeeping only; the chapters test the update rules)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from slopegrad.lr_scheduler import STEP_ORDER_WARNING, LRScheduler
from slopegrad.nn import Parameter
from slopegrad.optim import Optimizer, resolve_betas, resolve_lr


class PlainSGD(Optimizer):
    """The smallest optimizer: theta -= lr * g, with a step counter in its per-parameter state."""

    def __init__(self, params, lr=None, learning_rate=None):
        super().__init__(params, {"lr": resolve_lr(lr, learning_rate)})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {"step": 0, "buffer": np.zeros_like(p.data)})
                state["step"] += 1
                state["buffer"] += p.grad
                p.data -= group["lr"] * p.grad


class Halving(LRScheduler):
    """lr_e = lr_0 / 2**e."""

    def lr_at(self, epoch):
        return [base / 2**epoch for base in self.base_lrs]


def parameters(*values):
    return [Parameter(np.array(v, dtype=np.float64)) for v in values]


def test_groups_take_the_defaults_they_do_not_set():
    a, b = parameters([1.0], [2.0, 3.0])
    opt = PlainSGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b], "a single parameter becomes a one-item list"


def test_bad_parameter_lists_are_refused():
    (a,) = parameters([1.0])
    with pytest.raises(ValueError, match="empty"):
        PlainSGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        PlainSGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(TypeError, match="parameters"):
        PlainSGD([np.zeros(2)], lr=0.1)
    frozen = Parameter(np.zeros(2))
    frozen.requires_grad = False
    with pytest.raises(ValueError, match="require gradients"):
        PlainSGD([frozen], lr=0.1)


def test_both_spellings_resolve_and_contradictions_are_refused():
    assert resolve_lr(None, 0.01) == resolve_lr(0.01, None) == 0.01
    assert resolve_betas((0.8, 0.9), None, None) == resolve_betas(None, 0.8, 0.9) == (0.8, 0.9)
    with pytest.raises(ValueError):
        resolve_lr(0.1, 0.2)
    with pytest.raises(TypeError):
        resolve_lr(None, None)
    with pytest.raises(ValueError):
        resolve_lr(-1.0, None)
    with pytest.raises(ValueError):
        resolve_betas((0.9, 0.999), 0.9, None)
    with pytest.raises(ValueError):
        resolve_betas(None, 1.0, None)


def test_zero_grad_sets_none_or_zeros_in_place():
    a, b = parameters([1.0, 2.0], [3.0])
    a.grad, b.grad = np.array([1.0, 1.0]), None
    opt = PlainSGD([a, b], lr=0.1)
    kept = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is kept and np.all(a.grad == 0) and b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_state_is_lazy_and_keyed_by_the_parameter_object():
    a, b = parameters([1.0], [2.0])
    opt = PlainSGD([a, b], lr=0.1)
    assert opt.state == {}
    a.grad = np.array([1.0])
    opt.step()
    assert list(opt.state) == [a], "a parameter without a gradient gets no state"
    assert opt.state[a]["step"] == 1


def test_a_state_dict_loads_into_a_fresh_optimizer_as_copies():
    a, b = parameters([1.0], [2.0, 3.0])
    opt = PlainSGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = np.array([1.0]), np.array([1.0, 2.0])
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"][1]["params"] == [1] and set(saved["state"]) == {0, 1}

    c, d = parameters([0.0], [0.0, 0.0])
    fresh = PlainSGD([{"params": [c]}, {"params": [d], "lr": 0.9}], lr=0.1)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[1]["lr"] == 0.5
    assert fresh.state[d]["step"] == 1 and np.array_equal(fresh.state[d]["buffer"], [1.0, 2.0])
    fresh.state[d]["buffer"] += 1
    assert np.array_equal(opt.state[b]["buffer"], [1.0, 2.0]), "the loaded state shares an array"
    with pytest.raises(ValueError, match="parameter groups"):
        PlainSGD([c], lr=0.1).load_state_dict(saved)


def test_the_scheduler_sets_epoch_zero_and_steps_after_the_optimizer():
    (a,) = parameters([1.0])
    opt = PlainSGD([a], lr=0.8)
    scheduler = Halving(opt)
    assert scheduler.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.8
    assert opt.param_groups[0]["initial_lr"] == 0.8 and scheduler.base_lrs == [0.8]
    a.grad = np.array([1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stepping in the right order warns nothing
        for _ in range(3):
            opt.step()
            scheduler.step()
    assert scheduler.last_epoch == 3 and scheduler.get_last_lr() == [0.1] == [opt.param_groups[0]["lr"]]


def test_stepping_the_scheduler_first_warns():
    (a,) = parameters([1.0])
    scheduler = Halving(PlainSGD([a], lr=0.8))
    with pytest.warns(UserWarning) as caught:
        scheduler.step()
    assert str(caught[0].message) == STEP_ORDER_WARNING


def test_a_second_scheduler_keeps_the_first_initial_lr_and_jump_to_uses_the_closed_form():
    (a,) = parameters([1.0])
    opt = PlainSGD([a], lr=0.8)
    Halving(opt)
    opt.param_groups[0]["lr"] = 0.3
    second = Halving(opt)
    assert second.base_lrs == [0.8], "initial_lr is set once"
    second.jump_to(2)
    assert second.last_epoch == 2 and opt.param_groups[0]["lr"] == 0.2


def test_a_schedule_must_return_one_rate_per_group():
    class Wrong(LRScheduler):
        def lr_at(self, epoch):
            return [0.1, 0.2]

    with pytest.raises(ValueError, match="one per group"):
        Wrong(PlainSGD(parameters([1.0]), lr=0.1))
    with pytest.raises(TypeError, match="not an optimizer"):
        Halving(object())
    with pytest.raises(NotImplementedError):
        LRScheduler(PlainSGD(parameters([1.0]), lr=0.1))


def test_the_scheduler_state_dict_restores_its_position():
    (a,) = parameters([1.0])
    opt = PlainSGD([a], lr=0.8)
    scheduler = Halving(opt)
    a.grad = np.array([1.0])
    opt.step()
    scheduler.step()
    saved = scheduler.state_dict()
    assert "optimizer" not in saved
    again = Halving(PlainSGD(parameters([1.0]), lr=0.8))
    again.load_state_dict(saved)
    assert again.last_epoch == 1 and again.get_last_lr() == [0.4]
