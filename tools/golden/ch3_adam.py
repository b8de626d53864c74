"""Golden expectations for Chapter 3 (Adam and the adaptive methods), from ``torch.optim`` and closed forms.

Every check of ``source/ch3_adam/adam.ipynb`` is a :class:`~tools.golden.table.Check` of :func:`checks`:
what a piece of code answers (the problem of :mod:`autograder.problems.adam` it runs, see :func:`on_solution`),
its tolerance and its general hint. The expected value is that answer from ``torch.optim.Adam``,
``AdamW``, ``RMSprop`` and ``Adagrad`` run through the torch backend (:func:`torch_check`), or a closed form
of the chapter (constant gradient, eps = 0, 10 lr for RMSprop's first step, lr/sqrt(t) for Adagrad, the
worst case), checked against torch here as it is recorded.

The variants are the answers of the reference solution with one common mistake of
:mod:`autograder.mistakes.ch3_adam` made, each with that mistake's hint: usually every mistake that
loses the check's test cell (:func:`~tools.golden.table.losing`), including those that crash (their
``"error: TypeError"`` or ``"error: ValueError"`` is what such a student records). On the 4-parameter
grids only the "sentinel" entries carry variants: the grid's first entry, where every mistake of the cell
shows (on AdamW's, only the mistakes made in AdamW itself), and the AMSGrad entry for the AMSGrad mistakes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch

from autograder.compare import first_mismatch
from autograder.mistakes.ch3_adam import CATALOGUE, HINT_ZERO_FOR_MISSING_GRAD
from autograder.problems import adam as problems
from autograder.problems.backends import SLOPEGRAD, Backend

from . import table
from .table import NOBODY, Check, Choice, Namespace, losing, made_in, named
from .torch_backend import TorchBackend

ASSIGNMENT = "ch3_adam"


class TorchWithGradients(TorchBackend):
    """The torch backend, plus the gradients that :func:`problems.replay` assigns by hand."""

    def gradient(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(array, dtype=np.float64))


TORCH = TorchWithGradients()


@dataclass(frozen=True)
class Code:
    """The optimizers a check runs (``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``adam_update``) and their backend."""

    classes: Mapping[str, Any]
    backend: Backend

    def __getitem__(self, name: str) -> Any:
        return self.classes[name]


TORCH_CODE = Code({"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "RMSprop": torch.optim.RMSprop,
                   "Adagrad": torch.optim.Adagrad}, TORCH)

Answer = Callable[[Code], Any]  # what a check's test cell computes, from the code it runs


def on_solution(answer: Answer) -> Callable[[Namespace], Any]:
    """``answer`` from a solution's namespace (the reference's, or one with a mistake made), on slopegrad as students run it."""
    return lambda solution: answer(Code(solution, SLOPEGRAD))


def torch_check(name: str, answer: Answer, hint: str, mistakes: Choice) -> Check:
    """A check whose expected value is ``answer`` from ``torch.optim`` (where the chapter gives no closed form)."""
    return Check(name, on_solution(answer), lambda: answer(TORCH_CODE), hint, mistakes)


AMSGRAD_MISTAKES = named("amsgrad_max_of_v_hat", "amsgrad_buffer_never_updated", "amsgrad_ignored")

# ---- the general hints --------------------------------------------------------------------------

GENERAL = {
    "adam": "theta <- theta - lr * m_hat / (sqrt(v_hat) + eps) with L2 decay g <- g + wd * theta first; see adam_update's docstring.",
    "adamw": (
        "AdamW: theta <- theta * (1 - lr * wd), then the Adam step (adam_update) with the raw gradient. If Adam's "
        "checks fail too, the mistake is in adam_update, which AdamW shares: fix it there first (Adam's "
        "failing checks name it)."
    ),
    "rmsprop": "RMSprop: v <- alpha v + (1 - alpha) g**2, theta <- theta - lr g / (sqrt(v) + eps), L2 decay first.",
    "adagrad": "Adagrad: s <- s + g**2, theta <- theta - lr g / (sqrt(s) + eps), L2 decay first.",
}
HINT_OWN_BUFFERS = (
    "Several parameters share the same moment buffers (the same array objects). Create them per "
    "parameter, on its first update: state['exp_avg'] = np.zeros_like(p.data), and so on."
)


# ---- the checks ---------------------------------------------------------------------------------


def _close(a: Any, b: Any, what: str, rtol: float = 1e-12, atol: float = 1e-12) -> Any:
    """``a`` (a closed form), after checking that torch's ``b`` agrees with it."""
    found = first_mismatch(a, b, rtol, atol)
    if found is not None:
        raise AssertionError(f"{what}: the closed form and torch disagree: {found}")
    return a


