"""Chapter 6 (what optimizers cost): the notebook, its golden data, its hints, the benchmark, and every
number and formula its narrative states.

* The reference notebook runs in-process with every cell passing; its checks compare with golden values
  recorded from ``torch.nn.utils.clip_grad_norm_``, ``torch.optim`` and ``torch.optim.lr_scheduler``, so
  that proves the reference solutions equal PyTorch; some are also compared with torch here, directly.
* The "Bring your optimizers" cells are exact copies of the Chapter 2 and 3 masters.
* Every number and formula the narrative states is computed here. No timing is asserted.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tracemalloc

import numpy as np
import pytest
import torch

from autograder.golden import load_assignment
from autograder.problems import optimizer_cost as problems
from autograder.problems.trajectories import trajectory
from courseplots import VALLEY_START, valley_gradient
import nbtools
from chapters import BY_NAME
from nbtools import RELEASE, ROOT, SOURCE, run_in_process
from slopegrad.nn import Parameter
from tools.golden import ch6_optimizer_cost as recorder

torch.set_default_dtype(torch.float64)

ASSIGNMENT = "ch6_optimizer_cost"
NOTEBOOK = SOURCE / ASSIGNMENT / "optimizer_cost.ipynb"
CHAPTER = BY_NAME[ASSIGNMENT]  # its test cells, exercises and points: tests/chapters.py
VISIBLE, HIDDEN = CHAPTER.visible, CHAPTER.hidden
GOLDEN = ROOT / "autograder" / "golden" / f"{ASSIGNMENT}.json"

FIGURES = {"memory_figure", "timing_figure", "precision_figure", "clip_demo", "resume_figure"}
FAST = {grade_id: "pass" for grade_id in FIGURES | {"bandwidth"}}  # no check depends on them


# ============================================================================ the reference notebook
def test_the_released_stubs_raise_and_the_provided_constructor_works():
    """(Every released notebook runs with only its stubs raising: test_release.py.)"""
    stubs = run_in_process(RELEASE / ASSIGNMENT / NOTEBOOK.name, replace=FAST).namespace
    with pytest.raises(NotImplementedError):
        stubs["state_numbers"](problems.probe_optimizer("visible"))
    with pytest.raises(NotImplementedError):
        stubs["Adam"]([Parameter(np.zeros(2))]).step()
    assert stubs["Adam"]([Parameter(np.zeros(2))], lr=0.1).defaults["lr"] == 0.1  # the constructor is provided


# ======================================================================================= golden data
def test_the_checkpoint_checks_are_bit_for_bit():
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    for check_name in ("checkpoint_visible", "checkpoint_adam", "checkpoint_sgd", "checkpoint_probe_float32"):
        expectation = golden[f"{ASSIGNMENT}.{check_name}"]
        assert (expectation.rtol, expectation.atol) == (0.0, 0.0)
        assert expectation.value["max_abs_difference"] == 0.0


# (The chapter's common mistakes and their hints: autograder/mistakes, tested in test_mistakes.py.)


# ================================================================ section 2: memory, stated numbers
def test_state_table_and_the_examples(ns):
    P = 64 * 32 + 32 + 32 * 10 + 10
    assert P == 2410 == sum(p.data.size for p in problems.mlp().parameters())
    assert ns["expected_state_numbers"]("adam", P) == 4820 and 4820 * 8 == 38_560
    seven_b = 7 * 10**9
    weights = gradients = seven_b * 4
    adam_state = 4 * ns["expected_state_numbers"]("adam", seven_b)
    assert (weights, gradients, adam_state) == (28e9, 28e9, 56e9)
    assert weights + gradients + adam_state == 112e9 == 16 * seven_b
    assert [ns["expected_state_numbers"](n, 1) for n in ("sgd", "sgd_momentum", "rmsprop", "adagrad", "adam", "adamw", "amsgrad")] \
        == [0, 1, 1, 1, 2, 2, 3]


def test_the_four_parameter_problem_keeps_20_not_28_for_adam(ns):
    seen = {}

    def make(cls):
        def build(ps):
            seen["optimizer"], seen["params"] = cls(ps, lr=0.1), ps
            return seen["optimizer"]
        return build

    trajectory(make(ns["Adam"]), steps=3)
    assert sum(p.data.size for p in seen["params"]) == 14
    assert ns["state_numbers"](seen["optimizer"]) == 20
    trajectory(make(torch.optim.Adam), steps=3, backend=recorder.TORCH)
    assert recorder.torch_state_counts(seen["optimizer"]) == (20, 160)


def test_tracemalloc_measures_8_16_24_bytes_per_parameter_and_a_higher_peak(ns):
    rng = np.random.default_rng(0)
    P, tensors = 100_000, 10
    runs = {8: lambda ps: ns["SGD"](ps, lr=0.1, momentum=0.9), 16: lambda ps: ns["Adam"](ps, lr=0.1),
            24: lambda ps: ns["Adam"](ps, lr=0.1, amsgrad=True)}
    for per_parameter, make in runs.items():
        params = [Parameter(rng.normal(size=P // tensors)) for _ in range(tensors)]
        for p in params:
            p.grad = rng.normal(size=p.data.shape)
        optimizer = make(params)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        optimizer.step()
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        retained = after - before
        assert per_parameter * P <= retained < per_parameter * P + 500 * tensors  # + a dict per tensor
        assert ns["state_bytes"](optimizer) == per_parameter * P
        assert peak - before > retained  # temporaries


def test_the_memory_figure_helper_shows_the_per_tensor_overhead(ns):
    namespace = dict(ns)
    exec(compile(CHAPTER.cell_source("memory_figure").split("memory_runs = {")[0], "memory_figure", "exec"), namespace)
    retained, peak = namespace["first_step_memory"](lambda ps: ns["Adam"](ps, lr=0.1), 1000)
    assert retained > 16 * 1000 and peak > retained


# ================================================================== section 3: time, stated numbers
def test_adam_reads_four_arrays_and_writes_three(ns):
    """7 numbers per entry: p, g, m, v read; p, m, v written (g never)."""
    param, grad, state = np.ones(5, np.float32), np.full(5, 0.5, np.float32), {}
    ns["adam_update"](param, grad, state, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    grad.flags.writeable = False
    before = {"p": param.copy(), "m": state["exp_avg"].copy(), "v": state["exp_avg_sq"].copy()}
    ns["adam_update"](param, grad, state, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    changed = {k: not np.array_equal(v, {"p": param, "m": state["exp_avg"], "v": state["exp_avg_sq"]}[k])
               for k, v in before.items()}
    assert changed == {"p": True, "m": True, "v": True}
    assert [k for k, v in state.items() if isinstance(v, np.ndarray)] == ["exp_avg", "exp_avg_sq"]
    assert ns["ADAM_BYTES_PER_PARAMETER"] == (4 + 3) * 4 == 28 and (4 + 3) * 8 == 56
    assert "28 bytes per parameter in float32" in CHAPTER.markdown().replace("**", "")


def test_the_reference_adam_update_makes_33_passes():
    from bench.optimizer_step import count_passes, load_reference, numpy_inplace_update

    reference = load_reference()
    options = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    counts = count_passes(lambda p, g, s: reference["adam_update"](p, g, s, **options))
    assert counts == {"operations": 14, "reads": 19, "writes": 14, "passes": 33}
    assert counts["passes"] * 4 == 132 and round(132 / 28, 1) == 4.7
    assert 100 * counts["operations"] == 1400  # the loop over 100 tensors
    # five of the writes are in place (m and v twice each, then the parameter): nine fresh temporaries,
    # nine arrays of 4 MB per step at P = 10^6 in one call over the flat array (section 3)
    body = nbtools.cell_source(nbtools.SOURCE / "ch3_adam" / "adam.ipynb", "adam_update").split("### BEGIN SOLUTION")[1]
    in_place = sum(line.strip().startswith(("exp_avg *=", "exp_avg +=", "exp_avg_sq *=", "exp_avg_sq +=", "param -="))
                   for line in body.splitlines())
    assert in_place == 5 and counts["writes"] - in_place == 9 and 10**6 * 4 == 4_000_000
    assert count_passes(lambda p, g, s: numpy_inplace_update(p, g, s, **options))["passes"] < 33


def test_flat_adam_gives_exactly_the_loops_numbers_through_views(ns):
    rng = np.random.default_rng(3)
    shapes = [(3, 4), (5,), (), (2, 1)]
    starts = [rng.normal(size=s) for s in shapes]
    loop = [Parameter(s) for s in starts]
    flat = [Parameter(s) for s in starts]
    a, b = ns["Adam"](loop, lr=0.05), ns["FlatAdam"](flat, lr=0.05)
    for p in flat:
        assert np.shares_memory(p.data, b.flat)
    for _ in range(7):
        grads = [rng.normal(size=s) for s in shapes]
        for p, q, g in zip(loop, flat, grads):
            p.grad, q.grad = g.copy(), g.copy()
        a.step()
        b.step()
    for p, q in zip(loop, flat):
        assert p.data.shape == q.data.shape and np.array_equal(p.data, q.data)
    assert b.state_dict()["state"] == {}  # for timing only: its state is outside self.state


def test_flat_adam_in_blocks_gives_the_same_numbers_with_small_temporaries(ns):
    rng = np.random.default_rng(5)
    shapes = [(300,), (7, 11), (), (1000,)]
    starts = [rng.normal(size=s).astype(np.float32) for s in shapes]
    runs = {}
    for block in (None, 64, 1000, 10**6):
        params = [Parameter(s.copy()) for s in starts]
        optimizer = ns["FlatAdam"](params, lr=0.05, block=block)
        size = optimizer.flat.size
        assert [(b.start, min(b.stop, size)) for b in optimizer.blocks][0] == (0, min(block or size, size))
        assert sum(min(b.stop, size) - b.start for b in optimizer.blocks) == size  # every entry once
        for _ in range(5):
            for p in params:
                p.grad = np.cos(p.data) + np.float32(0.5)
            optimizer.step()
        runs[block] = np.concatenate([p.data.ravel() for p in params])
    for block, flat in runs.items():
        assert flat.dtype == np.float32 and np.array_equal(flat, runs[None]), block
    assert len(ns["FlatAdam"]([Parameter(np.zeros(100_000))], block=16384).blocks) == 7


def test_one_call_over_the_flat_array_allocates_model_sized_temporaries_and_blocks_do_not(ns):
    """The memory behind the timing figure's crossing (section 3), measured with tracemalloc, not timed."""
    import tracemalloc

    namespace = dict(ns)
    exec(compile(CHAPTER.cell_source("timing_figure").split("BLOCK = 16384")[0], "timing", "exec"), namespace)

    def peak(make):
        optimizer = make(namespace["parameters_in_tensors"](10**6))
        optimizer.step()  # the state exists before measuring
        tracemalloc.start()
        optimizer.step()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    one_call = peak(lambda ps: ns["FlatAdam"](ps, lr=1e-3))
    blocks = peak(lambda ps: ns["FlatAdam"](ps, lr=1e-3, block=16384))
    loop = peak(lambda ps: ns["Adam"](ps, lr=1e-3))
    assert one_call >= 2 * 4 * 10**6  # at least two live temporaries of 4 MB (10^6 float32)
    # about five live temporaries at once, each the size of the unit one call works on
    assert one_call >= 4 * (4 * 10**6)  # 4 MB each: the whole model
    assert blocks <= 6 * (4 * 16384) and 4 * 16384 == 65_536  # 64 KB each: a block
    assert loop <= 6 * (4 * 10**4)  # 40 KB each: one of the 100 tensors


