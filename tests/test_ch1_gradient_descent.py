"""Chapter 1 (gradient descent): the reference notebook, its golden data, its hints, its numbers."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from autograder.golden import load_assignment
from autograder.problems import gradient_descent as problems
from autograder.problems.trajectories import trajectory
from courseplots import VALLEY_HESSIAN, VALLEY_START, valley
from chapters import BY_NAME
from nbtools import SOURCE
from slopegrad.nn import Parameter

ASSIGNMENT = "ch1_gradient_descent"
NOTEBOOK = SOURCE / ASSIGNMENT / "gradient_descent.ipynb"
CHAPTER = BY_NAME[ASSIGNMENT]  # its test cells, exercises and points: tests/chapters.py
VISIBLE, EXERCISES = CHAPTER.visible, CHAPTER.exercises
GOLDEN = NOTEBOOK.parents[2] / "autograder" / "golden" / f"{ASSIGNMENT}.json"

# ------------------------------------------------------------------------ the reference notebook
# ----------------------------------------------------------------------------------- golden data
# ------------------------------------------------------------------------- explicit torch parity
def test_reference_step_and_loop_equal_torch_sgd(reference):
    import torch

    from tools.golden.torch_backend import TORCH

    step = reference.namespace["gradient_descent_step"]
    descend = reference.namespace["gradient_descent"]
    ours = problems.step_trajectory(step, 0.1, 60)
    theirs = trajectory(lambda ps: torch.optim.SGD(ps, lr=0.1), 60, backend=TORCH)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours["p3"], np.broadcast_to(ours["p3"][0], ours["p3"].shape))

    matrix, start, lr, steps = problems.spd_problem()
    x = TORCH.parameter(start)
    sgd = torch.optim.SGD([x], lr=lr)
    path = [start]
    a = torch.tensor(matrix)
    for _ in range(steps):
        sgd.zero_grad()
        (0.5 * x @ (a @ x)).backward()
        sgd.step()
        path.append(x.detach().numpy().copy())
    np.testing.assert_allclose(problems.spd_path(descend), np.stack(path), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------- common mistakes and their hints
# (The chapter's common mistakes and their hints: autograder/mistakes, tested in test_mistakes.py.)


def test_a_crash_is_shown_and_recorded_not_raised():
    def crashing_step(parameter, learning_rate):
        parameter.data -= learning_rate * parameter.grad

    assert problems.step_once(crashing_step, [1.0, 2.0], None, 0.1) == "error: TypeError"
    report = problems.analysis_report(lambda h: 1 / 0, np.eye(2))
    assert report == {key: "error: ZeroDivisionError" for key in ("stable", "optimal", "rate")}
    assert problems.analysis_report(lambda h: {"stable": [0, 1]}, np.eye(2))["rate"] == "missing"


def test_an_unfinished_stub_still_fails_as_a_stub():
    def stub(*args):
        raise NotImplementedError()

    for call in (
        lambda: problems.step_once(stub, [1.0], [1.0], 0.1),
        lambda: problems.step_trajectory(stub),
        lambda: problems.valley_path(stub, 0.1),
        lambda: problems.analysis_report(stub, np.eye(2)),
        lambda: problems.rejection_report(stub),
    ):
        with pytest.raises(NotImplementedError):
            call()


# ------------------------------------------------------------------------- in-place semantics
def test_in_place_probe_tells_in_place_from_rebinding_and_from_doing_nothing(reference):
    def rebinding(parameter, learning_rate):
        parameter.data = parameter.data - learning_rate * parameter.grad

    def slice_assignment(parameter, learning_rate):
        parameter.data[...] = parameter.data - learning_rate * parameter.grad

    step = reference.namespace["gradient_descent_step"]
    for initial, grad in (([1.0, -2.0], [0.5, 0.5]), (np.array(0.5), np.array(2.0)), (np.ones((2, 3)), np.ones((2, 3)))):
        assert problems.step_in_place(step, initial, grad, 0.1) == {"same_array": True, "alias_sees_update": True}
        assert problems.step_in_place(slice_assignment, initial, grad, 0.1) == {"same_array": True, "alias_sees_update": True}
        assert problems.step_in_place(rebinding, initial, grad, 0.1) == {"same_array": False, "alias_sees_update": False}
        assert problems.step_in_place(lambda p, lr: None, initial, grad, 0.1) == {"same_array": True, "alias_sees_update": False}


def test_reference_step_keeps_float32_and_skips_missing_gradients(reference):
    step = reference.namespace["gradient_descent_step"]
    p = Parameter(np.array([1.0, 2.0], dtype=np.float32))
    p.grad = np.array([1.0, -1.0], dtype=np.float32)
    step(p, 0.25)
    assert p.data.dtype == np.float32 and p.data.tolist() == [0.75, 2.25]
    q = Parameter(np.zeros((2, 2)))
    before = q.data
    assert step(q, 0.1) is None and q.data is before and q.grad is None


def test_reference_loop_resets_stale_gradients_and_leaves_parameter_at_the_end(reference):
    descend = reference.namespace["gradient_descent"]
    x = Parameter(np.array(VALLEY_START))
    x.grad = np.array([100.0, -100.0])
    path = descend(problems.valley_loss(), x, 0.1, 4)
    assert path.shape == (5, 2)
    np.testing.assert_allclose(path, np.array(VALLEY_START) * np.array([0.98, 0.6]) ** np.arange(5)[:, None], rtol=1e-14)
    np.testing.assert_array_equal(x.data, path[-1])
    w = Parameter(np.ones((3, 2)))
    assert descend(lambda w: (w * w).sum(), w, 0.25, 2).shape == (3, 3, 2)


# -------------------------------------------------------------------- numbers the narrative states
def test_the_valley_numbers(reference):
    # f(x1, x2) = 0.1 x1^2 + 2 x2^2 = x^T diag(0.2, 4) x / 2
    points = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_allclose(valley(points), 0.5 * np.einsum("ni,ij,nj->n", points, VALLEY_HESSIAN, points))
    np.testing.assert_array_equal(VALLEY_START, [-5.0, -2.0])
    mu, big_l = np.linalg.eigvalsh(VALLEY_HESSIAN)
    assert (mu, big_l) == pytest.approx((0.2, 4.0), abs=1e-15)
    kappa = big_l / mu
    assert kappa == pytest.approx(20)
    assert 2 / big_l == 0.5
    optimal, rate = 2 / (mu + big_l), (kappa - 1) / (kappa + 1)
    assert round(optimal, 5) == 0.47619 and optimal == pytest.approx(2 / 4.2)
    assert round(rate, 5) == 0.90476 and rate == pytest.approx(19 / 21) and round(rate, 3) == 0.905
    assert (big_l - mu) / (big_l + mu) == pytest.approx(rate)
    # the factors 1 - alpha * lambda quoted in the text
    assert (1 - 0.1 * mu, 1 - 0.1 * big_l) == pytest.approx((0.98, 0.6))
    assert (1 - 0.6 * mu, 1 - 0.6 * big_l) == pytest.approx((0.88, -1.4))
    assert abs(1 - 0.6 * 4) == pytest.approx(1.4) and abs(1 - 0.6 * 4) > 1  # grows by 40 % per step
    assert (1 - 0.49 * mu, 1 - 0.49 * big_l) == pytest.approx((0.902, -0.96))
    assert 1 - (2 / big_l) * big_l == 0 - 1  # at alpha = 2/L the steep factor is -1
    assert 1 - optimal * mu == pytest.approx(-(1 - optimal * big_l)) == pytest.approx(19 / 21)
    # ill-conditioning: 70 steps for a thousandfold reduction; rate about 1 - 2/kappa
    assert math.log(1000) / math.log(21 / 19) == pytest.approx(69.02, abs=0.005)
    assert (19 / 21) ** 69 > 1e-3 >= (19 / 21) ** 70
    assert 1 - 2 / kappa == pytest.approx(0.9)
    # chapter 2's teaser: (sqrt(kappa) - 1)/(sqrt(kappa) + 1)
    assert round((math.sqrt(20) - 1) / (math.sqrt(20) + 1), 3) == 0.635
    # and the analysis function agrees with all of it
    analysis = reference.namespace["step_size_analysis"](VALLEY_HESSIAN)
    assert analysis["stable"] == (0.0, 0.5)
    assert analysis["optimal"] == pytest.approx(optimal, rel=1e-15) and analysis["rate"] == pytest.approx(19 / 21, rel=1e-15)


def test_where_the_quadratic_model_stops(reference):
    """Section 3's caveat: f(a, b) = (ab - 1)^2 / 2 has a degenerate minimum at every point of ab = 1,
    and which one gradient descent reaches depends on 2/alpha."""

    def hessian(a, b):  # of (ab - 1)^2 / 2: (b, a)(b, a)^T + (ab - 1) [[0, 1], [1, 0]]
        return np.outer([b, a], [b, a]) + (a * b - 1) * np.array([[0.0, 1.0], [1.0, 0.0]])

    for a, b, sharpness in ((1.0, 1.0, 2.0), (1 / 6, 6.0, 36.03)):
        eigenvalues = np.linalg.eigvalsh(hessian(a, b))
        assert eigenvalues[0] == pytest.approx(0.0, abs=1e-12)  # flat along the hyperbola
        assert round(eigenvalues[1], 2) == sharpness == round(a * a + b * b, 2)
    # the Hessian is exact: compare with finite differences of the gradient
    gradient = lambda p: (p[0] * p[1] - 1) * np.array([p[1], p[0]])  # noqa: E731
    point, h = np.array([0.7, 1.9]), 1e-6
    numeric = np.stack([(gradient(point + h * e) - gradient(point - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(numeric, hessian(*point), rtol=1e-7)
    descend = reference.namespace["descend_on_hyperbola"]
    near = descend(0.1, 6.0, 0.01)
    far = descend(0.1, 6.0, 0.1)
    assert 0.1**2 + 6.0**2 == pytest.approx(36.01)
    for a, b in (near, far):
        assert a * b == pytest.approx(1.0, abs=1e-12)  # both are minima
    assert round(near[0] ** 2 + near[1] ** 2, 2) == 36.04 < 2 / 0.01  # settles next to its start
    assert round(far[0] ** 2 + far[1] ** 2, 2) == 13.09 < 2 / 0.1 < 36.04  # pushed to a flatter minimum
    assert (round(far[0], 4), round(far[1], 4)) == (3.6071, 0.2772)
    printed = reference.outcomes[next(k for k, o in reference.outcomes.items() if "sharpness a^2 + b^2" in o.output)].output
    assert "sharpness a^2 + b^2 = 36.04, 2/alpha = 200" in printed and "sharpness a^2 + b^2 = 13.09, 2/alpha = 20" in printed


def test_the_paths_the_narrative_describes(reference):
    descend = reference.namespace["gradient_descent"]

    def run(alpha, steps):
        return descend(problems.valley_loss(), Parameter(VALLEY_START), alpha, steps)

    # alpha = 0.1: after 25 steps x1 is still about -3 (5 * 0.98^25 = 3.02); x2 is nearly 0
    crawl = run(0.1, 25)
    assert 5 * 0.98**25 == pytest.approx(3.02, abs=0.005)
    assert crawl[-1, 0] == pytest.approx(-5 * 0.98**25, rel=1e-12) and abs(crawl[-1, 1]) < 1e-5
    # the optimal step: the distance is exactly (19/21)^k times the initial one
    best = run(2 / 4.2, 70)
    distance = np.linalg.norm(best, axis=1)
    np.testing.assert_allclose(distance, distance[0] * (19 / 21) ** np.arange(71), rtol=1e-10)
    assert np.all(np.sign(best[1:, 1]) == -np.sign(best[:-1, 1]))  # the steep coordinate flips sign
    assert distance[70] <= 1e-3 * distance[0] < distance[69]  # 70 steps for a thousandfold reduction
    # alpha = 0.49 zig-zags (factor -0.96), alpha = 0.6 diverges (factor -1.4)
    zigzag = run(0.49, 25)
    np.testing.assert_allclose(zigzag[1:, 1] / zigzag[:-1, 1], -0.96, rtol=1e-12)
    diverging = run(0.6, 6)
    np.testing.assert_allclose(np.abs(diverging[:, 1]), 2 * 1.4 ** np.arange(7), rtol=1e-12)
    # alpha = 2/L: x2 bounces between +2 and -2 for ever
    bouncing = run(0.5, 8)
    np.testing.assert_allclose(bouncing[:, 1], -2 * (-1.0) ** np.arange(9), rtol=1e-15)
    # kappa = 1: the step 1/lambda lands on the minimum at once (rate 0)
    lone = reference.namespace["step_size_analysis"](np.array([[5.0]]))
    assert lone == {"stable": (0.0, 0.4), "optimal": 0.2, "rate": 0.0}
    one = descend(problems.quadratic_loss(np.array([[5.0]])), Parameter(np.array([3.0])), 0.2, 1)
    assert one[-1, 0] == 0.0


def test_the_rejections_and_their_messages(reference):
    analyse = reference.namespace["step_size_analysis"]
    messages = {
        "not_square": "square", "not_symmetric": "symmetric", "indefinite": "positive definite", "singular": "positive definite",
    }
    for case, matrix in problems.rejection_cases().items():
        with pytest.raises(ValueError, match=messages[case]):
            analyse(matrix)
    assert problems.rejection_report(analyse) == {case: "error: ValueError" for case in messages}


def test_docstring_examples_and_demo_output(reference):
    globs = dict(reference.namespace)
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for name in EXERCISES:
        for example in finder.find(globs[name], name, globs=globs):
            runner.run(example)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 3
    demo = next(o.output for o in reference.outcomes.values() if "after rebinding" in o.output)
    assert "after rebinding: [ 0.95 -2.05]  alias: [ 1. -2.]" in demo
    assert "alias: [ 0.95 -2.05]  same array: True" in demo


def test_contraction_ratio_checks_match_the_closed_forms():
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    np.testing.assert_allclose(golden[f"{ASSIGNMENT}.descent_optimal_ratios"].value, np.tile([19 / 21, -19 / 21], (10, 1)))
    np.testing.assert_allclose(golden[f"{ASSIGNMENT}.descent_diverging_ratios"].value, np.tile([0.88, -1.4], (10, 1)))
    assert golden[f"{ASSIGNMENT}.analysis_valley_optimal"].value == pytest.approx(0.47619, abs=5e-6)
    assert golden[f"{ASSIGNMENT}.analysis_valley_rate"].value == pytest.approx(19 / 21, rel=1e-15)
