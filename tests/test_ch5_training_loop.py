"""Chapter 5 (the training loop): the data utilities, the reference notebook, its golden data from
PyTorch, the loop's common mistakes and their hints, and every number the narrative states."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import slopegrad
from autograder.compare import verdict_for
from autograder.golden import GOLDEN_DIR_ENV, expectation, load_assignment
from autograder.mistakes.ch5_training_loop import CATALOGUE, MEAN, STEP, ZERO
from autograder.problems import training_loop as P
from autograder.records import RECORDS_ENV, decode
import figures
from chapters import BY_NAME
from nbtools import RELEASE, ROOT, SOURCE, read, run_in_process
from slopegrad.data import DIGITS_PATH, DataLoader, load_digits, train_test_split
from slopegrad.nn import Linear, Parameter

torch.set_default_dtype(torch.float64)

ASSIGNMENT = "ch5_training_loop"
NOTEBOOK = SOURCE / ASSIGNMENT / "training_loop.ipynb"
CHAPTER = BY_NAME[ASSIGNMENT]  # its test cells, exercises and points: tests/chapters.py
VISIBLE, HIDDEN, BRING = CHAPTER.visible, CHAPTER.hidden, CHAPTER.bring
GOLDEN = ROOT / "autograder" / "golden" / f"{ASSIGNMENT}.json"

OPTIMIZER_CELLS = {"test_optimizers_visible", "test_train_bars_hidden", "test_train_optimizers_hidden"}
FIGURE = "compare_optimizers"
FAST = {FIGURE: "pass"}  # the comparison figure takes seconds and no check depends on it


@pytest.fixture(scope="module")
def split():
    return P.digits_split()


# ------------------------------------------------------------------------------------ the data
def test_the_shipped_digits_equal_scikit_learns_exactly():
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x, y = load_digits()
    assert x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(x, digits.data)
    np.testing.assert_array_equal(y, digits.target)
    with np.load(DIGITS_PATH) as stored:
        assert sorted(stored.files) == ["images", "target"]
        np.testing.assert_array_equal(stored["images"], digits.images)
    assert DIGITS_PATH.stat().st_size < 100_000
    # what students and the sandbox run never needs scikit-learn (it ships optimizers; the sandbox lacks it)
    notebook_code = "\n".join(cell.source for cell in read(NOTEBOOK).cells if cell.cell_type == "code")
    for text in ((ROOT / "slopegrad" / "data.py").read_text(), Path(P.__file__).read_text(), notebook_code):
        assert not re.search(r"^\s*(import|from)\s+sklearn", text, re.M)


def test_the_digits_file_is_package_data_and_reaches_the_sandbox(tmp_path):
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^"?slopegrad"?\s*=\s*\["datasets/\*\.npz"\]', pyproject, re.M)
    from autograder.sandbox.packages import course_copy

    copy = course_copy(tmp_path / "course")
    assert (copy / "slopegrad" / "datasets" / "digits.npz").is_file()
    code = ("import slopegrad; from slopegrad.data import load_digits; x, y = load_digits(); "
            "print(x.shape, y.shape, int(x.sum()), slopegrad.__file__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(copy)!r}); {code}"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, check=True).stdout
    assert out.split()[:4] == ["(1797,", "64)", "(1797,)", str(int(load_digits()[0].sum()))]
    assert Path(out.split()[4]).is_relative_to(copy)


def test_the_digits_maker_writes_the_same_arrays(tmp_path):
    from tools.make_digits import main

    target = tmp_path / "digits.npz"
    assert main([str(target)]) == 0
    with np.load(target) as made, np.load(DIGITS_PATH) as shipped:
        for key in ("images", "target"):
            np.testing.assert_array_equal(made[key], shipped[key])
            assert made[key].dtype == shipped[key].dtype == np.uint8


def test_loader_batches_cover_every_sample_once_per_epoch():
    x = np.arange(100, dtype=np.float64).reshape(50, 2)
    y = np.arange(50)
    loader = DataLoader(x, y, batch_size=8, shuffle=True, seed=3)
    assert len(loader) == 7
    for _ in range(3):
        batches = list(loader)
        assert [len(yb) for _, yb in batches] == [8] * 6 + [2]
        labels = np.concatenate([yb for _, yb in batches])
        assert sorted(labels) == list(range(50))
        for xb, yb in batches:
            assert isinstance(xb, slopegrad.Tensor) and not xb.requires_grad and xb.data.dtype == np.float64
            np.testing.assert_array_equal(xb.data, x[yb])  # inputs and labels stay paired
    dropped = DataLoader(x, y, batch_size=8, shuffle=True, seed=3, drop_last=True)
    assert len(dropped) == 6 and [len(yb) for _, yb in dropped] == [8] * 6
    ordered = DataLoader(x, y, batch_size=20)
    assert [list(yb) for _, yb in ordered] == [list(range(0, 20)), list(range(20, 40)), list(range(40, 50))]


def test_loader_shuffles_from_its_seed_with_a_numpy_generator():
    x, y = np.zeros((30, 1)), np.arange(30)

    def epochs(loader, n=3):
        return [np.concatenate([yb for _, yb in loader]) for _ in range(n)]

    a = epochs(DataLoader(x, y, batch_size=4, shuffle=True, seed=11))
    np.random.seed(0)  # global NumPy state and slopegrad's generator do not matter
    slopegrad.manual_seed(123)
    b = epochs(DataLoader(x, y, batch_size=4, shuffle=True, seed=11))
    for first, second in zip(a, b):
        np.testing.assert_array_equal(first, second)
    assert not np.array_equal(a[0], a[1]), "a new order every epoch"
    rng = np.random.default_rng(11)
    for order in a:  # exactly numpy.random.default_rng(seed).permutation, epoch after epoch
        np.testing.assert_array_equal(order, rng.permutation(30))
    c = epochs(DataLoader(x, y, batch_size=4, shuffle=True, seed=12), 1)
    assert not np.array_equal(a[0], c[0])
    generator = np.random.default_rng(11)
    np.testing.assert_array_equal(epochs(DataLoader(x, y, batch_size=4, shuffle=True, seed=generator), 1)[0], a[0])
    # without a seed the order comes from slopegrad's generator, which manual_seed resets
    slopegrad.manual_seed(5)
    d = epochs(DataLoader(x, y, batch_size=4, shuffle=True), 2)
    slopegrad.manual_seed(5)
    e = epochs(DataLoader(x, y, batch_size=4, shuffle=True), 2)
    np.testing.assert_array_equal(np.stack(d), np.stack(e))


def test_loader_and_split_validate_their_arguments():
    with pytest.raises(ValueError):
        DataLoader(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError):
        DataLoader(np.zeros((5, 2)), np.zeros(5, dtype=int), batch_size=0)
    with pytest.raises(ValueError):
        train_test_split(np.zeros((5, 2)), np.zeros(5), test_size=5)
    x_tr, x_te, y_tr, y_te = train_test_split(np.arange(10.0), np.arange(10), test_size=0.25, seed=4)
    assert len(x_te) == 3 and len(x_tr) == 7  # a fraction is rounded up to whole samples
    order = np.random.default_rng(4).permutation(10)
    np.testing.assert_array_equal(y_te, order[:3])
    np.testing.assert_array_equal(y_tr, order[3:])
    np.testing.assert_array_equal(x_tr, y_tr.astype(float))


# ------------------------------------------------------------------------ the reference notebook
def test_no_reference_optimizer_is_importable():
    import autograder.problems.training_loop as module

    text = Path(module.__file__).read_text()
    for name in ("class SGD", "class Adam", "class StepLR", "def adam_update", "def train("):
        assert name not in text
    assert not (ROOT / "slopegrad" / "data.py").read_text().count("class SGD")


def test_without_their_optimizers_students_still_pass_the_loops_own_tests():
    """Until the 'Bring your optimizers' cells are filled, only the cells that use them fail."""
    stubs = {k: v for k, v in CHAPTER.stubbed().items() if k in BRING}
    run = run_in_process(NOTEBOOK, replace={**stubs, **FAST})
    assert set(run.failed()) == OPTIMIZER_CELLS
    for outcome in run.failed().values():
        assert isinstance(outcome.error, NotImplementedError)


def test_the_released_stubs_raise_and_the_provided_constructors_work():
    """(Every released notebook runs with only its stubs raising: test_release.py.)"""
    stubs = run_in_process(RELEASE / ASSIGNMENT / NOTEBOOK.name, replace=FAST).namespace
    model = stubs["make_model"](0)
    sgd = stubs["SGD"](model.parameters(), lr=0.1, momentum=0.9)  # the provided constructors work
    adam = stubs["Adam"](model.parameters(), lr=0.01)
    for call in (sgd.step, adam.step, lambda: stubs["StepLR"](sgd, step_size=2),
                 lambda: stubs["train"](model, DataLoader(np.zeros((4, 64)), np.zeros(4, dtype=int)), sgd, None, 1)):
        with pytest.raises(NotImplementedError):
            call()


# ----------------------------------------------------------------------------------- golden data
def test_golden_histories_use_a_float64_tolerance_and_the_bars_are_ranges():
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    for name, spec in golden.items():
        if name.endswith("history") or name.endswith("histories") or "history_" in name:
            assert spec.rtol == 1e-8 and spec.atol == 1e-10, name
    for run in ("sgd_momentum", "adam"):
        loss, accuracy = golden[f"{ASSIGNMENT}.{run}_final_loss"], golden[f"{ASSIGNMENT}.{run}_test_accuracy"]
        for value, spec, passes in ((0.0, loss, True), (0.3499, loss, True), (0.3501, loss, False), (-0.01, loss, False),
                                    (0.9, accuracy, True), (0.8999, accuracy, False), (1.0, accuracy, True)):
            assert verdict_for(value, spec).passed == passes, (spec.name, value)
        assert P.LOSS_BAR == pytest.approx(loss.value + loss.atol) and P.ACCURACY_BAR == pytest.approx(accuracy.value - accuracy.atol)
    difference = golden[f"{ASSIGNMENT}.same_seed_difference"]
    assert verdict_for(0.0, difference).passed and not verdict_for(1e-300, difference).passed


def test_the_inline_expectations_equal_the_golden_ones():
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    for cell in ("test_train_visible", "test_optimizers_visible"):
        source = CHAPTER.cell_source(cell)
        for name, literal in re.findall(r'"(' + ASSIGNMENT + r'\.\w+)",\s*result\["history"\],\s*expected=(\{.*?\}),', source, re.S):
            inline = eval(literal)  # our own notebook's literal
            spec = golden[name]
            assert set(inline) == set(spec.value)
            for key in inline:
                np.testing.assert_allclose(inline[key], spec.value[key], rtol=1e-15, atol=0)
            assert "rtol=1e-8" in source


# ------------------------------------------------------------------------- explicit torch parity
def torch_history(optimizer_factory, scheduler_factory, run: str, split) -> tuple[dict, float]:
    """PyTorch's own loop on the run's weights and batches, written out here."""
    config = P.RUNS[run]
    seed = config.get("seed", 0)
    x_train, x_test, y_train, y_test = split
    if config["samples"]:
        x_train, y_train = x_train[: config["samples"]], y_train[: config["samples"]]
    reference = P.make_model(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    with torch.no_grad():
        for theirs, ours in zip(model.parameters(), reference.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    optimizer = optimizer_factory(model.parameters())
    scheduler = scheduler_factory(optimizer) if scheduler_factory else None
    loader = P.make_loader(x_train, y_train, seed=seed)
    history = {"loss": [], "lr": []}
    for _ in range(config["epochs"]):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        losses = []
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(torch.tensor(x.data)), torch.tensor(y))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(sum(losses) / len(losses))
    with torch.no_grad():
        accuracy = float((model(torch.tensor(x_test)).argmax(1).numpy() == y_test).mean())
    return history, accuracy


def test_the_reference_loop_with_the_reference_optimizers_equals_torch(ns, split):
    train, SGD, Adam, StepLR = ns["train"], ns["SGD"], ns["Adam"], ns["StepLR"]
    cases = [
        ("plain", P.PlainSGD, P.ExponentialLR, lambda ps: torch.optim.SGD(ps, lr=0.3),
         lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7)),
        ("sgd_momentum", SGD, StepLR, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
        ("adam", Adam, StepLR, lambda ps: torch.optim.Adam(ps, lr=0.01),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    ]
    for run, optimizer_class, scheduler_class, torch_optimizer, torch_scheduler in cases:
        ours = P.run(train, optimizer_class, scheduler_class, run)
        theirs, accuracy = torch_history(torch_optimizer, torch_scheduler, run, split)
        np.testing.assert_allclose(ours["history"]["loss"], theirs["loss"], rtol=1e-13)  # the narrative: better than 1e-13
        np.testing.assert_allclose(ours["history"]["lr"], theirs["lr"], rtol=1e-15)
        assert ours["test_accuracy"] == accuracy
        assert len(theirs["loss"]) == P.RUNS[run]["epochs"] and theirs["loss"][-1] < theirs["loss"][0] / 3


def test_the_golden_module_agrees_with_the_plain_torch_loop(split):
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    theirs, _ = torch_history(lambda ps: torch.optim.Adam(ps, lr=0.01),
                              lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), "adam", split)
    np.testing.assert_allclose(golden[f"{ASSIGNMENT}.adam_history"].value["loss"], theirs["loss"], rtol=1e-14)
    assert golden[f"{ASSIGNMENT}.adam_history"].value["lr"] == theirs["lr"]
    named = {variant.hint for spec in golden.values() for variant in spec.variants}
    assert {m.hint for m in CATALOGUE.mistakes} <= named, "every loop mistake is named by some check"


def test_the_bars_hold_with_margin_for_other_seeds(ns, monkeypatch):
    """The reference clears the bars of the hidden tests for every seed tried, not only the graded one."""
    train, SGD, Adam, StepLR = ns["train"], ns["SGD"], ns["Adam"], ns["StepLR"]
    worst_loss, worst_accuracy = 0.0, 1.0
    for seed in range(1, 5):
        for run, optimizer_class in (("sgd_momentum", SGD), ("adam", Adam)):
            monkeypatch.setitem(P.RUNS, run, {**P.RUNS[run], "seed": seed})
            result = P.run(train, optimizer_class, StepLR, run)
            worst_loss = max(worst_loss, P.final_loss(result))
            worst_accuracy = min(worst_accuracy, result["test_accuracy"])
    assert worst_loss < 0.8 * P.LOSS_BAR and worst_accuracy > P.ACCURACY_BAR + 0.03


def test_problem_runners_report_crashes_but_let_stubs_raise(ns):
    def crashing(model, loader, optimizer, scheduler, epochs):
        raise ValueError("boom")

    def stub(model, loader, optimizer, scheduler, epochs):
        raise NotImplementedError()

    result = P.run(crashing, P.PlainSGD, P.ExponentialLR, "small")
    assert result == {"history": "error: ValueError", "test_accuracy": "error: ValueError"}
    assert P.final_loss(result) == "error: ValueError"
    assert P.final_loss({"history": {"loss": "nope"}}).startswith("error: ")
    twice = P.determinism(crashing, P.PlainSGD, P.ExponentialLR, "small")
    assert twice["largest_difference"].startswith("error: ")
    with pytest.raises(NotImplementedError):
        P.run(stub, P.PlainSGD, P.ExponentialLR, "small")
    # histories of Tensors or NumPy numbers are read as numbers
    tensors = lambda *a: {"loss": [slopegrad.Tensor(1.5), np.float64(0.5)], "lr": [0.1, 0.1]}  # noqa: E731
    assert P.final_loss({"history": tensors()}) == 0.5
    assert P.determinism(tensors, P.PlainSGD, None, "small_constant")["largest_difference"] == 0.0


# ----------------------------------------------------------------- common mistakes and their hints
# (The loop's common mistakes and their hints: autograder/mistakes, tested in test_mistakes.py.)
# Here: loops written differently but right, which must pass everything, and the one mistake that
# breaks an ungraded cell too.
def solution() -> str:
    return CHAPTER.cell_source("train")


def edit(*pairs: tuple[str, str]) -> str:
    """The reference train with replacements made inside its solution region (not in the docstring)."""
    head, body = solution().split("### BEGIN SOLUTION")
    for old, new in pairs:
        assert body.count(old) == 1, old
        body = body.replace(old, new)
    return head + "### BEGIN SOLUTION" + body


CORRECT_VARIANTS = {
    "zero_grad after step": edit((ZERO, ""), (STEP, STEP + ZERO)),
    "model.zero_grad()": edit((ZERO, "            model.zero_grad()\n")),
    "zero_grad(set_to_none=False)": edit((ZERO, "            optimizer.zero_grad(set_to_none=False)\n")),
    "mean weighted by batch size": edit(
        ("total += float(loss.data)", "total += float(loss.data) * len(y)"),
        ("batches += 1", "batches += len(y)")),
    "losses kept in a list of Tensors": edit(
        ("total, batches = 0.0, 0", "losses = []"),
        ("total += float(loss.data)\n            batches += 1", "losses.append(loss.detach())"),
        (MEAN, "history[\"loss\"].append(np.mean([l.data for l in losses]))")),
}


@pytest.mark.parametrize("variant", sorted(CORRECT_VARIANTS))
def test_correct_variants_of_the_loop_pass_everything(variant):
    run = run_in_process(NOTEBOOK, replace={"train": CORRECT_VARIANTS[variant], **FAST})
    assert run.failed() == {}, {k: str(v.error)[:300] for k, v in run.failed().items()}


def test_a_wrong_optimizer_fails_only_the_cells_that_use_it():
    """eps inside the square root (a Chapter 3 mistake): the loop's own tests pass, Adam's histories do not,
    and the hint points at the optimizers; the bars still pass (it trains well enough)."""
    wrong = CHAPTER.cell_source("bring_adam_update").replace("(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)")
    assert wrong != CHAPTER.cell_source("bring_adam_update")
    run = run_in_process(NOTEBOOK, replace={"bring_adam_update": wrong, **FAST})
    assert set(run.failed()) == {"test_optimizers_visible", "test_train_optimizers_hidden"}
    for outcome in run.failed().values():
        assert "Bring your optimizers" in str(outcome.error)


def test_state_shared_between_runs_is_caught_by_the_same_seed_check(ns):
    """An optimizer whose step counter lives at class level: the second run from the same seeds differs."""

    class LeakyAdam(ns["Adam"]):
        shared_steps = {}

        def step(self, closure=None):
            for group in self.param_groups:
                for index, p in enumerate(group["params"]):
                    if p.grad is None:
                        continue
                    state = LeakyAdam.shared_steps.setdefault(index, {})  # one dict per position, across runs
                    ns["adam_update"](p.data, p.grad, state, lr=group["lr"], beta1=group["betas"][0],
                                      beta2=group["betas"][1], eps=group["eps"])

    twice = P.determinism(ns["train"], LeakyAdam, ns["StepLR"], "adam_twice")
    golden = load_assignment(GOLDEN.parent, ASSIGNMENT)
    difference = verdict_for(twice["largest_difference"], golden[f"{ASSIGNMENT}.same_seed_difference"])
    assert twice["largest_difference"] > 1e-3 and not difference.passed and "keeps state" in difference.hint
    histories = verdict_for({"first": twice["first"], "second": twice["second"]}, golden[f"{ASSIGNMENT}.same_seed_histories"])
    assert not histories.passed and "second" in histories.message
    correct = P.determinism(ns["train"], ns["Adam"], ns["StepLR"], "adam_twice")
    assert correct["largest_difference"] == 0.0


@pytest.mark.parametrize("wrong", [m for m in CATALOGUE.mistakes if m.demo], ids=lambda m: m.name)
def test_the_judge_names_the_demo_class_mistakes_from_sandbox_records(wrong, tmp_path, monkeypatch):
    """As the demo class is graded: no golden files beside the student's code; the records judged outside
    fail exactly the cells the mistake loses, and each of them has a check that names the mistake."""
    empty = tmp_path / "no-golden"
    empty.mkdir()
    records = tmp_path / "records.jsonl"
    monkeypatch.setenv(GOLDEN_DIR_ENV, str(empty))
    monkeypatch.setenv(RECORDS_ENV, str(records))
    with np.errstate(all="ignore"):
        run = run_in_process(NOTEBOOK, replace={**wrong.sources(CATALOGUE.cells()), **FAST})
    assert set(run.failed()) == wrong.loses & VISIBLE  # inline expectations fail at once; hidden checks only record
    monkeypatch.delenv(GOLDEN_DIR_ENV)
    verdicts = {}
    for line in records.read_text().splitlines():
        record = json.loads(line)
        verdicts[record["check"]] = verdict_for(decode(record["value"]), expectation(record["check"], GOLDEN.parent))
    for cell in VISIBLE | HIDDEN:
        failed = [verdicts[n] for n in re.findall(r'"(' + ASSIGNMENT + r'\.\w+)"', CHAPTER.cell_source(cell)) if not verdicts[n].passed]
        assert bool(failed) == (cell in wrong.loses), cell
        if failed:
            assert wrong.hint in {v.hint for v in failed}, cell


# ------------------------------------------------------------------- what the narrative states
def test_the_numbers_of_sections_1_to_3(ns, split):
    text = CHAPTER.markdown()
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.min() == 0 and x.max() == 16 and np.array_equal(x, np.round(x))
    counts = np.bincount(y)
    assert len(counts) == 10 and 170 <= counts.min() and counts.max() <= 190  # "about 180 of each"
    x_train, x_test, y_train, y_test = split
    assert (len(x_train), len(x_test)) == (1440, 357) and 1440 == 45 * 32 and x_train.max() == 1.0
    for name in ("x_train", "x_test", "y_train", "y_test"):
        np.testing.assert_array_equal(ns[name], dict(zip(("x_train", "x_test", "y_train", "y_test"), split))[name])
    assert len(DataLoader(x_train, y_train, batch_size=32)) == 45
    model = ns["make_model"](0)
    assert sum(p.data.size for p in model.parameters()) == 64 * 32 + 32 + 32 * 10 + 10 == 2410
    first = model[0]
    assert np.abs(first.weight.data).max() <= 1 / math.sqrt(64) == 0.125
    std = float((x_train @ first.weight.data.T + first.bias.data).std())
    assert 0.25 < std < 0.35  # "about 0.3"
    # dL/dW1 = delta x^T: with the same upstream gradient, 16 times the inputs give 16 times the gradient
    layer = Linear(64, 32, rng=0)
    upstream = slopegrad.Tensor(np.random.default_rng(1).normal(size=(5, 32)))
    grads = []
    for scale in (1.0, 16.0):
        layer.weight.grad = None
        (layer(slopegrad.Tensor(x_train[:5] * scale)) * upstream).sum().backward()
        grads.append(layer.weight.grad)
    np.testing.assert_allclose(grads[1], 16 * grads[0], rtol=1e-12)
    untrained = ns["untrained_loss"]
    assert abs(untrained - math.log(10)) < 0.05 and round(math.log(10), 3) == 2.303
    assert abs(ns["evaluate"](model, x_test, y_test) - 0.1) < 0.03
    assert "1,797 images" in text and "8×8 pixels" in text and "**1,440**" in text and "45 batches" in text
    assert "2{,}410" in text and r"\ln 10 \approx 2.303" in text and "about 0.3 here" in text


def test_the_provided_evaluate_counts_correct_argmaxes_without_a_graph(ns):
    w = Parameter(np.array([[1.0, 0.0], [0.0, 1.0]]))

    class Probe:
        def __call__(self, x):
            self.grad_enabled = slopegrad.is_grad_enabled()
            return x @ w.transpose()

    probe = Probe()
    x = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0], [1.0, 2.0]])
    assert ns["evaluate"](probe, x, np.array([0, 1, 1, 0])) == 0.5
    assert probe.grad_enabled is False and w.grad is None
    assert isinstance(ns["evaluate"](probe, x, np.array([0, 1, 0, 1])), float)
    xt, yt = P.digits_split()[1], P.digits_split()[3]
    model = ns["make_model"](3)
    assert ns["evaluate"](model, xt, yt) == P.accuracy(model, xt, yt)


def test_the_numbers_of_sections_5_and_6(ns, split):
    text = CHAPTER.markdown()
    # StepLR(step_size=2, gamma=0.5) stepped after each of 45 batches: 22 halvings, 2^-22 ~ 2.4e-7
    w = Parameter(np.zeros(1))
    optimizer = P.PlainSGD([w], lr=1.0)
    scheduler = ns["StepLR"](optimizer, step_size=2, gamma=0.5)
    halvings = 0
    for _ in range(45):
        before = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        halvings += optimizer.param_groups[0]["lr"] < before
    assert halvings == 22 and optimizer.param_groups[0]["lr"] == 2.0**-22 and f"{2.0**-22:.1e}" == "2.4e-07"
    assert "22 times" in text and r"2^{-22} \approx 2.4\cdot 10^{-7}" in text
    # Section 6: 5 epochs of 45 batches, the bars and the tolerance
    assert P.RUNS["sgd_momentum"]["epochs"] * len(P.make_loader(split[0], split[2])) == 225 and "225 steps" in text
    assert (P.LOSS_BAR, P.ACCURACY_BAR) == (0.35, 0.90) and "below 0.35" in text and "at least 90%" in text
    assert P.RUNS["sgd_momentum"]["optimizer"] == {"lr": 0.05, "momentum": 0.9} and "SGD(lr=0.05, momentum=0.9)" in text
    assert P.RUNS["adam"]["optimizer"] == {"lr": 0.01} and P.RUNS["adam"]["scheduler"] == {"step_size": 2, "gamma": 0.5}
    assert P.RUNS["small_adam"]["scheduler"] == {"step_size": 1, "gamma": 0.5} and "StepLR(step_size=1, gamma=0.5)" in text
    from tools.golden.ch5_training_loop import HISTORY_RTOL

    assert HISTORY_RTOL == 1e-8 and "$10^{-8}$" in text
    # the docstring's example: the first visible test
    model = ns["make_model"](0)
    optimizer = P.PlainSGD(model.parameters(), lr=0.5)
    scheduler = P.ExponentialLR(optimizer, gamma=0.5)
    loader = DataLoader(split[0][:256], split[2][:256], batch_size=32, shuffle=True, seed=0)
    history = ns["train"](model, loader, optimizer, scheduler, 3)
    assert history["lr"] == [0.5, 0.25, 0.125] and [round(v, 4) for v in history["loss"]] == [2.2745, 2.0834, 1.9356]
    assert "[2.2745, 2.0834, 1.9356]" in CHAPTER.cell_source("train")


def test_the_sweep_of_section_7(ns):
    """Every number the sweep's narrative states, from the runs the figure draws."""
    text = CHAPTER.markdown()
    lrs, names = ns["SWEEP_LRS"], list(ns["OPTIMIZERS"])
    assert lrs == [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0] and names == ["SGD", "momentum", "Adam"]
    assert ns["SWEEP_EPOCHS"] == 3 and ns["MOMENTUM"] == 0.9 and 3 * 45 == 135
    assert "rates 0.003, 0.01, 0.03, 0.1, 0.3, 1 and 3" in text and "21 runs" in text and len(lrs) * len(names) == 21
    sweep, loss, accuracy = ns["sweep"], ns["final_loss"], ns["final_accuracy"]
    for name in names:
        for i, lr in enumerate(lrs):
            losses, accuracies = sweep[name][lr]
            assert len(losses) == len(accuracies) == 3
            assert loss[name][i] == losses[-1] and accuracy[name][i] == accuracies[-1]
    sgd, momentum, adam = (dict(zip(lrs, loss[name])) for name in names)
    accuracy = {name: dict(zip(lrs, accuracy[name])) for name in names}
    # the best rates, by the loss of the third epoch
    assert ns["best_lr"] == {"SGD": 1.0, "momentum": 0.1, "Adam": 0.03}
    assert "best rates are 1 for plain SGD, 0.1 for momentum and 0.03 for Adam" in text
    # below the window: plain SGD at 0.003 no better than ln 10; far above: near chance
    assert f"{sgd[0.003]:.3f}" == "2.318" and sgd[0.003] > math.log(10) and "loss of 2.318" in text
    near_chance = [accuracy["SGD"][3.0], accuracy["momentum"][1.0], accuracy["momentum"][3.0], accuracy["Adam"][1.0], accuracy["Adam"][3.0]]
    assert max(near_chance) < 0.12 and "accuracy below 12%" in text
    assert min(accuracy["SGD"][lr] for lr in (0.3, 1.0)) > 0.9 and accuracy["momentum"][0.3] > 0.9  # the others train
    # momentum at lr and plain SGD at 10 lr within a factor 1.5, for lr from 0.003 to 0.1
    for lr, ten_lr in ((0.003, 0.03), (0.01, 0.1), (0.03, 0.3), (0.1, 1.0)):
        assert 1 / 1.5 < momentum[lr] / sgd[ten_lr] < 1.5, lr
    assert not 1 / 1.5 < momentum[0.3] / sgd[3.0] < 1.5  # where the effective steps part
    assert (f"{sgd[1.0]:.3f}", f"{momentum[0.1]:.3f}") == ("0.238", "0.167") and "ends at 0.238" in text and "at 0.167" in text
    # momentum at 0.3 still trains where plain SGD at 3 fails; the curvature ratio (1 + beta) / (1 - beta)
    assert f"{momentum[0.3]:.3f}" == "0.328" and momentum[0.3] < 0.5 < math.log(10) < sgd[3.0]
    def heavy_ball_radius(step_times_curvature, beta=0.9):  # Chapter 2's iteration matrix, alpha * lambda given
        return max(abs(np.linalg.eigvals([[beta, 1.0], [-beta * step_times_curvature, 1 - step_times_curvature]])))

    assert heavy_ball_radius(2 * 1.9 - 1e-6) < 1 < heavy_ball_radius(2 * 1.9 + 1e-6)  # stable iff alpha lambda < 2 (1 + beta)
    assert round((2 * (1 + 0.9) / (1 - 0.9)) / 2, 9) == 19 and "= 19$ times larger" in text
    # Adam: 0.01 to 0.1 within a factor 1.5 of its best, the lowest loss of the sweep
    assert f"{adam[0.03]:.3f}" == "0.151" and adam[0.03] == min(min(v) for v in loss.values())
    assert all(adam[lr] < 1.5 * adam[0.03] for lr in (0.01, 0.03, 0.1)) and adam[0.003] > 1.5 * adam[0.03]
    default_adam = ns["learning_curves"](lambda params: ns["Adam"](params, lr=0.001))[0]
    assert f"{default_adam[-1]:.2f}" == "1.64" and "loss of 1.64 after 3 epochs" in text
    # the accuracies at the best rates
    best = [accuracy[name][ns["best_lr"][name]] for name in names]
    assert [f"{100 * a:.1f}%" for a in best] == ["95.5%", "95.0%", "96.1%"] and "(95.5%, 95.0% and 96.1%)" in text
    assert abs(min(best) - 0.95) < 0.001
    assert f"{100 / 357:.2f}" == "0.28" and "0.28" in text
    summary = text[text.index("## Summary"):]
    assert "1 for plain SGD, 0.1 for momentum" in summary and "0.03 for\n  Adam" in summary
    # the heavy ball's step under a constant gradient approaches lr/(1 - beta) * g = 0.1 * g
    w = Parameter(np.zeros(1))
    optimizer = ns["SGD"]([w], lr=0.01, momentum=0.9)
    for _ in range(300):
        before = w.data.copy()
        w.grad = np.ones(1)
        optimizer.step()
    assert abs((before - w.data)[0] - 0.1) < 1e-12
    # one epoch at a time is the same computation as one call (optimizer and scheduler keep their state)
    for scheduler_class in (None, ns["StepLR"]):
        histories = []
        for calls in ((5,), (1, 1, 1, 1, 1)):
            model = ns["make_model"](0)
            optimizer = ns["Adam"](model.parameters(), lr=0.01)
            scheduler = scheduler_class(optimizer, step_size=2) if scheduler_class else None
            loader = DataLoader(ns["x_train"], ns["y_train"], batch_size=32, shuffle=True, seed=0)
            losses = []
            for epochs in calls:
                losses += ns["train"](model, loader, optimizer, scheduler, epochs)["loss"]
            histories.append(losses)
        assert histories[0] == histories[1]