def test_the_bandwidth_helpers_behave(ns):
    assert ns["copy_bandwidth"](10_000, budget=0.01) > 0
    calls = []
    ns["seconds_per_call"](lambda: calls.append(1), budget=0.0)
    assert len(calls) == 1 + 3  # warm-up, then at least three


# ============================================================== section 4: numerics, stated numbers
def test_eps_table(ns):
    def first_step_over_lr(g):
        w = Parameter(np.array([0.0]))
        optimizer = ns["Adam"]([w], lr=1.0)
        w.grad = np.array([g])
        optimizer.step()
        return -float(w.data[0])

    assert round(first_step_over_lr(1e-10), 4) == 0.0099
    assert first_step_over_lr(1e-8) == pytest.approx(0.5, rel=1e-12)
    assert round(first_step_over_lr(1e-6), 3) == 0.990
    g = 1e-12  # far below eps: the SGD-like step lr g / eps
    assert first_step_over_lr(g) == pytest.approx(g / 1e-8, rel=1e-3)


def test_float32_spacings_and_the_stalled_weight(ns):
    assert np.finfo(np.float32).eps == 2.0**-23 and round(2.0**-23, 9) == 1.19e-7
    assert np.float32(1) - np.nextafter(np.float32(1), np.float32(0)) == 2.0**-24
    assert round(2.0**-24, 10) == 5.96e-8 and round(2.0**-25, 10) == 2.98e-8
    one = np.float32(1.0)
    assert one - np.float32(2.9e-8) == one and one - np.float32(3.0e-8) < one
    # relative to the weight, the smallest update that survives is 2^-25 to 2^-24 of it (3e-8 to 6e-8)
    assert one + np.float32(5.9e-8) == one and one + np.float32(6.0e-8) > one  # 1.0 moving up: 2^-24
    below_two = np.nextafter(np.float32(2), np.float32(0))  # just below a power of two: 2^-25 of the weight
    for relative, lost in ((2.97e-8, True), (3.0e-8, False)):
        assert bool(below_two - np.float32(relative * below_two) == below_two) is lost
    rng = np.random.default_rng(4)
    for weight in rng.uniform(0.01, 100.0, size=2000).astype(np.float32):
        exponent = np.floor(np.log2(weight))
        threshold = 2.0 ** (exponent - 24) / weight  # half the spacing, relative to the weight
        assert 2.0**-25 < threshold <= 2.0**-24
        assert weight + np.float32(0.98 * threshold * weight) == weight
        assert weight + np.float32(1.02 * threshold * weight) != weight
    assert (round(2.0**-25, 8), round(2.0**-24, 8)) == (3e-8, 6e-8)
    namespace = dict(ns)
    exec(compile(CHAPTER.cell_source("precision_figure").split("path64, path32 =")[0], "precision", "exec"), namespace)
    moved64, moved32 = namespace["tiny_steps"](np.float64), namespace["tiny_steps"](np.float32)
    assert round(moved64[-1], 8) == 1.0e-6 and moved32[-1] == 0.0 and np.all(moved32 == 0)


