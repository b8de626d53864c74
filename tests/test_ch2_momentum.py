"""Chapter 2 (momentum): the reference notebook, its golden data, its hints and every number it states."""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from autograder.golden import load_assignment
from autograder.mistakes.ch2_momentum import CATALOGUE
from autograder.problems import momentum as problems
from autograder.problems.trajectories import trajectory
from courseplots import VALLEY_HESSIAN, VALLEY_START, animate_paths, run_on_valley, valley_gradient
from courseplots.animation import GRADING_VARIABLE
import nbtools
from chapters import BY_NAME
from nbtools import RELEASE, ROOT, SOURCE, run_in_process
from slopegrad.nn import Parameter
from tools.golden.torch_backend import TORCH

ASSIGNMENT = "ch2_momentum"
NOTEBOOK = SOURCE / ASSIGNMENT / "momentum.ipynb"
CHAPTER = BY_NAME[ASSIGNMENT]  # its test cells, exercises and points: tests/chapters.py
VISIBLE, HIDDEN = CHAPTER.visible, CHAPTER.hidden
GOLDEN = ROOT / "autograder" / "golden" / f"{ASSIGNMENT}.json"

FAST = {"animation": "pass"}  # the animation takes seconds and no check depends on it


@pytest.fixture(scope="module")
def SGD(reference):
    return reference.namespace["SGD"]


@pytest.fixture(scope="module")
def optimal_momentum(reference):
    return reference.namespace["optimal_momentum"]


# ------------------------------------------------------------------------ the reference notebook
def test_the_released_stubs_raise_and_the_provided_constructor_works():
    """(Every released notebook runs with only its stubs raising: test_release.py.)"""
    stubs = run_in_process(RELEASE / ASSIGNMENT / NOTEBOOK.name, replace=FAST).namespace
    with pytest.raises(NotImplementedError):
        stubs["optimal_momentum"](0.2, 4.0)
    sgd = stubs["SGD"]([Parameter(np.zeros(2))], learning_rate=0.1, momentum=0.9)  # the provided __init__ works
    with pytest.raises(NotImplementedError):
        sgd.step()


# ----------------------------------------------------------------------------------- golden data
def test_the_golden_hints_cover_the_chapters_mistakes():
    """Beyond the first failing check of each cell (test_mistakes.py): the checks each mistake is about name it."""
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    named = {
        "dampened_first_buffer": ("first_buffers", "grid_dampening", "visible_first_buffer"),
        "shared_state_dict": ("own_buffers", "twin_path", "grid_momentum", "lr_change"),
        "grad_none_not_skipped": ("visible_unused_parameter", "grid_plain", "in_place"),
        "grad_none_as_zero": ("visible_unused_parameter", "state_keys", "twin_state_keys", "lr_change"),
        "sutskever_form": ("visible_lr_change", "lr_change", "first_buffers"),
        "nesterov_on_buffer": ("visible_nesterov_steps", "grid_nesterov", "lr_change"),
        "not_in_place": ("in_place",),
        "beta_not_squared": ("visible_optimal_valley", "optimal_table", "optimal_radii"),
    }
    for mistake, checks in named.items():
        for check in checks:
            hints = [v.hint for v in golden[f"{ASSIGNMENT}.{check}"].variants]
            assert CATALOGUE[mistake].hint in hints, (mistake, check)


# ------------------------------------------------------------------------- explicit torch parity
def torch_sgd(params, **options):
    return torch.optim.SGD(params, **options)


def assert_same_paths(ours, theirs, tol=1e-10):
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=tol, atol=tol)


def test_reference_sgd_equals_torch_on_the_whole_grid(SGD):
    grid = problems.sgd_grid()
    assert len(grid) == 20 and sum(len(problems.sgd_grid(part)) for part in problems.GRID_PARTS) == 20
    assert {o["lr"] for o in grid} == {0.05, 0.2} and {o["weight_decay"] for o in grid} == {0.0, 0.01}
    assert not any(o["nesterov"] and (o["momentum"] == 0 or o["dampening"]) for o in grid)
    for options in grid:
        ours = trajectory(lambda ps, o=options: SGD(ps, **o), 120)
        theirs = trajectory(lambda ps, o=options: torch_sgd(ps, **o), 120, backend=TORCH)
        assert_same_paths(ours, theirs)
        np.testing.assert_array_equal(ours["p3"], np.broadcast_to(ours["p3"][0], ours["p3"].shape))
        assert not np.allclose(ours["p1"][-1], ours["p1"][0])