def largest_step_over_lr(t: int, beta1: float = 0.9, beta2: float = 0.999) -> float:
    """The largest |step| / lr of Adam's t-th update over all gradient sequences (eps = 0), by Cauchy-Schwarz::

        (1 - b1)/(1 - b1^t) * sqrt((1 - b2^t)/(1 - b2) * sum_{k<t} (b1^2/b2)^k)
    """
    total = sum((beta1**2 / beta2) ** k for k in range(t))
    return (1 - beta1) / (1 - beta1**t) * math.sqrt((1 - beta2**t) / (1 - beta2) * total)


def _update_function_checks() -> list[Check]:
    options = problems.VISIBLE_UPDATE_OPTIONS
    torch_options = {"lr": options["lr"], "betas": (options["beta1"], options["beta2"]), "eps": options["eps"]}

    def run(code: Code) -> dict:
        return problems.update_function_run(code["adam_update"], options)

    cell = "test_adam_update_visible"
    return [
        Check("adam_update_path", on_solution(lambda c: run(c)["path"]),
              lambda: problems.replay(lambda ps: torch.optim.Adam(ps, **torch_options),
                                      problems.VISIBLE_GRADIENTS, problems.VISIBLE_START, TORCH),
              GENERAL["adam"], losing(cell)),
        Check("adam_update_state", on_solution(lambda c: {"keys": run(c)["state_keys"], "step": run(c)["step"]}),
              lambda: {"keys": ["exp_avg", "exp_avg_sq", "step"], "step": float(len(problems.VISIBLE_GRADIENTS))},
              "the state holds 'step' (the number of updates so far), 'exp_avg' and 'exp_avg_sq' (plus "
              "'max_exp_avg_sq' only with amsgrad).", losing(cell)),
    ]


VISIBLE = {"adam": ("Adam", problems.VISIBLE_ADAM), "adamw": ("AdamW", problems.VISIBLE_ADAMW),
           "rmsprop": ("RMSprop", problems.VISIBLE_RMSPROP), "adagrad": ("Adagrad", problems.VISIBLE_ADAGRAD)}


def _visible_checks() -> list[Check]:
    checks = []
    for key, (optimizer, options) in VISIBLE.items():
        def run(code: Code, optimizer=optimizer, options=options) -> dict:
            return problems.visible_run(code[optimizer], options, code.backend)

        def no_state_for_unused(key=key, run=run) -> dict:
            reference = run(TORCH_CODE)
            # torch's Adagrad creates its state eagerly in __init__; ours is lazy, as the other optimizers'.
            assert (reference["unused_state"] != problems.NO_STATE) == (key == "adagrad")
            return {"unused": reference["unused"], "unused_state": problems.NO_STATE}

        cell = f"test_{key}_visible"
        checks += [
            torch_check(f"{key}_visible_path", lambda c, run=run: run(c)["path"], GENERAL[key], losing(cell)),
            Check(f"{key}_skips_missing_grad",
                  on_solution(lambda c, run=run: {"unused": run(c)["unused"], "unused_state": run(c)["unused_state"]}),
                  no_state_for_unused, HINT_ZERO_FOR_MISSING_GRAD, losing(cell)),
        ]
        if key == "adam":
            counted = float(len(problems.VISIBLE_GRADIENTS))
            assert run(TORCH_CODE)["steps_counted"] == counted
            checks.append(Check("adam_visible_steps_counted", on_solution(lambda c, run=run: run(c)["steps_counted"]),
                                lambda: counted, "state['step'] counts the updates: 3 after 3 steps.", losing(cell)))
    return checks