def test_float16_loses_eps_and_the_second_moment():
    assert np.float16(1e-8) == 0
    assert (1 - 0.999) * 1e-4**2 == pytest.approx(1e-11) and np.float16((1 - 0.999) * 1e-4**2) == 0
    assert round(float(np.finfo(np.float16).smallest_subnormal), 8) == 6e-8


def test_float32_and_float64_adam_on_the_valley(ns):
    namespace = dict(ns)
    exec(compile(CHAPTER.cell_source("precision_figure").split("path64, path32 =")[0], "precision", "exec"), namespace)
    path64, path32 = namespace["adam_on_valley"](np.float64), namespace["adam_on_valley"](np.float32)
    assert np.array_equal(path64[0], VALLEY_START)
    gap = np.abs(path32 - path64).max()
    roundings = np.finfo(np.float32).eps * np.abs(path64).max()
    assert 0 < gap < 10 * roundings  # a few float32 roundings apart
    for path in (path32, path64):
        assert 2e-11 < np.linalg.norm(path[-1]) < 4e-11  # about 3e-11 from the minimum
    # the same with torch.optim.Adam in both dtypes
    for dtype, mine in ((torch.float64, path64), (torch.float32, path32)):
        x = torch.nn.Parameter(torch.tensor(VALLEY_START, dtype=dtype))
        optimizer = torch.optim.Adam([x], lr=0.1)
        for _ in range(500):
            x.grad = torch.from_numpy(valley_gradient(x.detach().numpy().astype(np.float64))).to(dtype)
            optimizer.step()
        if dtype == torch.float64:
            np.testing.assert_allclose(x.detach().numpy(), mine[-1], rtol=1e-9, atol=1e-20)
        else:  # other float32 roundings, the same end
            np.testing.assert_allclose(x.detach().numpy(), mine[-1], rtol=0, atol=1e-13)