def test_reference_sgd_equals_torch_when_lr_changes_mid_run(SGD):
    ours, theirs = problems.lr_change_paths(SGD), problems.lr_change_paths(torch_sgd, backend=TORCH)
    assert set(ours) == set(theirs) and len(ours) == 2
    for key in theirs:
        assert_same_paths(ours[key], theirs[key])
    for options in ({"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}):
        hook = problems.halve_lr_after(30)
        assert_same_paths(trajectory(lambda ps: SGD(ps, **options), 80, after_step=hook),
                          trajectory(lambda ps: torch_sgd(ps, **options), 80, backend=TORCH, after_step=hook))


def test_reference_sgd_with_parameter_groups_and_closure_matches_torch(SGD):
    def groups(ps):
        return [{"params": ps[:2], "lr": 0.05, "nesterov": True}, {"params": ps[2:], "momentum": 0.5, "dampening": 0.1}]

    ours = trajectory(lambda ps: SGD(groups(ps), lr=0.1, momentum=0.9), 60)
    theirs = trajectory(lambda ps: torch_sgd(groups(ps), lr=0.1, momentum=0.9), 60, backend=TORCH)
    assert_same_paths(ours, theirs)
    w = Parameter(np.array([1.0, -2.0]))
    optimizer = SGD([w], lr=0.1)
    optimizer.zero_grad()
    ((w * w).sum() * 0.5).backward()
    assert optimizer.step(closure=lambda: 42.0) == 42.0 and optimizer.step() is None


def test_the_seed_example_runs_as_written_and_equals_torch(SGD):
    import slopegrad
    from slopegrad.functional import mse_loss

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    start = [rng.normal(size=(3, 4)), rng.normal(size=(4, 1)), np.zeros(1)]

    w1, w2, bias = (Parameter(a) for a in start)
    inputs, targets = slopegrad.Tensor(x), slopegrad.Tensor(y)
    optimizer = SGD([w1, w2, bias], learning_rate=0.01, momentum=0.9)
    for _ in range(5):
        loss = mse_loss((inputs @ w1).tanh() @ w2 + bias, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    t1, t2, tb = (torch.nn.Parameter(torch.tensor(a)) for a in start)
    reference_optimizer = torch.optim.SGD([t1, t2, tb], lr=0.01, momentum=0.9)
    for _ in range(5):
        loss = torch.nn.functional.mse_loss(torch.tanh(torch.tensor(x) @ t1) @ t2 + tb, torch.tensor(y))
        reference_optimizer.zero_grad()
        loss.backward()
        reference_optimizer.step()
    for ours, theirs in zip((w1, w2, bias), (t1, t2, tb)):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(optimizer.state[ours]["momentum_buffer"],
                                   reference_optimizer.state[theirs]["momentum_buffer"].numpy(), rtol=1e-12, atol=1e-14)
    assert len(optimizer.state) == 3 and all(list(s) == ["momentum_buffer"] for s in optimizer.state.values())


def test_both_spellings_build_identical_optimizers(SGD):
    def options(optimizer):
        return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]

    w = [Parameter(np.ones(2)), Parameter(np.zeros(3))]
    course = SGD(w, learning_rate=0.01, momentum=0.9)
    pytorch = SGD(w, lr=0.01, momentum=0.9)
    assert options(course) == options(pytorch) == [
        {"lr": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}]
    assert repr(course) == repr(pytorch)
    assert SGD(w, 0.01, 0.9).param_groups[0]["lr"] == 0.01  # positional, as in torch
    paths = [trajectory(lambda ps, k=k: SGD(ps, **{k: 0.05}, momentum=0.9, nesterov=True), 30)
             for k in ("lr", "learning_rate")]
    assert_same_paths(paths[0], paths[1], tol=0)


def test_constructor_validates_like_torch(SGD):
    w = [Parameter(np.ones(2))]
    bad = [dict(lr=0.1, nesterov=True), dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
           dict(lr=0.1, momentum=-0.5), dict(lr=0.1, weight_decay=-1.0), dict(lr=-0.1)]
    tw = [torch.nn.Parameter(torch.ones(2))]
    for options in bad:
        with pytest.raises(ValueError):
            SGD(w, **options)
        with pytest.raises(ValueError):
            torch.optim.SGD(tw, **options)
    with pytest.raises(ValueError):
        SGD(w, lr=0.1, learning_rate=0.2)
    with pytest.raises(TypeError):
        SGD(w, momentum=0.9)
    SGD(w, lr=0.1, momentum=0.9, nesterov=True)  # valid


def test_state_is_per_parameter_and_survives_a_state_dict_with_another_lr(SGD):
    ps = [Parameter(np.ones(3)), Parameter(np.ones(3)), Parameter(np.ones(3))]
    optimizer = SGD(ps, lr=0.1, momentum=0.9)
    for _ in range(3):
        optimizer.zero_grad()
        ((ps[0] * ps[0]).sum() + (ps[1] * 2.0).sum()).backward()
        optimizer.step()
    assert set(optimizer.state) == {ps[0], ps[1]}  # keyed by the parameter objects, none for the unused one
    buffers = [optimizer.state[p]["momentum_buffer"] for p in ps[:2]]
    assert buffers[0] is not buffers[1] and not np.shares_memory(buffers[0], buffers[1])
    assert not any(np.shares_memory(b, p.data) for b in buffers for p in ps)
    # the buffer does not depend on lr: a checkpoint resumes with another learning rate
    saved = optimizer.state_dict()
    resumed = SGD(ps, lr=0.02, momentum=0.9)
    resumed.load_state_dict(saved)
    resumed.param_groups[0]["lr"] = 0.02
    before, b = ps[1].data.copy(), resumed.state[ps[1]]["momentum_buffer"].copy()
    resumed.zero_grad()
    (ps[1] * 2.0).sum().backward()
    resumed.step()
    np.testing.assert_allclose(ps[1].data, before - 0.02 * (0.9 * b + 2.0), rtol=1e-15)
    # with momentum 0 there is no state at all
    plain = SGD(ps, lr=0.1)
    plain.zero_grad()
    (ps[0] * ps[0]).sum().backward()
    plain.step()
    assert plain.state == {}


def test_problem_runners_report_crashes_but_let_stubs_raise():
    class Crashing:
        def __init__(self, params, **options):
            self.param_groups, self.state = [{"params": list(params)}], {}

        def zero_grad(self):
            pass

        def step(self):
            raise TypeError("boom")

    class Stub(Crashing):
        def step(self):
            raise NotImplementedError()

    assert problems.sgd_paths(Crashing, "plain") == "error: TypeError"
    assert problems.twin_run(Crashing) == dict.fromkeys(("path", "own_buffers", "state_keys"), "error: TypeError")
    assert problems.optimal_table(lambda mu, big: 1 / 0) == "error: ZeroDivisionError"
    for call in (lambda: problems.sgd_paths(Stub, "plain"), lambda: problems.twin_run(Stub),
                 lambda: problems.region_convergence(Stub), lambda: problems.quadratic_path(Stub, {}, 2)):
        with pytest.raises(NotImplementedError):
            call()


# ----------------------------------------------------------------- common mistakes and their hints
# (The chapter's common mistakes and their hints: autograder/mistakes, tested in test_mistakes.py.)
SUTSKEVER = CATALOGUE["sutskever_form"].sources(CATALOGUE.cells())


def test_the_sutskever_form_passes_while_lr_is_constant():
    """The Sutskever/Ruder student's trajectories pass every constant-lr check: only the lr change (and
    the buffer's contents, lr*b instead of b) expose it."""
    run = run_in_process(NOTEBOOK, replace={**SUTSKEVER, **FAST})
    visible = run.outcomes["test_sgd_step_visible"]
    for name in ("plain_steps", "momentum_steps", "nesterov_steps"):
        assert f"passed: {ASSIGNMENT}.visible_{name}" in visible.output
    assert "visible_first_buffer" in str(visible.error)
    for grade_id in ("test_sgd_grid_hidden", "test_sgd_state_hidden", "test_sgd_region_hidden"):
        assert run.outcomes[grade_id].passed
    assert "first_buffers" in str(run.outcomes["test_sgd_dampening_nesterov_hidden"].error)
    skipping_buffers = {**SUTSKEVER, **FAST,
                        "test_sgd_step_visible": CHAPTER.cell_source("test_sgd_step_visible").replace(
                            'check("ch2_momentum.visible_first_buffer"', '(lambda *args, **kwargs: None)("skipped"')}
    run = run_in_process(NOTEBOOK, replace=skipping_buffers)
    for name in ("plain_steps", "momentum_steps", "nesterov_steps", "unused_parameter"):
        assert f"passed: {ASSIGNMENT}.visible_{name}" in run.outcomes["test_sgd_step_visible"].output
    assert "visible_lr_change" in str(run.outcomes["test_sgd_step_visible"].error)
    assert "Hint: " + CATALOGUE["sutskever_form"].hint in str(run.outcomes["test_sgd_step_visible"].error)


# -------------------------------------------------------------------- numbers the narrative states
def test_the_worked_example(optimal_momentum):
    mu, big = np.linalg.eigvalsh(VALLEY_HESSIAN)
    assert (mu, big) == pytest.approx((0.2, 4.0), abs=1e-15) and big / mu == pytest.approx(20)
    gd_alpha, gd_rate = 2 / (mu + big), (big / mu - 1) / (big / mu + 1)
    assert round(gd_alpha, 5) == 0.47619 and gd_rate == pytest.approx(19 / 21) and round(gd_rate, 5) == 0.90476
    alpha, beta, rate = optimal_momentum(0.2, 4.0)
    assert (round(alpha, 5), round(beta, 5), round(rate, 5)) == (0.66791, 0.40261, 0.63451)
    assert alpha == pytest.approx((2 / (2 + math.sqrt(0.2))) ** 2, rel=1e-15)
    assert rate == pytest.approx(math.sqrt(beta), rel=1e-15)
    assert rate == pytest.approx((math.sqrt(20) - 1) / (math.sqrt(20) + 1), rel=1e-15)
    assert optimal_momentum(VALLEY_HESSIAN) == pytest.approx((alpha, beta, rate), rel=1e-14)
    assert all(type(x) is float for x in optimal_momentum(VALLEY_HESSIAN))
    # a million-fold reduction: 139 steps of gradient descent, 31 of the heavy ball
    assert math.ceil(math.log(1e-6) / math.log(gd_rate)) == 139 and math.ceil(math.log(1e-6) / math.log(rate)) == 31
    assert gd_rate**139 < 1e-6 < gd_rate**138 and rate**31 < 1e-6 < rate**30
    # the optimal pair sits on both critical-damping curves
    assert beta == pytest.approx((1 - math.sqrt(alpha * mu)) ** 2) == pytest.approx((1 - math.sqrt(alpha * big)) ** 2)
    # kappa = 1: one step lands on the minimum
    assert optimal_momentum(3.0, 3.0) == pytest.approx((1 / 3, 0.0, 0.0), abs=1e-15)


def test_the_iteration_matrix_is_the_heavy_ball(reference):
    M = reference.namespace["iteration_matrix"]
    rng = np.random.default_rng(0)
    for _ in range(20):
        alpha, beta, lam = rng.uniform(0.01, 1.0), rng.uniform(0, 0.99), rng.uniform(0.1, 5.0)
        z, w = rng.normal(size=2)
        z_next = beta * z + lam * w
        np.testing.assert_allclose(M(alpha, beta, lam) @ [z, w], [z_next, w - alpha * z_next], rtol=1e-13)
        np.testing.assert_array_equal(M(alpha, beta, lam), problems.iteration_matrix(alpha, beta, lam))
        assert np.trace(M(alpha, beta, lam)) == pytest.approx(1 + beta - alpha * lam)
        assert np.linalg.det(M(alpha, beta, lam)) == pytest.approx(beta, abs=1e-12)
    # the heavy ball on a quadratic, direction by direction, and PyTorch's SGD with z_0 = 0 (b = g first)
    alpha, beta = 0.3, 0.7
    path = reference.namespace["heavy_ball"](valley_gradient, VALLEY_START, alpha, beta, 25)
    state = np.zeros((2, 2))
    state[1] = VALLEY_START
    for k in range(25):
        state = np.stack([M(alpha, beta, lam) @ state[:, i] for i, lam in enumerate((0.2, 4.0))], axis=1)
        np.testing.assert_allclose(state[1], path[k + 1], rtol=1e-12, atol=1e-14)
    torch_path = []
    x = torch.nn.Parameter(torch.tensor(VALLEY_START))
    opt = torch.optim.SGD([x], lr=alpha, momentum=beta)
    for _ in range(25):
        opt.zero_grad()
        (0.1 * x[0] ** 2 + 2 * x[1] ** 2).backward()
        opt.step()
        torch_path.append(x.detach().numpy().copy())
    np.testing.assert_allclose(np.stack(torch_path), path[1:], rtol=1e-12, atol=1e-14)


def test_the_convergence_region_and_critical_damping(reference):
    rho = lambda a, b: reference.namespace["spectral_radius"](reference.namespace["iteration_matrix"](a, b, 1.0))  # noqa: E731
    for beta in np.linspace(0.0, 0.99, 34):
        for alpha_lambda in np.linspace(0.0, 5.0, 201):
            boundary = min(abs(alpha_lambda), abs(alpha_lambda - (2 + 2 * beta)))
            if boundary < 1e-3:
                continue
            assert (rho(alpha_lambda, beta) < 1) == (0 < alpha_lambda < 2 + 2 * beta), (alpha_lambda, beta)
            assert problems.in_region(alpha_lambda, beta) == (0 < alpha_lambda < 2 + 2 * beta)
    assert 2 + 2 * 0.9 == pytest.approx(3.8) and 2 + 2 * 0.0 == 2.0
    assert rho(1.9, 0.0) == pytest.approx(0.9) and rho(2.1, 0.0) == pytest.approx(1.1)
    assert rho(3.7, 0.9) < 1 < rho(3.9, 0.9)
    for alpha_lambda in np.linspace(0.05, 3.9, 40):
        critical = (1 - math.sqrt(alpha_lambda)) ** 2
        assert (1 + critical - alpha_lambda) ** 2 - 4 * critical == pytest.approx(0.0, abs=1e-12)
        if critical < 0.98:  # just above: complex roots of modulus sqrt(beta), just below: real and distinct
            above = critical + 0.01
            roots = np.roots([1, -(1 + above - alpha_lambda), above])
            assert np.all(np.abs(roots.imag) > 0) and np.abs(roots) == pytest.approx(math.sqrt(above))
        if critical > 0.01:
            roots = np.roots([1, -(1 + critical - 0.01 - alpha_lambda), critical - 0.01])
            assert np.all(roots.imag == 0) and abs(roots[0] - roots[1]) > 0
    # momentum's region measured with SGD itself, for the reference and for torch
    expected = np.array([[problems.in_region(a, b) for b in problems.BETAS] for a in problems.ALPHA_LAMBDAS])
    np.testing.assert_array_equal(problems.region_convergence(reference.namespace["SGD"]), expected)
    np.testing.assert_array_equal(problems.region_convergence(torch_sgd, backend=TORCH), expected)


def test_at_the_optimum_every_direction_contracts_by_sqrt_beta(optimal_momentum, reference):
    rho = lambda a, b, lam: problems.spectral_radius(problems.iteration_matrix(a, b, lam))  # noqa: E731
    for mu, big in [(0.2, 4.0), *problems.CONDITIONS, (0.003, 7.0)]:
        alpha, beta, rate = optimal_momentum(mu, big)
        for lam in np.linspace(mu, big, 25):
            assert rho(alpha, beta, lam) == pytest.approx(math.sqrt(beta), rel=1e-6, abs=1e-9)
        if big > mu:  # outside [mu, L] it is slower, and any other beta is worse at an end
            assert rho(alpha, beta, mu * 0.9) > rate and rho(alpha, beta, big * 1.1) > rate
            for other in (beta * 0.9, beta * 1.1 + 0.01):
                assert max(rho(alpha, other, mu), rho(alpha, other, big)) > rate
    assert rho(0.1, 0.9, 0.2) == pytest.approx(math.sqrt(0.9)) == pytest.approx(rho(0.1, 0.9, 4.0))
    assert round(math.sqrt(0.9), 3) == 0.949 and round((1 - math.sqrt(0.02)) ** 2, 3) == 0.737
    assert round((1 - math.sqrt(0.4)) ** 2, 3) == 0.135
    assert 0.9 > (1 - math.sqrt(0.1 * 0.2)) ** 2 and 0.9 > (1 - math.sqrt(0.1 * 4.0)) ** 2  # under-damped both ways
    assert math.sqrt(0.9) > 19 / 21
    radii = problems.optimal_radii(optimal_momentum)
    for (mu, big), entry in zip(problems.CONDITIONS, radii.values()):
        np.testing.assert_allclose(entry["radii"], entry["rate"], rtol=1e-6, atol=1e-8)
        assert entry["rate"] == pytest.approx(entry["sqrt_beta"], rel=1e-14, abs=1e-15)


def test_the_heavy_ball_is_the_discretised_oscillator(reference):
    heavy_ball = reference.namespace["heavy_ball"]
    m, gamma, h, lam = 2.0, 3.0, 0.1, 5.0
    alpha, beta = h**2 / m, 1 - gamma * h / m
    path = heavy_ball(lambda w: lam * w, [1.0], alpha, beta, 50)[:, 0]
    # (w+ - 2w + w-) + (gamma h / m)(w - w-) = -(h^2/m) lam w
    for k in range(1, 50):
        lhs = (path[k + 1] - 2 * path[k] + path[k - 1]) + gamma * h / m * (path[k] - path[k - 1])
        assert lhs == pytest.approx(-h**2 / m * lam * path[k], abs=1e-14)
    # unrolled velocity; steady steps alpha / (1 - beta) times the gradient (10 times for beta = 0.9)
    grads = np.random.default_rng(1).normal(size=12)
    z = 0.0
    for k, g in enumerate(grads):
        z = 0.9 * z + g
        assert z == pytest.approx(sum(0.9**j * grads[k - j] for j in range(k + 1)))
    slope = heavy_ball(lambda w: np.ones_like(w), [0.0], 0.1, 0.9, 400)[:, 0]
    (factor,) = nbtools.stated(NOTEBOOK, r"\$\\alpha/\(1-\\beta\)\$ times the gradient — (\w+) times larger for \$\\beta = 0\.9\$")
    assert factor == "ten" and (slope[-2] - slope[-1]) / 0.1 == pytest.approx(10), "the steady step, as the text states"
    # Polyak's form: a gradient step plus beta times the last move
    path = heavy_ball(valley_gradient, VALLEY_START, 0.3, 0.8, 30)
    for k in range(1, 30):
        np.testing.assert_allclose(
            path[k + 1], path[k] - 0.3 * valley_gradient(path[k]) + 0.8 * (path[k] - path[k - 1]), rtol=1e-12, atol=1e-14)
    # beta = 0 is gradient descent
    np.testing.assert_allclose(heavy_ball(valley_gradient, VALLEY_START, 0.4, 0.0, 5),
                               VALLEY_START * np.array([1 - 0.4 * 0.2, 1 - 0.4 * 4.0]) ** np.arange(6)[:, None])


def test_the_phase_space_regimes(reference):
    M, rho = reference.namespace["iteration_matrix"], reference.namespace["spectral_radius"]
    assert (1 - math.sqrt(0.25)) ** 2 == 0.25
    assert rho(M(0.25, 0.8, 1.0)) == pytest.approx(math.sqrt(0.8)) and round(math.sqrt(0.8), 3) == 0.894
    assert rho(M(0.25, 0.25, 1.0)) == pytest.approx(0.5, abs=1e-7)
    assert round(rho(M(0.25, 0.05, 1.0)), 3) == 0.732
    path = lambda beta: reference.namespace["heavy_ball"](lambda w: w, [1.0], 0.25, beta, 40)[:, 0]  # noqa: E731
    assert np.any(path(0.8) < 0) and np.all(path(0.25) > 0) and np.all(path(0.05) > 0)
    assert abs(path(0.25)[-1]) < abs(path(0.05)[-1]) < abs(path(0.8)[:-5]).max()


def test_the_valley_runs(SGD, optimal_momentum, reference):
    alpha, beta, _ = optimal_momentum(0.2, 4.0)
    heavy = reference.namespace["heavy_ball"](valley_gradient, VALLEY_START, alpha, beta, 30)
    ours = run_on_valley(lambda ps: SGD(ps, lr=alpha, momentum=beta), steps=30)
    np.testing.assert_allclose(ours, heavy, rtol=1e-12, atol=1e-12)
    gd = run_on_valley(lambda ps: SGD(ps, lr=2 / (0.2 + 4.0)), steps=30)
    default = run_on_valley(lambda ps: SGD(ps, learning_rate=0.1, momentum=0.9), steps=30)
    assert round(float(np.linalg.norm(gd[-1])), 2) == 0.27
    assert np.linalg.norm(ours[-1]) < 2e-4
    assert np.linalg.norm(default[-1]) > np.linalg.norm(gd[-1])  # the under-damped default is slower here
    assert np.any(np.diff(np.sign(default[:, 0])) != 0)  # and it swings past the minimum along x1


def test_nesterov_is_sutskevers_look_ahead_in_other_variables(SGD):
    """Sutskever's NAG, v = mu v - lr grad(theta + mu v), theta += v, tracked at phi = theta + mu v,
    is PyTorch's nesterov=True."""
    hessian, lr, mu = np.array([[2.0, 0.5], [0.5, 1.0]]), 0.1, 0.9
    theta, v = np.array([1.0, -1.0]), np.zeros(2)
    looks = []
    for _ in range(40):
        v = mu * v - lr * hessian @ (theta + mu * v)
        theta = theta + v
        looks.append(theta + mu * v)
    w = Parameter(np.array([1.0, -1.0]))
    optimizer = SGD([w], lr=lr, momentum=mu, nesterov=True)
    for k in range(40):
        optimizer.zero_grad()
        ((w * slopegrad_matmul(hessian, w)).sum() * 0.5).backward()
        optimizer.step()
        np.testing.assert_allclose(w.data, looks[k], rtol=1e-10, atol=1e-12)


def slopegrad_matmul(matrix, w):
    import slopegrad

    return slopegrad.Tensor(matrix) @ w


def test_dampening_equal_to_momentum_averages(SGD):
    w = Parameter(np.array([0.0]))
    optimizer = SGD([w], lr=0.0, momentum=0.9, dampening=0.9)
    for _ in range(200):
        optimizer.zero_grad()
        (w * 3.0).sum().backward()
        optimizer.step()
    assert optimizer.state[w]["momentum_buffer"] == pytest.approx([3.0])  # the gradient, not 3/(1 - 0.9)


def test_the_sutskever_demonstration(reference):
    ns = reference.namespace
    lrs = np.r_[np.full(50, 0.1), np.full(50, 0.05)]
    ours, theirs = ns["pytorch_form"](lrs, 0.9), ns["sutskever_form"](lrs, 0.9)
    assert np.abs(ours[:51] - theirs[:51]).max() < 1e-15
    assert np.abs(ours[51:] - theirs[51:]).max() > 1e-2
    unchanged = ns["pytorch_form"](np.full(100, 0.1), 0.9)
    np.testing.assert_array_equal(unchanged[:51], ours[:51])
    step = lambda path, k: path[k - 1] - path[k]  # noqa: E731
    assert step(ours, 51) / step(unchanged, 51) == pytest.approx(0.5, rel=1e-12)
    assert round(step(theirs, 51) / step(unchanged, 51), 3) == 0.772
    # the "PyTorch form" of the demo really is torch.optim.SGD
    x = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = torch.optim.SGD([x], lr=0.1, momentum=0.9)
    path = [1.0]
    for k in range(100):
        opt.zero_grad()
        (x**2 / 2).sum().backward()
        opt.step()
        if k == 49:
            opt.param_groups[0]["lr"] = 0.05
        path.append(x.item())
    np.testing.assert_allclose(path, ours, rtol=1e-12, atol=1e-15)
    # both forms coincide whenever lr is constant, dampening included
    constant = np.full(100, 0.1)
    np.testing.assert_allclose(ns["pytorch_form"](constant, 0.5), ns["sutskever_form"](constant, 0.5), atol=1e-15)
    (memory,) = nbtools.stated(NOTEBOOK, r"roughly \$1/\(1 - \\mu\) = (\d+)\$ steps")
    assert int(memory) == round(1 / (1 - 0.9)), "the velocity's memory, for the chapter's mu = 0.9"


def test_the_animation_is_legible_self_contained_and_moves(reference, monkeypatch):
    source = CHAPTER.code_cells()["animation"].source
    assert source.strip().endswith("animate_paths(rolling)  # one frame per step, drawn by courseplots into a player that needs no network")
    assert len(source.splitlines()) <= 6 and "<style>" not in source and "re.sub" not in source  # no player plumbing
    rolling = reference.namespace["rolling"]
    assert reference.namespace["FRAMES"] == 40 and all(p.shape == (40, 2) for p in rolling.values())
    np.testing.assert_allclose(list(rolling.values())[1][:2],
                               [VALLEY_START, VALLEY_START - 0.66791 * valley_gradient(VALLEY_START)])
    monkeypatch.delenv(GRADING_VARIABLE, raising=False)
    html = animate_paths(rolling).data
    frames = re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(frames) == 40 and len(set(frames)) == 40  # one embedded frame per step, each different
    first = Image.open(io.BytesIO(base64.b64decode(frames[0])))
    assert first.size == (604, 368)  # 7.2 x 4.4 in at 84 dpi: more than twice the old 264 x 156 px each way
    assert len(html) < 1_200_000  # palette PNGs: the page stays light
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert ".animation .fa-play::before" in html  # the icons as plain characters
    # the whole heavy ball path fits in the picture (it swings out to |x2| = 3.44)
    assert max(abs(p[:, 1]).max() for p in rolling.values()) == pytest.approx(3.437, abs=1e-3)
    monkeypatch.setenv(GRADING_VARIABLE, "1")
    assert animate_paths(rolling) is None  # a graded run draws nothing
    with pytest.raises(ValueError, match="same number"):
        monkeypatch.delenv(GRADING_VARIABLE)
        animate_paths({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))})
    assert "uses-solution" not in CHAPTER.code_cells()["animation"].metadata.get("tags", [])