def _grid_checks(key: str, optimizer: str, grid: list[dict], sentinels: dict[str, Choice]) -> list[Check]:
    """One check per grid entry; only the ``sentinels`` carry variants."""
    checks = []
    for options in grid:
        entry = problems.label(options)
        checks.append(torch_check(
            problems.check_name(key, options),
            lambda c, o=options, e=entry: problems.grid_paths(c[optimizer], [o], backend=c.backend)[e],
            GENERAL[key], sentinels.get(entry, NOBODY),
        ))
    return checks


def _twin_checks(prefix: str, optimizer: str, options: dict, cell: str, with_path: bool) -> list[Check]:
    def run(code: Code) -> dict:
        return problems.twin_run(code[optimizer], options, backend=code.backend)

    checks = [torch_check(f"{prefix}twin_buffers", lambda c: run(c)["buffers"], HINT_OWN_BUFFERS, losing(cell))]
    if with_path:
        checks.append(torch_check(f"{prefix}twin_path", lambda c: run(c)["path"], GENERAL["adam"], losing(cell)))
    return checks


def _adam_state_checks() -> list[Check]:
    cell = "test_adam_state_hidden"

    def first_state(options: dict) -> Answer:
        return lambda c: problems.state_after_first_step(c["Adam"], options, c.backend)

    def reference_state(options: dict) -> Callable[[], Any]:
        def expected():
            state = first_state(options)(TORCH_CODE)
            assert all(state[p]["step"] == 1.0 for p in ("p0", "p1", "p2")) and state["p3"] == problems.NO_STATE
            return state
        return expected

    def sizes(code: Code) -> dict:
        return {"adam": problems.state_size(code["Adam"], problems.STATE_OPTIONS, code.backend),
                "amsgrad": problems.state_size(code["Adam"], problems.AMSGRAD_STATE_OPTIONS, code.backend)}

    def expected_sizes() -> dict:
        closed = {"adam": 2 * 10, "amsgrad": 3 * 10}
        assert sizes(TORCH_CODE) == closed
        return closed

    first = ("after the first update each parameter with a gradient has step = 1, exp_avg = (1 - beta1) g, "
             "exp_avg_sq = (1 - beta2) g**2 (and max_exp_avg_sq = exp_avg_sq with amsgrad); the parameter "
             "without a gradient has no state.")
    return [
        Check("adam_state", on_solution(first_state(problems.STATE_OPTIONS)),
              reference_state(problems.STATE_OPTIONS), first, losing(cell)),
        Check("amsgrad_state", on_solution(first_state(problems.AMSGRAD_STATE_OPTIONS)),
              reference_state(problems.AMSGRAD_STATE_OPTIONS), first, losing(cell)),
        Check("state_size", on_solution(sizes), expected_sizes,
              "Adam keeps two numbers per parameter entry (m and v): 2P; AMSGrad three (m, v, v_max): 3P. "
              "Create max_exp_avg_sq only when amsgrad is on.", losing(cell)),
        *_twin_checks("", "Adam", problems.TWIN_OPTIONS, cell, with_path=True),
    ]


def _constant_gradient(optimizer: str, options: dict) -> Answer:
    return lambda c: problems.constant_gradient_steps(c[optimizer], options, backend=c.backend)


def _adam_constant_gradient() -> np.ndarray:
    options, g = problems.CONSTANT_OPTIONS, problems.CONSTANT_GRADIENT
    closed = np.broadcast_to(-options["lr"] * g / (np.abs(g) + 1e-8), (problems.CONSTANT_STEPS, *g.shape)).copy()
    return _close(closed, _constant_gradient("Adam", options)(TORCH_CODE), "Adam, constant gradient")


def _first_step_eps0(code: Code) -> Any:
    return problems.first_step(code["Adam"], problems.EPS0_OPTIONS, code.backend)


def _spike(code: Code) -> Any:
    return problems.spike_after_quiet(code["Adam"], problems.SPIKE_OPTIONS, backend=code.backend)


def _spike_closed() -> np.ndarray:
    b1, b2, t, spike = 0.9, 0.999, problems.QUIET_STEPS + 1, problems.SPIKE
    closed = -(1 - b1) * spike / (1 - b1**t) / (np.sqrt((1 - b2) * spike**2 / (1 - b2**t)) + 1e-8)
    return _close(closed, _spike(TORCH_CODE), "the spike after a quiet stretch", rtol=1e-9)