def test_clipping_facts(ns):
    clip = ns["clip_grad_norm_"]
    g = np.array([3.0, 4.0, 12.0])
    assert np.linalg.norm(g) == 13.0
    per_parameter = np.array([0.6, 0.8, 1.0])
    angle = math.degrees(math.acos(g @ per_parameter / (np.linalg.norm(g) * np.linalg.norm(per_parameter))))
    assert round(angle) == 22
    w = Parameter(np.zeros(3))
    w.grad = g.copy()
    assert clip([w], 1.0) == 13.0
    assert np.linalg.norm(w.grad) == pytest.approx(13 / (13 + 1e-6), rel=1e-15) and np.linalg.norm(w.grad) < 1
    w.grad = np.zeros(3)
    assert clip([w], 1.0) == 0.0 and np.array_equal(w.grad, np.zeros(3))  # all zero: no division by zero
    (memory,) = nbtools.stated(NOTEBOOK, r"\$1/\(1 - \\beta_2\) = (\d+)\$ is the memory of \$v\$")
    assert int(memory) == round(1 / (1 - 0.999)), "Adam's default beta2"


def test_non_finite_gradients_as_torch_handles_them(ns):
    clip = ns["clip_grad_norm_"]
    for bad, expected_total in ((np.inf, np.inf), (np.nan, np.nan)):
        grads = [np.array([1.0, bad]), np.array([2.0, -3.0])]
        mine = [Parameter(np.zeros(2)) for _ in grads]
        theirs = [torch.nn.Parameter(torch.zeros(2)) for _ in grads]
        for p, q, g in zip(mine, theirs, grads):
            p.grad, q.grad = g.copy(), torch.tensor(g)
        with np.errstate(all="ignore"):
            total = clip(mine, 1.0)
        assert np.array_equal(total, expected_total, equal_nan=True)
        assert float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)) == pytest.approx(total, nan_ok=True)
        for p, q in zip(mine, theirs):
            assert np.array_equal(p.grad, q.grad.numpy(), equal_nan=True)
        if bad == np.inf:  # coef = 0: finite entries become 0, the inf becomes nan
            assert np.isnan(mine[0].grad[1]) and np.all(mine[1].grad == 0) and mine[0].grad[0] == 0
        else:  # every gradient becomes nan
            assert all(np.all(np.isnan(p.grad)) for p in mine)
    theirs = [torch.nn.Parameter(torch.zeros(2))]
    theirs[0].grad = torch.tensor([np.nan, 1.0])
    with pytest.raises(RuntimeError) as raised:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert not re.search(r"parameter \d", str(raised.value))  # torch's message names no parameter