def heavy_ball_roots(alpha, beta, lam):
    return np.roots([1.0, -(1.0 + beta - alpha * lam), beta])


def test_below_critical_damping_the_ball_creeps_if_alpha_lambda_is_below_1_and_zig_zags_above(reference):
    ns = reference.namespace
    regime, heavy_ball = ns["regime"], ns["heavy_ball"]
    assert ns["REGIMES"] == ("under-damped", "critically damped", "over-damped", "zig-zag", "diverges")
    seen = set()
    for alpha_lambda in np.linspace(0.02, 3.98, 100):
        critical = (1 - math.sqrt(alpha_lambda)) ** 2
        for beta in np.linspace(0.0, 0.99, 45):
            roots = heavy_ball_roots(alpha_lambda, beta, 1.0)
            kind = regime(alpha_lambda, beta, 1.0)
            seen.add(kind)
            if abs(max(abs(roots)) - 1) < 1e-9:
                continue  # on the boundary of the region
            if max(abs(roots)) > 1:
                assert kind == "diverges"
                continue
            if abs(beta - critical) < 1e-6:
                continue
            if beta > critical:
                assert np.all(roots.imag != 0) and kind == "under-damped"
            else:  # real roots of the sign of their sum: positive below 1, negative above
                assert np.all(roots.imag == 0)
                if alpha_lambda < 1:
                    assert np.all(roots.real >= 0) and kind == "over-damped", (alpha_lambda, beta)
                    assert alpha_lambda < (1 - math.sqrt(beta)) ** 2
                else:
                    assert np.all(roots.real <= 0) and kind == "zig-zag", (alpha_lambda, beta)
                    assert alpha_lambda > (1 + math.sqrt(beta)) ** 2
                    path = heavy_ball(lambda w: w, [1.0], alpha_lambda, beta, 30)[:, 0]
                    assert np.all(path[:-1] * path[1:] < 0), "a zig-zag changes sign at every step"
    assert seen == set(ns["REGIMES"]) - {"critically damped"}
    assert regime(0.25, 0.25, 1.0) == regime(2.25, 0.25, 1.0) == "critically damped"  # both branches
    assert heavy_ball_roots(2.25, 0.25, 1.0) == pytest.approx([-0.5, -0.5])  # the right branch's root is -sqrt(beta)
    # beta = 0: roots 0 and 1 - alpha*lambda
    assert sorted(heavy_ball_roots(1.5, 0.0, 1.0)) == pytest.approx([-0.5, 0.0])
    # the phase-space example: alpha = 1.75, beta = 0.05
    assert round((1 + math.sqrt(0.05)) ** 2, 3) == 1.497 and 1.75 > (1 + math.sqrt(0.05)) ** 2
    assert sorted(np.round(heavy_ball_roots(1.75, 0.05, 1.0), 3)) == [-0.619, -0.081]
    rho = ns["spectral_radius"](ns["iteration_matrix"](1.75, 0.05, 1.0))
    assert round(rho, 3) == 0.619 and regime(1.75, 0.05, 1.0) == "zig-zag"
    path = heavy_ball(lambda w: w, [1.0], 1.75, 0.05, 40)[:, 0]
    assert np.all(path[:-1] * path[1:] < 0)
    for beta in (0.8, 0.25, 0.05):  # the other three examples keep alpha = 0.25
        assert ns["regimes"][next(k for k, v in ns["regimes"].items() if v == (0.25, beta))] == (0.25, beta)
    # the map's markers: the valley's two directions at the optimum sit on the two branches of the curve
    alpha, beta, rate = ns["optimal_momentum"](0.2, 4.0)
    assert regime(alpha, beta, 0.2) == regime(alpha, beta, 4.0) == "critically damped"
    assert alpha * 0.2 < 1 < alpha * 4.0
    assert heavy_ball_roots(alpha, beta, 0.2) == pytest.approx([rate, rate], abs=1e-6)
    assert heavy_ball_roots(alpha, beta, 4.0) == pytest.approx([-rate, -rate], abs=1e-6)


