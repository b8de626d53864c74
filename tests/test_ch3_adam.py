"""Chapter 3 (Adam and the adaptive methods): the notebook, its golden data and the facts its narrative states.

* The reference notebook runs in-process with every cell passing; since its checks compare with golden
  values recorded from ``torch.optim``, that proves the reference solutions equal PyTorch in float64.
  Some trajectories are also compared with torch here, directly.
* Every number and formula the narrative states is computed here.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
import torch

import slopegrad
from autograder.compare import first_mismatch
from autograder.mistakes.ch3_adam import CATALOGUE
from autograder.problems import adam as problems
from autograder.problems.trajectories import trajectory
from courseplots import VALLEY_HESSIAN, run_on_valley
from chapters import BY_NAME
from slopegrad.nn import Parameter
from tools.golden import ch3_adam as golden_module

CHAPTER = BY_NAME["ch3_adam"]  # its test cells, exercises and points: tests/chapters.py
NOTEBOOK = CHAPTER.path
B1, B2 = 0.9, 0.999

TORCH = golden_module.TORCH
torch.set_default_dtype(torch.float64)


def replay_gradients(make, gradients, start):
    return problems.replay(make, np.asarray(gradients, dtype=float), np.asarray(start, dtype=float))


# ================================================================= the reference equals torch


GRID_CASES = [
    ("Adam", torch.optim.Adam, {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", torch.optim.Adam, {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-2}),
    ("AdamW", torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.2}),
    ("AdamW", torch.optim.AdamW, {"lr": 0.03, "amsgrad": True}),
    ("RMSprop", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.95, "eps": 1e-2, "weight_decay": 0.05}),
    ("Adagrad", torch.optim.Adagrad, {"lr": 0.3, "eps": 1e-6, "weight_decay": 0.05}),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,torch_class,options", GRID_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(GRID_CASES)])
def test_reference_equals_torch_over_150_steps(ns, name, torch_class, options):
    mine = trajectory(lambda ps: ns[name](ps, **options), steps=150)
    theirs = trajectory(lambda ps: torch_class(ps, **options), steps=150, backend=TORCH)
    for key in theirs:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-10, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(mine["p3"], np.broadcast_to(mine["p3"][0], mine["p3"].shape))  # no gradient: untouched


@pytest.mark.torch
def test_reference_state_matches_torch_after_first_step(ns):
    for name, torch_class, options in (("Adam", torch.optim.Adam, {"lr": 0.1, "amsgrad": True}),
                                       ("RMSprop", torch.optim.RMSprop, {"lr": 0.1})):
        mine = problems.state_after_first_step(ns[name], options)
        theirs = problems.state_after_first_step(torch_class, options, TORCH)
        assert first_mismatch(mine, theirs, 1e-12, 1e-15) is None
        assert mine["p0"]["step"] == 1.0 and mine["p3"] == problems.NO_STATE


# ===================================================================== the common mistakes
# (The chapter's common mistakes and their hints: autograder/mistakes, tested in test_mistakes.py.)


# ======================================================= what the narrative states, computed


def test_intro_valley_limit():
    assert 2 / np.linalg.eigvalsh(VALLEY_HESSIAN).max() == 0.5


def test_defaults_are_pytorchs(ns):
    w = Parameter(np.zeros(2))
    cases = [
        (ns["Adam"]([w]), torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}),
        (ns["AdamW"]([w]), torch.optim.AdamW, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False}),
        (ns["RMSprop"]([w]), torch.optim.RMSprop, {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}),
        (ns["Adagrad"]([w]), torch.optim.Adagrad, {"lr": 1e-2, "eps": 1e-10, "weight_decay": 0.0}),
    ]
    for optimizer, torch_class, expected in cases:
        group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
        assert group == expected
        theirs = torch_class([torch.nn.Parameter(torch.zeros(2))]).param_groups[0]
        assert all(float(theirs[k]) == v if not isinstance(v, tuple) else tuple(theirs[k]) == v for k, v in expected.items())


def test_gradient_descent_constant_gradient_step_is_lr_times_g(ns):
    g, lr = np.array([3.0, -0.5]), 0.1
    steps = np.diff(replay_gradients(lambda ps: ns["GradientDescent"](ps, lr=lr), np.tile(g, (5, 1)), [0.0, 0.0]), axis=0)
    np.testing.assert_allclose(steps, np.tile(-lr * g, (5, 1)), rtol=1e-15)


def test_adagrad_constant_gradient_steps_shrink_like_one_over_sqrt_t(ns):
    g, lr, eps = np.array([3.0, -0.5]), 0.1, 1e-10
    steps = np.diff(replay_gradients(lambda ps: ns["Adagrad"](ps, lr=lr, eps=eps), np.tile(g, (50, 1)), [0.0, 0.0]), axis=0)
    t = np.arange(1, 51)[:, None]
    np.testing.assert_allclose(steps, -lr * g / (np.sqrt(t) * np.abs(g) + eps), rtol=1e-12)
    np.testing.assert_allclose(np.abs(steps[:3, 0]), lr / np.sqrt([1, 2, 3]), rtol=1e-9)


def test_rmsprop_first_step_is_ten_lr_and_settles_after_hundreds_of_steps(ns):
    alpha, lr = 0.99, 0.01
    assert 1 / (1 - alpha) == pytest.approx(100)
    assert 1 / math.sqrt(1 - alpha) == pytest.approx(10)
    g = np.array([2.0, -1e-3])
    steps = np.abs(np.diff(replay_gradients(lambda ps: ns["RMSprop"](ps, lr=lr, eps=0.0), np.tile(g, (400, 1)), [0.0, 0.0]), axis=0))
    t = np.arange(1, 401)[:, None]
    np.testing.assert_allclose(steps, lr / np.sqrt(1 - alpha**t) * np.ones(2), rtol=1e-12)  # the summary's lr/sqrt(1 - alpha^t)
    assert steps[0, 0] / lr == pytest.approx(10)
    assert steps[99, 0] / lr > 1.2 and steps[299, 0] / lr < 1.03  # "settle to lr only after a few hundred steps"


def test_ema_weights_and_the_expectation_of_v():
    for t in (1, 7, 1000):
        weights = (1 - B2) * B2 ** (t - np.arange(1, t + 1))
        assert weights.sum() == pytest.approx(1 - B2**t, rel=1e-12)
    assert 1 - B2**1 == pytest.approx(0.001)
    assert round(1 - B2**1000, 3) == 0.632
    # exactly, for a constant gradient
    g, m, v = 1.7, 0.0, 0.0
    for t in range(1, 301):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        assert m == pytest.approx(g * (1 - B1**t), rel=1e-12)
        assert v == pytest.approx(g * g * (1 - B2**t), rel=1e-12)
    # in expectation, for stationary noisy gradients (mean 1, sd 0.5: E[g^2] = 1.25)
    rng = np.random.default_rng(1)
    runs, v = 20_000, np.zeros(20_000)
    for t in range(1, 501):
        v = B2 * v + (1 - B2) * rng.normal(1.0, 0.5, size=runs) ** 2
    standard_error = v.std() / math.sqrt(runs)
    assert abs(v.mean() - 1.25 * (1 - B2**500)) < 4 * standard_error


def test_first_step_without_bias_correction_and_the_constant_gradient_curve():
    ratio = (1 - B1) / math.sqrt(1 - B2)
    assert round(ratio, 2) == 3.16
    t = np.arange(1, 5001)
    uncorrected = (1 - B1**t) / np.sqrt(1 - B2**t)
    assert uncorrected[0] == pytest.approx(ratio)
    assert int(t[np.argmax(uncorrected)]) == 12 and round(uncorrected.max(), 2) == 6.57
    assert round(uncorrected[99], 2) == 3.24 and round(uncorrected[999], 2) == 1.26
    # the formula is what an Adam without correction actually does under a constant gradient
    wrong = CATALOGUE.solution("no_bias_correction")["Adam"]
    g = np.array([0.3, -20.0])
    steps = np.abs(np.diff(replay_gradients(lambda ps: wrong(ps, lr=1.0, eps=0.0), np.tile(g, (200, 1)), [0.0, 0.0]), axis=0))
    np.testing.assert_allclose(steps, np.tile(uncorrected[:200, None], (1, 2)), rtol=1e-12)


def test_with_correction_every_constant_gradient_step_is_lr(ns):
    g, lr = np.array([[1e-6, -3.0], [250.0, 0.02]]), 0.01
    for eps in (0.0, 1e-8):
        steps = np.diff(replay_gradients(lambda ps: ns["Adam"](ps, lr=lr, eps=eps), np.tile(g, (300, 1, 1)), np.zeros((2, 2))), axis=0)
        np.testing.assert_allclose(steps, np.broadcast_to(-lr * g / (np.abs(g) + eps), steps.shape), rtol=1e-12)
    # AMSGrad too (the summary table)
    steps = np.diff(replay_gradients(lambda ps: ns["Adam"](ps, lr=lr, eps=0.0, amsgrad=True), np.tile(g, (50, 1, 1)), np.zeros((2, 2))), axis=0)
    np.testing.assert_allclose(np.abs(steps), lr, rtol=1e-12)


def test_eps_zero_first_step_is_exactly_lr_and_adam_ignores_the_gradient_scale(ns):
    rng = np.random.default_rng(5)
    lr = 0.01
    for _ in range(20):
        g = rng.normal(size=4) * 10.0 ** rng.uniform(-8, 8, size=4)
        step = np.diff(replay_gradients(lambda ps: ns["Adam"](ps, lr=lr, eps=0.0), g[None], np.zeros(4)), axis=0)[0]
        np.testing.assert_allclose(np.abs(step), lr, rtol=1e-15, atol=0)
    # scale invariance: the loss times 1000 gives the same steps (eps = 0)
    gradients = rng.normal(size=(100, 6))
    a = replay_gradients(lambda ps: ns["Adam"](ps, lr=lr, eps=0.0), gradients, np.zeros(6))
    b = replay_gradients(lambda ps: ns["Adam"](ps, lr=lr, eps=0.0), 1000.0 * gradients, np.zeros(6))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_where_eps_goes(ns):
    assert math.sqrt(1e-8) == pytest.approx(1e-4)
    assert 1 / math.sqrt(1 - B2) == pytest.approx(31.6, abs=0.05)
    # TensorFlow/Keras's form (eps-hat added to sqrt(v) before the correction) is Algorithm 1 with
    # eps = eps_hat / sqrt(1 - beta2**t)
    rng = np.random.default_rng(3)
    gradients = rng.normal(size=(60, 3)) * 1e-3
    lr, eps_hat = 0.01, 1e-4
    theta_tf, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    theta, state = np.zeros(3), {}
    for t, g in enumerate(gradients, start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        theta_tf -= lr * math.sqrt(1 - B2**t) / (1 - B1**t) * m / (np.sqrt(v) + eps_hat)
        ns["adam_update"](theta, g, state, lr=lr, beta1=B1, beta2=B2, eps=eps_hat / math.sqrt(1 - B2**t))
        np.testing.assert_allclose(theta, theta_tf, rtol=1e-12, atol=1e-16)
    # and it is not the same method as eps = eps_hat throughout
    other, state = np.zeros(3), {}
    for g in gradients:
        ns["adam_update"](other, g, state, lr=lr, beta1=B1, beta2=B2, eps=eps_hat)
    assert not np.allclose(other, theta, rtol=1e-3)


def test_kingma_ba_heuristic_numbers_and_the_spike(ns):
    assert (1 - B1) > math.sqrt(1 - B2) and round(math.sqrt(1 - B2), 4) == 0.0316
    assert problems.kingma_ba_heuristic(B1, B2) == pytest.approx(3.16, abs=0.005)
    assert problems.kingma_ba_heuristic(0.9, 0.99) == 1.0  # 1 - b1 = sqrt(1 - b2): the "otherwise lr" case
    spike = problems.spike_after_quiet(ns["Adam"], problems.SPIKE_OPTIONS)
    assert abs(spike[0]) == pytest.approx(3.1622, abs=5e-5)


@pytest.mark.torch
def test_a_coordinate_that_becomes_active_breaks_the_heuristic(ns):
    """Section 6: 10000 zero gradients, then a constant one: 3.16, 4.25, 4.95, ... up to 6.57 lr at the 12th
    nonzero step (default betas), and up to 2.13 lr with betas (0.9, 0.99), where the heuristic says lr."""
    ours = problems.quiet_then_constant_steps(ns["Adam"])
    theirs = problems.quiet_then_constant_steps(torch.optim.Adam, backend=TORCH)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12)
    default, low_beta2 = ours["lr=0.01"], ours["betas=(0.9, 0.99),lr=0.01"]
    assert [round(x, 2) for x in default[:3]] == [3.16, 4.25, 4.95]
    assert round(default.max(), 2) == 6.57 and int(np.argmax(default)) + 1 == 12
    assert default.max() > problems.kingma_ba_heuristic(B1, B2)
    assert [round(x, 2) for x in low_beta2[:3]] == [1.0, 1.35, 1.57]
    assert round(low_beta2.max(), 2) == 2.13 and int(np.argmax(low_beta2)) + 1 == 13
    assert low_beta2.max() > 2 * problems.kingma_ba_heuristic(0.9, 0.99)
    assert set(ours) == {problems.label(o) for o in problems.QUIET_THEN_CONSTANT_OPTIONS}


def _ratio(gradients: np.ndarray) -> float:
    m = v = 0.0
    for t, g in enumerate(gradients, start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
    return abs(m / (1 - B1**t)) / math.sqrt(v / (1 - B2**t))


def test_the_largest_step_over_all_gradient_sequences(ns):
    largest = golden_module.largest_step_over_lr
    worst = (1 - B1) / math.sqrt((1 - B2) * (1 - B1**2 / B2))
    assert round(worst, 2) == 7.27 and largest(20_000) == pytest.approx(worst, rel=1e-8)
    assert largest(1) == pytest.approx(1.0, rel=1e-15)  # the first step is lr (section 5)
    assert round(largest(20_000, 0.9, 0.99), 2) == 2.35
    assert largest(10**5, 0.99, 0.98) > 3 * largest(10**4, 0.99, 0.98)  # b1^2 >= b2: no bound at all
    growth = B2 / B1
    assert round(growth, 2) == 1.11

    def growing(steps):  # g_i = growth**i, scaled so that the last one is 1
        return growth ** (np.arange(steps) - (steps - 1.0))

    assert _ratio(growing(200)) < 3.1623 < _ratio(growing(210))
    assert _ratio(growing(20_000)) == pytest.approx(worst, rel=1e-6)
    for t in (1, 10, 100, 1000):  # Cauchy-Schwarz is reached by the growing gradients ...
        assert _ratio(growing(t)) == pytest.approx(largest(t), rel=1e-12)
    rng = np.random.default_rng(6)
    for _ in range(200):  # ... and no other sequence does better
        t = int(rng.integers(1, 300))
        gradients = rng.normal(size=t) * np.exp(rng.normal(scale=3, size=t))
        assert _ratio(gradients) <= largest(t) * (1 + 1e-12)
    # the reference Adam takes exactly these steps (the figure's dots and the hidden check)
    steps = problems.worst_case_steps(ns["Adam"])
    assert steps == pytest.approx({f"t={t}": largest(t) for t in problems.WORST_CASE_LENGTHS}, rel=1e-9)
    assert round(steps["t=10000"], 2) == 7.27


def test_state_sizes(ns):
    assert problems.state_size(ns["Adam"], {"lr": 0.1}) == 2 * 10
    assert problems.state_size(ns["Adam"], {"lr": 0.1, "amsgrad": True}) == 3 * 10
    assert problems.state_size(ns["AdamW"], {"lr": 0.1}) == 2 * 10
    assert problems.state_size(ns["RMSprop"], {"lr": 0.1}) == 10
    assert problems.state_size(ns["Adagrad"], {"lr": 0.1}) == 10


def test_every_optimizer_counts_its_updates_from_one(ns):
    for name, keys in (("Adam", {"step", "exp_avg", "exp_avg_sq"}), ("AdamW", {"step", "exp_avg", "exp_avg_sq"}),
                       ("RMSprop", {"step", "square_avg"}), ("Adagrad", {"step", "sum"})):
        w = Parameter(np.array([1.0, -2.0]))
        optimizer = ns[name]([w], lr=0.1)
        for t in (1, 2, 3):
            optimizer.zero_grad()
            (w * w).sum().backward()
            optimizer.step()
            assert optimizer.state[w]["step"] == t and set(optimizer.state[w]) == keys, name
    w = Parameter(np.array([1.0]))
    optimizer = ns["Adam"]([w], amsgrad=True)
    w.grad = np.array([2.0])
    optimizer.step()
    assert set(optimizer.state[w]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}


def test_weight_decay_algebra():
    rng = np.random.default_rng(9)
    theta, g, u = rng.normal(size=(3, 5))
    lr, wd = 0.1, 0.3
    # for SGD, L2 and shrinking are one thing
    np.testing.assert_allclose(theta - lr * (g + wd * theta), theta * (1 - lr * wd) - lr * g, rtol=1e-14)
    # AdamW: shrink first, then step = the paper's form; shrink after = an extra lr^2 wd u
    first = theta * (1 - lr * wd) - lr * u
    np.testing.assert_allclose(first, theta - lr * u - lr * wd * theta, rtol=1e-14)
    after = (theta - lr * u) * (1 - lr * wd)
    np.testing.assert_allclose(after - first, lr**2 * wd * u, rtol=1e-12, atol=1e-15)


def test_decay_demonstration_numbers(ns):
    idle_l2, idle_w, busy_l2, busy_w = {}, {}, {}, {}
    base = problems.decay_demo(ns["AdamW"], weight_decay=0.0)
    assert np.array_equal(base, problems.decay_demo(ns["Adam"], weight_decay=0.0))
    for wd in (0.001, 0.01, 0.1):
        l2, w = problems.decay_demo(ns["Adam"], weight_decay=wd), problems.decay_demo(ns["AdamW"], weight_decay=wd)
        idle_l2[wd], idle_w[wd] = l2[-1, 0], w[-1, 0]
        busy_l2[wd], busy_w[wd] = l2[-1, 1] / base[-1, 1], w[-1, 1] / base[-1, 1]
        assert round(idle_l2[wd], 3) == 0.224
        assert idle_w[wd] == pytest.approx((1 - 0.01 * wd) ** 100, rel=1e-12)
        assert busy_w[wd] == pytest.approx((1 - 0.01 * wd) ** 100, rel=1e-4)  # "shrinks by that same factor"
    assert [round(idle_w[wd], 3) for wd in (0.001, 0.01, 0.1)] == [0.999, 0.990, 0.905]
    # the busy weight's gradient averages to zero, yet without any decay it ends at 0.982: the baseline
    assert base[1, 1] == pytest.approx(1 - 0.01, rel=1e-6) and round(base[-1, 1], 3) == 0.982
    steps = np.diff(base[:, 1]) / 0.01  # in units of lr: towards zero at odd steps, back at even ones
    assert [round(x, 2) for x in steps[:5]] == [-1.0, 0.05, -0.34, 0.05, -0.2]
    assert round(np.abs(steps[-20:]).max(), 2) == 0.05 and round(np.abs(steps[-20:]).min(), 2) == 0.05
    # relative to that baseline the decay takes 2% (L2) and 9.5% (AdamW) for wd = 0.1 ...
    assert round(1 - busy_l2[0.1], 2) == 0.02 and round(1 - busy_w[0.1], 3) == 0.095
    # ... and the plotted end values are 0.963 and 0.889: 3.7% and 11% below the start
    l2, w = problems.decay_demo(ns["Adam"], weight_decay=0.1), problems.decay_demo(ns["AdamW"], weight_decay=0.1)
    assert (round(l2[-1, 1], 3), round(w[-1, 1], 3)) == (0.963, 0.889)
    assert (round(1 - l2[-1, 1], 3), round(1 - w[-1, 1], 2)) == (0.037, 0.11)


def test_torch_adamw_is_adam_with_a_flag_and_ours_is_built_by_composition(ns):
    assert issubclass(torch.optim.AdamW, torch.optim.Adam)
    assert torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))]).param_groups[0]["decoupled_weight_decay"] is True
    assert issubclass(ns["AdamW"], ns["Adam"])
    # AdamW.step calls adam_update and does none of the moment arithmetic itself
    tree = ast.parse(CHAPTER.cell_source("adamw"))
    step = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "step")
    calls = {n.func.id for n in ast.walk(step) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {n.attr for n in ast.walk(step) if isinstance(n, ast.Attribute)} | {
        n.value for n in ast.walk(step) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert "adam_update" in calls
    assert not {"exp_avg", "exp_avg_sq", "sqrt", "maximum"} & names
    # and really runs through it: every update of every parameter goes through the shared rule
    original, seen = ns["adam_update"], []

    def spy(param, grad, state, **options):
        seen.append(options)
        return original(param, grad, state, **options)

    ns["adam_update"] = spy
    try:
        trajectory(lambda ps: ns["AdamW"](ps, lr=0.1), steps=4)
    finally:
        ns["adam_update"] = original
    assert len(seen) == 4 * 3  # three parameters get gradients, four steps


def test_valley_figure_statements(ns):
    paths = {
        "gd": run_on_valley(lambda ps: ns["GradientDescent"](ps, lr=0.4), steps=30),
        "adagrad": run_on_valley(lambda ps: ns["Adagrad"](ps, lr=1.5), steps=30),
        "rmsprop": run_on_valley(lambda ps: ns["RMSprop"](ps, lr=0.05), steps=30),
        "adam": run_on_valley(lambda ps: ns["Adam"](ps, learning_rate=0.3, beta1=0.9, beta2=0.999), steps=30),
    }
    for key, paths_in_notebook in zip(paths, ns["paths"].values()):
        np.testing.assert_array_equal(paths[key], paths_in_notebook)
    first = {key: np.diff(p, axis=0)[0] for key, p in paths.items()}
    np.testing.assert_allclose(first["adam"], [0.3, 0.3], rtol=1e-7)  # lr, up to eps
    np.testing.assert_allclose(first["adagrad"], [1.5, 1.5], rtol=1e-9)
    np.testing.assert_allclose(first["rmsprop"], [0.5, 0.5], rtol=1e-6)  # 10 lr
    assert np.all(np.sign(paths["gd"][1:6, 1]) == [1, -1, 1, -1, 1])  # zig-zag across the steep direction
    adagrad_steps = np.linalg.norm(np.diff(paths["adagrad"], axis=0), axis=1)
    assert np.all(np.diff(adagrad_steps) < 0)
    assert paths["adam"][:, 0].max() > 0.5  # past the minimum along x1


# ======================================================================= the seed's call


def _seed_problem():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    w1, w2, bias = rng.normal(size=(3, 8)) * 0.5, rng.normal(size=(8, 1)) * 0.5, np.zeros(1)
    return x, y, (w1, w2, bias)


def _train(make_optimizer, steps=100):
    x, y, initial = _seed_problem()
    w1, w2, bias = (Parameter(a) for a in initial)
    xs, ys = slopegrad.Tensor(x), slopegrad.Tensor(y)
    optimizer = make_optimizer([w1, w2, bias])
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        prediction = (xs @ w1).tanh() @ w2 + bias
        loss = ((prediction - ys) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return optimizer, np.array(losses), [w1.data.copy(), w2.data.copy(), bias.data.copy()]


def test_the_turned_valley(ns):
    """Section 9: per-coordinate scaling depends on the basis; gradient descent does not."""
    run = ns["run_on_turned_valley"]
    gd = lambda ps: ns["GradientDescent"](ps, lr=0.4)  # noqa: E731
    adam = lambda ps: ns["Adam"](ps, lr=0.3)  # noqa: E731
    rmsprop = lambda ps: ns["RMSprop"](ps, lr=0.05)  # noqa: E731
    aligned = run(gd, 0)
    for angle in (15, 45, 72, 90):  # gradient descent's path is the same in the valley's own axes
        np.testing.assert_allclose(run(gd, angle), aligned, atol=1e-12)
    distance = lambda make, angle: float(np.linalg.norm(run(make, angle)[-1]))  # noqa: E731
    assert round(distance(gd, 0), 2) == round(distance(gd, 45), 2) == 0.41
    assert (round(distance(adam, 0), 2), round(distance(adam, 45), 2)) == (0.89, 2.47)
    assert (round(distance(rmsprop, 0), 2), round(distance(rmsprop, 45), 2)) == (1.25, 3.53)
    assert distance(adam, 90) == pytest.approx(distance(adam, 0), rel=1e-12)  # axes swapped: aligned again
    # the aligned case is the valley of section 9, and torch.optim.Adam agrees on the turned one
    np.testing.assert_allclose(run(adam, 0), run_on_valley(adam, steps=30), rtol=1e-12)
    turn = ns["rotation"](45)
    hessian = turn @ np.diag([0.2, 4.0]) @ turn.T
    x = torch.tensor(turn @ np.array([-5.0, -2.0]), requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.3)
    for _ in range(30):
        optimizer.zero_grad()
        x.grad = torch.tensor(hessian) @ x.detach()
        optimizer.step()
    np.testing.assert_allclose(x.detach().numpy() @ turn, run(adam, 45)[-1], rtol=1e-10)


def test_the_seeds_example_call_runs_as_written(ns):
    Adam = ns["Adam"]
    optimizer, losses, weights = _train(lambda ps: Adam(ps, learning_rate=0.001, beta1=0.9, beta2=0.999))
    assert losses[-1] < losses[0]
    same, same_losses, same_weights = _train(lambda ps: Adam(ps, lr=0.001, betas=(0.9, 0.999)))
    strip = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    assert strip == [{k: v for k, v in g.items() if k != "params"} for g in same.param_groups]
    assert strip == [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}]
    np.testing.assert_array_equal(losses, same_losses)
    for a, b in zip(weights, same_weights):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        Adam([Parameter(np.zeros(1))], lr=0.01, learning_rate=0.001)


@pytest.mark.torch
def test_the_seeds_example_matches_torch(ns):
    _, losses, weights = _train(lambda ps: ns["Adam"](ps, learning_rate=0.001, beta1=0.9, beta2=0.999))
    x, y, initial = _seed_problem()
    w1, w2, bias = (torch.nn.Parameter(torch.tensor(a)) for a in initial)
    xs, ys = torch.tensor(x), torch.tensor(y)
    optimizer = torch.optim.Adam([w1, w2, bias], lr=0.001, betas=(0.9, 0.999))
    theirs = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = ((torch.tanh(xs @ w1) @ w2 + bias - ys) ** 2).mean()
        loss.backward()
        optimizer.step()
        theirs.append(loss.item())
    np.testing.assert_allclose(losses, theirs, rtol=1e-10)
    for mine, their in zip(weights, (w1, w2, bias)):
        np.testing.assert_allclose(mine, their.detach().numpy(), rtol=1e-10, atol=1e-13)