def test_the_sweep_figure_has_its_legends_clear_of_the_data_and_the_results_in_a_table(ns, reference):
    import matplotlib.pyplot as plt

    source = CHAPTER.cell_source(FIGURE)
    assert "display(Table(" in source and "print(" not in source  # printed rows were cut off in the book
    assert "----" in reference.outcomes[FIGURE].output  # the text form of the table
    # the figure only, from the sweep already run (the lines that train are left out)
    drawing = source[source.index("final_loss = "):]
    fig, _ = figures.draw_cell(drawing, ns, FIGURE)
    try:
        (legend,) = fig.legends
        box = legend.get_window_extent()
        assert len(fig.axes) == 4 and [t.get_text() for t in legend.get_texts()] == ["SGD", "momentum", "Adam"]
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), "the shared legend covers a panel"
        *sweep_panels, best_panel = fig.axes
        assert all(ax.get_legend() is None for ax in sweep_panels)
        assert figures.lines_under(best_panel.get_legend().get_window_extent(), best_panel) == []
        assert [t.get_text() for t in best_panel.get_legend().get_texts()] == ["SGD, lr 1", "momentum, lr 0.1", "Adam, lr 0.03"]
    finally:
        plt.close("all")


def test_the_sweeps_cost_is_bounded():
    """The book executes this notebook: the sweep stays at 21 runs of 3 epochs, 63 epochs in all."""
    source = CHAPTER.cell_source(FIGURE)
    assert "SWEEP_EPOCHS = 3" in source and "SWEEP_LRS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]" in source
    assert source.count("learning_curves(") == 2  # the definition and the one call per (optimizer, rate)