def test_the_double_root_costs_a_factor_k_and_seven_steps(reference, optimal_momentum):
    alpha, beta, rate = optimal_momentum(0.2, 4.0)
    ball = reference.namespace["heavy_ball"](valley_gradient, VALLEY_START, alpha, beta, 200)
    k = np.arange(201)
    np.testing.assert_allclose(ball[:, 0], VALLEY_START[0] * (1 + (1 - rate) * k) * rate**k, rtol=1e-9)
    np.testing.assert_allclose(ball[:, 1], VALLEY_START[1] * (1 + (1 + rate) * k) * (-rate) ** k, rtol=1e-9)
    distance = np.linalg.norm(ball, axis=1) / np.linalg.norm(VALLEY_START)
    below = distance <= 1e-6
    assert not below[:38].any() and below[38:].all()  # first below at 38, and below ever after
    assert math.ceil(math.log(1e-6) / math.log(rate)) == 31
    ratio = distance / rate**k
    assert (round(ratio[31]), round(ratio[38]), round(ratio[200])) == (22, 27, 140)
    slope = math.hypot(5 * (1 - rate), 2 * (1 + rate)) / math.hypot(5, 2)
    assert round(slope, 2) == 0.70 and ratio[200] / 200 == pytest.approx(slope, rel=0.01)
    assert np.all(np.diff(ratio[5:]) > 0)  # the factor keeps growing
    assert round(abs(ball[2, 1]), 2) == 3.44 and abs(ball[:, 1]).argmax() == 2 and abs(VALLEY_START[1]) == 2
    # gradient descent's 139 is exact: both directions contract by exactly 19/21
    gd = reference.namespace["heavy_ball"](valley_gradient, VALLEY_START, 2 / 4.2, 0.0, 150)
    np.testing.assert_allclose(np.linalg.norm(gd, axis=1) / np.linalg.norm(VALLEY_START), (19 / 21) ** np.arange(151),
                               rtol=1e-10)
    gd_below = np.linalg.norm(gd, axis=1) / np.linalg.norm(VALLEY_START) <= 1e-6
    assert not gd_below[:139].any() and gd_below[139:].all()
    output = reference.outcomes["transient_figure"].output
    assert "rate alone predicts 31 steps, from (-5, -2) it takes 38" in output
    assert "step 31: distance / (rate^k * start) = 22.3" in output and "step 38: distance / (rate^k * start) = 27.2" in output