def _quiet(code: Code) -> Any:
    return problems.quiet_then_constant_steps(code["Adam"], backend=code.backend)


def _quiet_closed() -> dict:
    quiet = _quiet(TORCH_CODE)
    for options in problems.QUIET_THEN_CONSTANT_OPTIONS:
        b1, b2 = options.get("betas", (0.9, 0.999))
        k = np.arange(1, problems.ACTIVE_STEPS + 1)
        t = problems.QUIET_STEPS + k
        eps_over_g = 1e-8 / problems.QUIET_THEN_CONSTANT
        closed = (1 - b1**k) / (1 - b1**t) / (np.sqrt((1 - b2**k) / (1 - b2**t)) + eps_over_g)
        _close(closed, quiet[problems.label(options)], f"a constant gradient after a quiet stretch, {options}", rtol=1e-9)
    return quiet


def _worst(code: Code) -> Any:
    return problems.worst_case_steps(code["Adam"], code.backend)


def _worst_closed() -> dict:
    closed = {f"t={n}": largest_step_over_lr(n) for n in problems.WORST_CASE_LENGTHS}
    return _close(closed, _worst(TORCH_CODE), "the worst-case gradients", rtol=1e-9)


FACTS = "test_adam_facts_hidden"
ADAM_FACT_CHECKS = [
    Check("constant_gradient", on_solution(_constant_gradient("Adam", problems.CONSTANT_OPTIONS)), _adam_constant_gradient,
          "with a constant gradient g, m_hat = g and v_hat = g**2 exactly, so every step is -lr * g / (|g| + eps).",
          losing(FACTS)),
    Check("first_step_eps0", on_solution(_first_step_eps0),
          lambda: _close(-problems.EPS0_OPTIONS["lr"] * np.sign(problems.FIRST_STEP_GRADIENT),
                         _first_step_eps0(TORCH_CODE), "Adam's first step, eps = 0"),
          "with eps = 0 the first step is -lr * sign(g) in every entry, whatever the gradient's size.", losing(FACTS)),
    Check("spike_after_quiet", on_solution(_spike), _spike_closed,
          "after 10000 zero gradients the bias corrections have faded, so a sudden gradient g moves theta by "
          "about lr (1 - beta1)/sqrt(1 - beta2) = 3.16 lr: the uncorrected first step.",
          losing(FACTS), rtol=1e-9),
    Check("quiet_then_constant", on_solution(_quiet), _quiet_closed,
          "after 10000 zero gradients the moments are zero but the bias corrections have faded, so the k-th step of a "
          "constant gradient is about lr (1 - beta1**k)/sqrt(1 - beta2**k): 3.16, 4.25, 4.95, ... lr, up to 6.57 lr "
          "at k = 12 for the default betas; 1, 1.35, 1.57, ... up to 2.13 lr for betas (0.9, 0.99).",
          losing(FACTS), rtol=1e-9),
    Check("worst_case_steps", on_solution(_worst), _worst_closed,
          "gradients growing by beta2/beta1 at every step make the t-th step as large as Cauchy-Schwarz allows: "
          "lr (1 - beta1)/(1 - beta1**t) sqrt((1 - beta2**t)/(1 - beta2) sum_{k<t} (beta1**2/beta2)**k), "
          "lr at t = 1 and 7.27 lr for large t.",
          losing(FACTS), rtol=1e-9),
]


def _decay_demo(code: Code) -> dict:
    return {"adam_l2": problems.decay_demo(code["Adam"], backend=code.backend),
            "adamw": problems.decay_demo(code["AdamW"], backend=code.backend)}