@pytest.mark.parametrize("seed", range(6))
def test_reference_clip_equals_torch_on_random_gradients(ns, seed):
    rng = np.random.default_rng(seed)
    shapes = [tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3))) for _ in range(rng.integers(1, 7))]
    grads = [None if rng.random() < 0.25 else np.array(rng.normal(size=s) * 10.0 ** rng.integers(-3, 3)) for s in shapes]
    max_norm = float(rng.choice([1e-3, 0.5, 1.0, 100.0]))
    mine = [Parameter(np.zeros(s)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    for p, q, g in zip(mine, theirs, grads):
        if g is not None:
            p.grad, q.grad = g.copy(), torch.tensor(g)
    total = ns["clip_grad_norm_"](iter(mine), max_norm)
    assert total == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, max_norm)), rel=1e-13)
    for p, q in zip(mine, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-13, atol=0)


def test_the_clip_demo_names_the_parameter(reference):
    output = reference.outcomes["clip_demo"].output
    assert "that is 2.weight" in output
    after = float(re.search(r"after clipping:\s+(\S+)", output).group(1))
    assert 0.1 * (1 - 1e-6) < after < 0.1


# ============================================================== section 5: checkpoints, stated facts
def test_the_course_state_dicts_are_copies_and_torchs_are_references():
    w = Parameter(np.array([1.0, -2.0]))
    optimizer = problems.ProbeOptimizer([w], lr=0.1)
    scheduler = problems.LambdaLR(optimizer, problems.inverse_time)
    w.grad = np.array([0.3, -0.1])
    optimizer.step()
    saved, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
    assert not np.shares_memory(saved["state"][0]["mean"], optimizer.state[w]["mean"])
    assert saved["param_groups"][0]["params"] == [0]
    fresh = problems.ProbeOptimizer([Parameter(np.zeros(2))], lr=0.1)
    fresh.load_state_dict(saved)
    assert not np.shares_memory(next(iter(fresh.state.values()))["mean"], saved["state"][0]["mean"])
    scheduler.step()
    assert saved_scheduler["last_epoch"] == 0 and scheduler.last_epoch == 1
    # PyTorch: optimizer.state_dict() holds the live tensors
    p = torch.nn.Parameter(torch.ones(2))
    torch_optimizer = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones(2)
    torch_optimizer.step()
    live = torch_optimizer.state_dict()["state"][0]["exp_avg"]
    assert live.data_ptr() == torch_optimizer.state[p]["exp_avg"].data_ptr()
    kept = copy.deepcopy(torch_optimizer.state_dict())["state"][0]["exp_avg"]
    torch_optimizer.step()
    assert torch.equal(live, torch_optimizer.state[p]["exp_avg"]) and not torch.equal(kept, live)