def test_nesterovs_lower_bound_and_the_heavy_ball_meeting_it(reference, optimal_momentum):
    ns = reference.namespace
    mu, big, dim = 0.2, 4.0, 400
    hessian, b = ns["worst_quadratic"](mu, big, dim)
    eigenvalues = np.linalg.eigvalsh(hessian)
    assert mu < eigenvalues[0] and eigenvalues[-1] < big  # L-smooth and mu-strongly convex, kappa <= 20
    q = (math.sqrt(20) - 1) / (math.sqrt(20) + 1)
    assert round(q, 5) == 0.63451 and q == pytest.approx(optimal_momentum(mu, big)[2], rel=1e-15)
    minimiser = np.linalg.solve(hessian, b)
    np.testing.assert_allclose(minimiser[:40], q ** np.arange(1, 41), rtol=1e-9)
    floor = np.array([np.linalg.norm(minimiser[k:]) for k in range(61)]) / np.linalg.norm(minimiser)
    np.testing.assert_allclose(floor, q ** np.arange(61), rtol=1e-9)
    assert q**30 > 1e-6 >= q**31  # no gradient method promises a million-fold reduction in under 31 steps
    for name, path in ns["runs"].items():
        for k in range(61):
            assert np.all(path[k][k:] == 0), (name, k)  # each gradient reaches one more coordinate
        error = np.linalg.norm(path - minimiser, axis=1) / np.linalg.norm(minimiser)
        assert np.all(error >= floor * (1 - 1e-12)), name
    ball = ns["runs"]["heavy ball, Polyak's α, β"]
    np.testing.assert_allclose(ball[1], q * np.eye(dim)[0], rtol=1e-14)  # the first step is q e_1
    for k in range(1, 61):  # and the k-th iterate is w* cut after k coordinates: equality in the bound
        np.testing.assert_allclose(ball[k][:k], minimiser[:k], rtol=1e-9, atol=1e-15)
    # Nesterov's method as the chapter writes it, and its guaranteed rate 1 - 1/sqrt(kappa)
    assert round(1 - 1 / math.sqrt(20), 5) == 0.77639 and 1 - 1 / math.sqrt(25) == pytest.approx(0.8)