def _rmsprop_checks() -> list[Check]:
    cell, options = "test_rmsprop_hidden", problems.RMSPROP_STATE_OPTIONS

    def first_step(code: Code) -> Any:
        return problems.first_step_over_lr(code["RMSprop"], problems.RMSPROP_EPS0_OPTIONS, code.backend)

    closed = -np.sign(problems.FIRST_STEP_GRADIENT) / math.sqrt(1 - 0.99)  # the first step over lr: 10
    return [
        torch_check("rmsprop_state", lambda c: problems.state_after_first_step(c["RMSprop"], options, c.backend),
                    "RMSprop's state: 'step' (1 after the first update) and 'square_avg' = (1 - alpha) g**2.",
                    losing(cell)),
        Check("rmsprop_first_step", on_solution(first_step),
              lambda: _close(closed, first_step(TORCH_CODE), "RMSprop's first step"),
              "RMSprop's first step is lr g / sqrt((1 - alpha) g**2) = lr / sqrt(1 - alpha) = 10 lr per entry (eps = 0).",
              losing(cell)),
        *_twin_checks("rmsprop_", "RMSprop", options, cell, with_path=False),
    ]


def _adagrad_checks() -> list[Check]:
    cell, options = "test_adagrad_hidden", problems.ADAGRAD_STATE_OPTIONS

    def state(code: Code) -> Any:
        return problems.state_after_first_step(code["Adagrad"], options, code.backend, include_missing=False)

    def reference_state() -> Any:
        expected = state(TORCH_CODE)
        expected.pop("p3")  # torch's Adagrad creates state for every parameter in __init__: not compared
        return expected

    constant = problems.ADAGRAD_CONSTANT_OPTIONS
    g = problems.CONSTANT_GRADIENT
    t = np.arange(1, problems.CONSTANT_STEPS + 1).reshape(-1, 1, 1)
    closed = -constant["lr"] * g / (np.sqrt(t) * np.abs(g) + constant["eps"])
    return [
        Check("adagrad_state", on_solution(state), reference_state,
              "Adagrad's state: 'step' (1 after the first update) and 'sum' = g**2.", losing(cell)),
        Check("adagrad_constant_gradient", on_solution(_constant_gradient("Adagrad", constant)),
              lambda: _close(closed, _constant_gradient("Adagrad", constant)(TORCH_CODE), "Adagrad, constant gradient"),
              "with a constant gradient g, s = t g**2 after t steps, so the t-th step is -lr g / (sqrt(t) |g| + eps).",
              losing(cell)),
        *_twin_checks("adagrad_", "Adagrad", options, cell, with_path=False),
    ]


def checks() -> list[Check]:
    """Every check of the notebook, in the notebook's order."""
    label = problems.label
    return [
        *_visible_checks(),
        *_grid_checks("rmsprop", "RMSprop", problems.RMSPROP_GRID,
                      {label(problems.RMSPROP_SENTINEL): losing("test_rmsprop_hidden")}),
        *_rmsprop_checks(),
        *_grid_checks("adagrad", "Adagrad", problems.ADAGRAD_GRID,
                      {label(problems.ADAGRAD_SENTINEL): losing("test_adagrad_hidden")}),
        *_adagrad_checks(),
        *_update_function_checks(),
        # a mistake of the cell shows on the first entry; the AMSGrad ones only on the AMSGrad entry
        *_grid_checks("adam", "Adam", problems.ADAM_GRID, {label(problems.ADAM_SENTINEL): losing("test_adam_hidden"),
                                                           label(problems.AMSGRAD_SENTINEL): AMSGRAD_MISTAKES}),
        *_adam_state_checks(),
        *ADAM_FACT_CHECKS,
        # AdamW's own mistakes on the 100-step grid; adam_update's (they fail Adam's checks with their hints
        # already) on the smaller decay demonstration, to keep the file small
        *_grid_checks("adamw", "AdamW", problems.ADAMW_GRID, {label(problems.ADAMW_SENTINEL): made_in("adamw"),
                                                              label(problems.ADAMW_AMSGRAD): AMSGRAD_MISTAKES}),
        torch_check("decay_demo", _decay_demo,
                    "Adam: g <- g + wd theta before the moments; AdamW: theta <- theta (1 - lr wd) before the Adam step.",
                    losing("test_adamw_hidden")),
    ]


def record() -> dict[str, dict]:
    """The golden entries of every check, recorded in float64 (torch's default dtype is restored after)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return table.record(CATALOGUE, checks())
    finally:
        torch.set_default_dtype(previous)