def test_the_aliasing_demo(reference):
    output = reference.outcomes["state_dict_demo"].output
    found = re.search(r"w = \[(.*?)\] \| aliased 'checkpoint': \[(.*?)\] \| copy: \[(.*?)\]", output)
    w, aliased, copied = (np.array(g.split(), dtype=float) for g in found.groups())
    assert np.array_equal(w, aliased) and not np.array_equal(w, copied)
    assert "'lr': 0.06666666666666667, 'initial_lr': 0.1" in output  # 0.1 / (1 + 1/2) after one epoch


def test_lambda_lr_equals_torchs():
    w = Parameter(np.zeros(2))
    optimizer = problems.ProbeOptimizer([w], lr=0.3)
    p = torch.nn.Parameter(torch.zeros(2))
    torch_optimizer = torch.optim.SGD([p], lr=0.3)
    for schedule in problems.SCHEDULES.values():
        ours, theirs = problems.LambdaLR(optimizer, schedule), torch.optim.lr_scheduler.LambdaLR(torch_optimizer, schedule)
        for _ in range(8):
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)
            optimizer.step()
            torch_optimizer.step()
            ours.step()
            theirs.step()
        optimizer.param_groups[0].pop("initial_lr")
        torch_optimizer.param_groups[0].pop("initial_lr")


def test_probe_optimizer_keeps_two_arrays_per_entry_in_the_parameters_dtype():
    optimizer = problems.probe_optimizer("visible")
    for p, state in optimizer.state.items():
        assert set(state) == {"step", "mean", "peak"} and state["step"] == problems.PROBE_STEPS
        assert state["mean"].dtype == state["peak"].dtype == p.data.dtype
    assert len(optimizer.state) == 3  # the parameter without a gradient has none


def test_resumed_training_is_bit_for_bit_and_weights_only_is_not(reference):
    output = reference.outcomes["resume_figure"].output
    assert re.search(r"resumed against uninterrupted:\s+0\.0\n", output)
    drift = float(re.search(r"weights only against uninterrupted:\s*(\S+)", output).group(1))
    assert drift > 1e-3


def test_torch_resumes_bit_for_bit_too_and_our_reference_ends_where_torch_does(ns):
    for run in ("adam", "sgd"):
        assert recorder.torch_resume_report(run) == {"max_abs_difference": 0.0, "resumed_twice_difference": 0.0,
                                                     "epoch": problems.RESUME_RUNS[run]["at"]}
    mine = problems.resumed_parameters(ns["save_checkpoint"], ns["load_checkpoint"], ns["Adam"], "adam")
    np.testing.assert_allclose(mine, recorder.torch_resume("adam")["finals"][0], rtol=1e-10, atol=1e-12)


def test_load_checkpoint_rejects_another_architecture(ns):
    model = problems.regression_model(0)
    optimizer = problems.ProbeOptimizer(list(model.parameters()))
    checkpoint = ns["save_checkpoint"](model, optimizer, None, 0)
    assert checkpoint["scheduler"] is None
    other = problems.mlp()
    with pytest.raises(ValueError):
        ns["load_checkpoint"](checkpoint, other, problems.ProbeOptimizer(list(other.parameters())), None)


# ===================================================================================== benchmark
@pytest.mark.torch
def test_the_optimizer_step_benchmark_runs_and_reports_every_figure():
    from bench import optimizer_step

    result = optimizer_step.run(sizes=(20_000,), steps=1, repeats=1, thread_counts=[1])
    row = result["results"][0]
    assert row["parameters"] == 20_000 and row["tensors"] == optimizer_step.TENSORS
    assert row["bound_ms"] == pytest.approx(28 * 20_000 / (row["copy_bandwidth_GB_per_s"] * 1e9) * 1e3)
    for name in ("reference_loop", "reference_flat", "numpy_inplace", "torch_foreach_threads_1", "torch_fused_threads_1"):
        assert row[f"{name}_ms"] > 0 and row[f"{name}_over_bound"] == pytest.approx(row[f"{name}_ms"] / row["bound_ms"])
    assert row["ratio"] == pytest.approx(row["reference_loop_ms"] / row["torch_foreach_threads_1_ms"])
    assert result["bytes_per_parameter"]["adam_minimum_float32"] == 28
    assert result["bytes_per_parameter"]["reference_adam_update"]["bytes_per_float32_parameter"] == 132
    assert max(result["parity_relative_difference_after_3_steps"].values()) < 1e-5
    assert result["headline"]["20,000"]["within_target"] == (row["ratio"] <= 1.5)
    kept = result["results_allocator_keeps_memory"][0]  # measured again in a child process
    assert kept["parameters"] == 20_000 and kept["reference_loop_ms"] > 0
    assert result["headline"]["20,000"]["ratio_allocator_keeps_memory"] == kept["ratio"]
    assert json.dumps(result) and "optimizer_step" in optimizer_step.format_table(result)