def lessard_objective(x: float) -> float:
    """The integral of Lessard, Recht & Packard's gradient, with f(0) = 0."""
    if x < 1:
        return 12.5 * x * x
    if x < 2:
        return 0.5 * x * x + 24 * x - 12.0
    return 12.5 * x * x - 24 * x + 24.0


def test_the_heavy_ball_cycles_on_a_smooth_strongly_convex_function_where_nesterov_converges(reference, optimal_momentum):
    ns = reference.namespace
    gradient = ns["piecewise_gradient"]
    xs = np.linspace(-3, 5, 8001)
    slopes = np.diff(gradient(xs)) / np.diff(xs)
    assert slopes.min() == pytest.approx(1.0) and slopes.max() == pytest.approx(25.0)  # mu = 1, L = 25
    assert gradient(np.array([1.0 - 1e-12, 1.0, 2.0 - 1e-12, 2.0])) == pytest.approx([25, 25, 26, 26])  # continuous
    assert gradient(np.array(0.0)) == 0
    for x in (-2.0, 0.5, 1.5, 3.0):  # the objective written out has this gradient
        assert (lessard_objective(x + 1e-6) - lessard_objective(x - 1e-6)) / 2e-6 == pytest.approx(float(gradient(np.array(x))), rel=1e-6)
    alpha, beta, rate = optimal_momentum(1.0, 25.0)
    assert (ns["cycle_alpha"], ns["cycle_beta"]) == pytest.approx((alpha, beta), rel=1e-15)
    assert (alpha, beta) == pytest.approx((1 / 9, 4 / 9)) and rate == pytest.approx(2 / 3)
    ball = ns["heavy_ball"](gradient, [3.3], alpha, beta, 300)[:, 0]
    np.testing.assert_allclose(ball[-3:], ball[-6:-3], atol=1e-12)  # period 3
    assert sorted(np.round(ball[-3:], 3)) == [-1.802, 0.647, 2.116]
    assert abs(ball[-3:]).min() > 0.5  # far from the minimum at 0, for ever
    nesterov = ns["nesterov"](gradient, [3.3], 1 / 25, 2 / 3, 120)[:, 0]
    start_gap = lessard_objective(3.3) + 0.5 * 3.3**2
    for k, x in enumerate(nesterov):
        assert lessard_objective(x) <= (1 - 1 / 5) ** k * start_gap + 1e-15
    assert nesterov[-1] == 0.0
    assert "|x_120| = 0.0e+00" in reference.outcomes["not_a_quadratic"].output


# ------------------------------------------------------------ the momentum explorer, in Chromium
def explorer_state(page) -> dict:
    root = page.locator(".momentum-explorer")
    return {
        "alpha": float(root.get_attribute("data-alpha")),
        "beta": float(root.get_attribute("data-beta")),
        "start": json.loads(root.get_attribute("data-start")),
        "path": np.array(json.loads(root.get_attribute("data-path")), dtype=float),
        "rho": json.loads(root.get_attribute("data-rho")),
        "regimes": json.loads(root.get_attribute("data-regimes")),
        "drawn": page.locator(".momentum-explorer polyline.mx-path").get_attribute("points"),
        "steps": page.locator(".momentum-explorer .mx-steps").all_inner_texts(),
    }


def assert_explorer_matches_the_chapter(state: dict, ns: dict) -> None:
    """The browser's numbers are the chapter's own heavy_ball, spectral radius and regime."""
    python = ns["heavy_ball"](valley_gradient, state["start"], state["alpha"], state["beta"], 60)
    np.testing.assert_allclose(state["path"], python, rtol=1e-12, atol=1e-300)
    for lam, rho, kind in zip((0.2, 4.0), state["rho"], state["regimes"]):
        assert rho == pytest.approx(ns["spectral_radius"](ns["iteration_matrix"](state["alpha"], state["beta"], lam)), rel=1e-9)
        assert kind == ns["regime"](state["alpha"], state["beta"], lam)
    distance = np.linalg.norm(python, axis=1)
    below = distance <= 1e-6 * distance[0]
    reached = next((k for k in range(len(below)) if below[k:].all()), None)  # below from step k on
    assert state["steps"] == ([] if reached is None else [str(reached)])