def test_the_benchmark_is_registered():
    from bench.__main__ import BENCHMARKS

    assert BENCHMARKS["optimizer_step"] == "bench.optimizer_step"


# ============================================================================ more stated facts
def test_every_row_of_the_state_table_matches_torch(ns):
    rows = {"sgd": (torch.optim.SGD, {"lr": 0.1}), "sgd_momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
            "rmsprop": (torch.optim.RMSprop, {"lr": 0.01}), "adagrad": (torch.optim.Adagrad, {"lr": 0.1}),
            "adam": (torch.optim.Adam, {"lr": 0.1}), "adamw": (torch.optim.AdamW, {"lr": 0.1}),
            "amsgrad": (torch.optim.Adam, {"lr": 0.1, "amsgrad": True})}
    params = [torch.nn.Parameter(torch.ones(3, 4)), torch.nn.Parameter(torch.ones(5))]
    for name, (cls, options) in rows.items():
        optimizer = cls(params, **options)
        for p in params:
            p.grad = torch.ones_like(p)
        optimizer.step()
        assert recorder.torch_state_counts(optimizer)[0] == ns["expected_state_numbers"](name, 17), name
    adam = ns["Adam"]([w := Parameter(np.ones(3))], lr=0.1)
    w.grad = np.ones(3)
    adam.step()
    assert type(adam.state[w]["step"]) is int  # one integer per parameter tensor, not per entry


def test_a_scaled_loss_changes_adam_only_through_eps(ns):
    def path(scale, eps, steps=50):
        x = Parameter(np.array(VALLEY_START, dtype=np.float64))
        optimizer = ns["Adam"]([x], lr=0.1, eps=eps)
        for _ in range(steps):
            x.grad = scale * valley_gradient(x.data)
            optimizer.step()
        return x.data.copy()

    np.testing.assert_allclose(path(1e-10, 0.0), path(1.0, 0.0), rtol=1e-12)  # eps = 0: scale-free
    assert np.linalg.norm(path(1e-10, 1e-8) - path(1.0, 1e-8)) > 1.0  # "and then a lot"


def test_a_spike_shrinks_adams_steps_for_hundreds_of_steps(ns):
    def steps(spike_at):
        w = Parameter(np.array([0.0]))
        optimizer = ns["Adam"]([w], lr=1e-3)
        sizes, last = [], 0.0
        for t in range(700):
            w.grad = np.array([100.0 if t == spike_at else 1.0])
            optimizer.step()
            sizes.append(abs(float(w.data[0]) - last))
            last = float(w.data[0])
        return np.array(sizes)

    calm, spiked = steps(None), steps(50)
    assert spiked[50] <= 7.28e-3  # no step exceeds 7.27 lr, whatever the gradients (Chapter 3, section 6)
    assert spiked[50] <= 3.2e-3  # and here the spike's own step is not even the largest possible
    # once m has forgotten the spike (a few tens of steps), v still holds it: steps 100 to 650 are less than half
    assert np.all(spiked[100:650] < 0.5 * calm[100:650])


def test_optimizer_state_dict_numbers_parameters_across_groups():
    a, b, c = (Parameter(np.ones(2)) for _ in range(3))
    optimizer = problems.ProbeOptimizer([{"params": [a, b]}, {"params": [c], "lr": 0.5}])
    for p in (a, c):
        p.grad = np.ones(2)
    optimizer.step()
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]
    assert set(saved["state"]) == {0, 2}  # b got no gradient: no state


def test_weights_only_resume_trains_faster_here(ns):
    assert ns["weights_only_losses"][-1] < ns["losses"][-1] and ns["resumed_losses"] == ns["losses"][ns["AT"]:]