@pytest.mark.slow
def test_the_explorer_redraws_and_agrees_with_the_chapter_in_chromium(reference, tmp_path):
    from browser import chromium, static_server
    from courseplots import momentum_explorer

    (tmp_path / "index.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'></head><body>"
                                         f"{momentum_explorer().data}</body></html>")
    ns = reference.namespace
    with static_server(tmp_path) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("request", lambda request: request.url.startswith(url) or errors.append(f"fetched {request.url}"))
        page.goto(url + "index.html")
        first = explorer_state(page)
        assert (first["alpha"], first["beta"], first["start"]) == (0.668, 0.403, [-5.0, -2.0])
        assert_explorer_matches_the_chapter(first, ns)
        assert first["steps"] == ["38"]  # the slider's rounded optimum needs 38 steps too

        alpha_slider = page.locator(".momentum-explorer input[name=alpha]")
        alpha_slider.focus()
        for _ in range(100):
            page.keyboard.press("ArrowLeft")
        moved = explorer_state(page)
        assert moved["alpha"] == pytest.approx(0.568) and moved["drawn"] != first["drawn"]
        assert_explorer_matches_the_chapter(moved, ns)
        assert page.locator(".momentum-explorer output[name=alpha]").inner_text() == "0.568"

        beta_slider = page.locator(".momentum-explorer input[name=beta]")
        beta_slider.focus()
        for _ in range(300):
            page.keyboard.press("ArrowRight")
        swinging = explorer_state(page)
        assert swinging["beta"] == pytest.approx(0.703) and swinging["regimes"] == ["under-damped", "under-damped"]
        assert_explorer_matches_the_chapter(swinging, ns)

        page.get_by_role("button", name="zig-zag").click()
        zigzag = explorer_state(page)
        assert (zigzag["alpha"], zigzag["beta"], zigzag["regimes"]) == (0.45, 0.05, ["over-damped", "zig-zag"])
        assert_explorer_matches_the_chapter(zigzag, ns)
        assert np.all(zigzag["path"][1:-1, 1] * zigzag["path"][2:, 1] < 0)  # x2 flips sign at every step

        # drag the start point from (-5, -2) to (-2, 2.5)
        box = page.locator(".momentum-explorer svg.mx-valley").bounding_box()
        screen = lambda x1, x2: (box["x"] + (x1 + 5.5) / 7 * box["width"], box["y"] + (4 - x2) / 8 * box["height"])  # noqa: E731
        page.mouse.move(*screen(-5.0, -2.0))
        page.mouse.down()
        for fraction in np.linspace(0.1, 1.0, 10):
            page.mouse.move(*screen(-5.0 + 3.0 * fraction, -2.0 + 4.5 * fraction))
        page.mouse.up()
        dragged = explorer_state(page)
        assert dragged["start"] == pytest.approx([-2.0, 2.5], abs=0.011) and dragged["drawn"] != zigzag["drawn"]
        np.testing.assert_array_equal(dragged["path"][0], dragged["start"])
        assert_explorer_matches_the_chapter(dragged, ns)

        page.get_by_role("button", name="lr 0.1, momentum 0.9").click()
        default = explorer_state(page)
        assert (default["alpha"], default["beta"]) == (0.1, 0.9) and default["steps"] == []  # > 60 steps
        assert default["rho"] == pytest.approx([math.sqrt(0.9)] * 2)
        assert_explorer_matches_the_chapter(default, ns)
        assert errors == []


def test_the_explorers_suggestions(reference):
    """The numbers the text around the explorer states, from the chapter's heavy_ball."""
    heavy_ball, regime = reference.namespace["heavy_ball"], reference.namespace["regime"]

    def million_fold(alpha, beta):
        distance = np.linalg.norm(heavy_ball(valley_gradient, VALLEY_START, alpha, beta, 60), axis=1)
        below = distance <= 1e-6 * distance[0]
        return next(k for k in range(61) if below[k:].all())

    assert million_fold(0.668, 0.403) == 38 and million_fold(0.668, 0.423) == 35
    assert regime(0.668, 0.423, 0.2) == regime(0.668, 0.423, 4.0) == "under-damped"
    assert 0.45 * 4.0 == pytest.approx(1.8) and 1.8 > (1 + math.sqrt(0.05)) ** 2 and regime(0.45, 0.05, 4.0) == "zig-zag"
    for beta in (0.0, 0.403, 0.9):  # past alpha = (2 + 2 beta)/4 the steep direction diverges
        edge = (2 + 2 * beta) / 4
        assert regime(edge * 0.99, beta, 4.0) != "diverges" and regime(edge * 1.01, beta, 4.0) == "diverges"


def test_the_book_redraws_the_chapter_when_the_explorer_script_changes():
    """The chapter's cached execution is keyed by the files it imports: the explorer's script is one."""
    from tools.book import render

    dependencies = render.local_dependencies(ROOT, CHAPTER.code_cells()["momentum_explorer"].source + "\nimport courseplots")
    assert ROOT / "courseplots" / "momentum_explorer.js" in dependencies
    assert ROOT / "courseplots" / "explorer.py" in dependencies


def test_graded_kernels_skip_the_animation(tmp_path):
    """The sandbox's environment sets the switch that makes animate_paths draw nothing."""
    from autograder.sandbox.command import Mounts, sandbox_env

    mounts = Mounts(*(tmp_path / name for name in ("work", "kernel", "etc", "course", "env")))
    assert sandbox_env(mounts)[GRADING_VARIABLE] == "1"
