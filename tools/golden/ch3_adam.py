"""Golden expectations for Chapter 3 (Adam and the adaptive methods), from ``torch.optim`` and closed forms.

Every check of ``source/ch3_adam/adam.ipynb`` has an entry here. Trajectories come from running
``torch.optim.Adam``, ``AdamW``, ``RMSprop`` and ``Adagrad`` through the torch backend on exactly
the problems of :mod:`autograder.problems.adaptive`; the chapter's facts (constant gradient,
eps = 0, 10 lr for RMSprop's first step, lr/sqrt(t) for Adagrad) come from their closed forms,
checked against torch here as they are recorded.

The variants are the same problems run through :class:`WrongAdam`, :class:`WrongRMSprop`,
:class:`WrongAdagrad` and :func:`wrong_adam_update`, each with one common mistake switched on,
plus the crashes a mistake causes (``"error: TypeError"`` from a gradient that is ``None``,
``"error: ValueError"`` from one buffer shared by parameters of different shapes). A variant is
attached to a check only where it differs from the expected value, and, on the 4-parameter
grids, only to the grid's first ("sentinel") entry, where every mistake shows.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any, Callable

import numpy as np
import torch

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL, first_mismatch
from autograder.problems import adaptive as problems
from slopegrad.optim import Optimizer, resolve_betas, resolve_lr

from .store import spec
from .torch_backend import TorchBackend

ASSIGNMENT = "ch3_adam"


def name(check: str) -> str:
    return f"{ASSIGNMENT}.{check}"


class TorchWithGradients(TorchBackend):
    """The torch backend, plus the gradients that :func:`problems.replay` assigns by hand."""

    def gradient(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(array, dtype=np.float64))


TORCH = TorchWithGradients()

# ---- the common mistakes ------------------------------------------------------------------------

STEP_FROM_ZERO = "step_from_zero"
STEP_NEVER_INCREMENTED = "step_never_incremented"
STEP_FROM_ONE = "step_from_one"
EPS_IN_SQRT = "eps_in_sqrt"
NO_BIAS_CORRECTION = "no_bias_correction"
AMSGRAD_IGNORED = "amsgrad_ignored"
AMSGRAD_UNUSED = "amsgrad_unused"
AMSGRAD_MAX_OF_V_HAT = "amsgrad_max_of_v_hat"
ZERO_FOR_MISSING_GRAD = "zero_for_missing_grad"
SHARED_STATE = "shared_state"
SHARED_BUFFERS = "shared_buffers"
DECOUPLED_IN_ADAM = "decoupled_in_adam"
L2_IN_ADAMW = "l2_in_adamw"
DECAY_AFTER_STEP = "decay_after_step"
DECAY_WITHOUT_LR = "decay_without_lr"
NOT_IN_PLACE = "not_in_place"
RMSPROP_BIAS_CORRECTED = "rmsprop_bias_corrected"
CRASH_ON_MISSING_GRAD = "crash_on_missing_grad"
CRASH_ON_SHAPES = "crash_on_shapes"

HINTS = {
    STEP_FROM_ZERO: (
        "The bias correction used t = 0 on the first update: 1 - beta**0 = 0, a division by zero, and "
        "every value became nan. The step counter counts updates from 1: increment state['step'] FIRST, "
        "then compute 1 - beta1**t and 1 - beta2**t with the new value."
    ),
    STEP_NEVER_INCREMENTED: (
        "state['step'] must count the updates made so far: 1 after the first update, t after the t-th "
        "(as in torch.optim). Yours stays at 0, so the bias corrections never fade: start it at 0 and "
        "increment it at the start of every update, then use it."
    ),
    STEP_FROM_ONE: (
        "state['step'] is one ahead: it must be 1 after the first update (create it as 0, then increment "
        "it before using it), so that the first bias corrections are 1 - beta1 and 1 - beta2."
    ),
    EPS_IN_SQRT: (
        "eps looks added inside the square root, sqrt(v_hat + eps). Adam adds it outside, after the bias "
        "correction: lr * m_hat / (sqrt(v_hat) + eps) (Algorithm 1 of Kingma & Ba, and torch.optim). "
        "The same holds for RMSprop (sqrt(v) + eps) and Adagrad (sqrt(s) + eps)."
    ),
    NO_BIAS_CORRECTION: (
        "The steps look uncorrected: m and v start at 0, so early on they are too small by the factors "
        "1 - beta1**t and 1 - beta2**t. Divide before using them: m_hat = m / (1 - beta1**t), "
        "v_hat = v / (1 - beta2**t). Without it the first step is 3.16 lr instead of lr."
    ),
    AMSGRAD_IGNORED: (
        "With amsgrad=True the denominator must use the running maximum of v: keep "
        "state['max_exp_avg_sq'] = max(max_exp_avg_sq, v) (np.maximum), and use it in place of v."
    ),
    AMSGRAD_UNUSED: (
        "With amsgrad=True, state['max_exp_avg_sq'] must be updated at every step, "
        "max_exp_avg_sq = max(max_exp_avg_sq, v) (np.maximum(a, b, out=a)), and used in place of v in the "
        "denominator: v_hat = max_exp_avg_sq / (1 - beta2**t)."
    ),
    AMSGRAD_MAX_OF_V_HAT: (
        "AMSGrad (as in torch.optim) takes the maximum of the raw second moment v, "
        "max_exp_avg_sq = max(max_exp_avg_sq, v), and bias-corrects that maximum with the current t: "
        "v_hat = max_exp_avg_sq / (1 - beta2**t). Yours keeps the maximum of the corrected v_hat."
    ),
    ZERO_FOR_MISSING_GRAD: (
        "A parameter whose grad is None was updated or given state. Skip it (`if p.grad is None: continue`) "
        "before anything else: no gradient means no weight decay, no moments and no step for it."
    ),
    CRASH_ON_MISSING_GRAD: (
        "Your step crashed with a TypeError, most likely on a parameter whose .grad is None (a parameter "
        "the loss does not use; zero_grad() also sets grads to None). Skip such parameters: "
        "`if p.grad is None: continue`."
    ),
    CRASH_ON_SHAPES: (
        "Your step crashed with a ValueError on parameters of different shapes ((), (3,), (2, 3)). That is "
        "what happens when one buffer is shared by several parameters: give every parameter its own state, "
        "self.state.setdefault(p, {}) keyed by the parameter, with buffers np.zeros_like(p.data)."
    ),
    SHARED_STATE: (
        "Several parameters share one state (or the state is not in self.state): each parameter needs its "
        "own step counter and its own buffers, in self.state[p] (self.state.setdefault(p, {}), keyed by the "
        "parameter object p), created on its first update; not in attributes of the optimizer, not in one "
        "dict for all parameters."
    ),
    SHARED_BUFFERS: (
        "Several parameters share the same moment buffers (the same array objects). Create them per "
        "parameter, on its first update: state['exp_avg'] = np.zeros_like(p.data), and so on."
    ),
    DECOUPLED_IN_ADAM: (
        "Adam's weight_decay is the L2 penalty: add weight_decay * theta to the gradient BEFORE the moments "
        "(g = g + wd * theta). Shrinking theta directly is AdamW's decoupled decay."
    ),
    L2_IN_ADAMW: (
        "AdamW does not add weight_decay * theta to the gradient (that is Adam's L2 penalty). It shrinks "
        "the parameter directly, theta <- theta * (1 - lr * weight_decay), and then takes the plain Adam step "
        "with the raw gradient."
    ),
    DECAY_AFTER_STEP: (
        "AdamW's decay comes FIRST: theta <- theta * (1 - lr * weight_decay), then the Adam step. Decaying "
        "after the step shrinks the step too."
    ),
    DECAY_WITHOUT_LR: (
        "AdamW's decay is scaled by the learning rate: theta <- theta * (1 - lr * weight_decay), not "
        "theta * (1 - weight_decay) (torch.optim.AdamW multiplies by lr)."
    ),
    NOT_IN_PLACE: (
        "The array was not changed: `param = param - ...` makes a new local array and the caller never sees "
        "it. Update in place: `param -= lr * m_hat / (np.sqrt(v_hat) + eps)`."
    ),
    RMSPROP_BIAS_CORRECTED: (
        "RMSprop has no bias correction (torch.optim.RMSprop neither): theta <- theta - lr * g / (sqrt(v) + eps) "
        "with v itself. That is why its first step is lr / sqrt(1 - alpha) = 10 lr for alpha = 0.99."
    ),
}

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


def _adam_rule(param, grad, state, *, lr, beta1, beta2, eps, amsgrad, mistake=None):
    """Adam's update on arrays with one mistake switched on (``mistake=None``: the correct rule)."""
    if not state:
        state["step"] = 1 if mistake == STEP_FROM_ONE else 0
        state["exp_avg"] = np.zeros_like(param)
        state["exp_avg_sq"] = np.zeros_like(param)
        if amsgrad and mistake != AMSGRAD_IGNORED:
            state["max_exp_avg_sq"] = np.zeros_like(param)  # AMSGRAD_UNUSED: created, never updated
    if mistake == STEP_FROM_ZERO:  # uses the counter, then increments it: t = 0 on the first update
        t = state["step"]
        state["step"] += 1
    elif mistake == STEP_NEVER_INCREMENTED:  # t = step + 1 = 1 for ever
        t = state["step"] + 1
    else:
        state["step"] += 1
        t = state["step"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    with np.errstate(divide="ignore", invalid="ignore"):
        c1 = 1.0 if mistake == NO_BIAS_CORRECTION else 1 - beta1**t
        c2 = 1.0 if mistake == NO_BIAS_CORRECTION else 1 - beta2**t
        m_hat = m / c1
        v_hat = v / c2
        if amsgrad and mistake not in (AMSGRAD_IGNORED, AMSGRAD_UNUSED):
            if mistake == AMSGRAD_MAX_OF_V_HAT:
                np.maximum(state["max_exp_avg_sq"], v_hat, out=state["max_exp_avg_sq"])
                v_hat = state["max_exp_avg_sq"]
            else:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v_hat = state["max_exp_avg_sq"] / c2
        denominator = np.sqrt(v_hat + eps) if mistake == EPS_IN_SQRT else np.sqrt(v_hat) + eps
        update = lr * m_hat / denominator
    if mistake == NOT_IN_PLACE:
        param = param - update  # the mistake: the caller's array is not changed
    else:
        param -= update


def wrong_adam_update(mistake: str) -> Callable[..., None]:
    """``adam_update`` with one mistake, with the signature students implement."""

    def update(param, grad, state, *, lr, beta1, beta2, eps, amsgrad=False):
        _adam_rule(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, amsgrad=amsgrad, mistake=mistake)

    return update


class WrongAdam(Optimizer):
    """Adam (``decoupled=False``) or AdamW (``decoupled=True``) with one common mistake switched on."""

    def __init__(self, params, lr=None, betas=None, eps=1e-8, weight_decay=None, amsgrad=False, *,
                 learning_rate=None, beta1=None, beta2=None, decoupled: bool = False, mistake: str | None = None):
        if mistake is not None and mistake not in HINTS:
            raise ValueError(f"unknown mistake {mistake!r}")
        self.mistake, self.decoupled = mistake, decoupled
        self._shared: dict[str, Any] = {}
        if weight_decay is None:
            weight_decay = 1e-2 if decoupled else 0.0
        super().__init__(params, dict(lr=resolve_lr(lr, learning_rate, default=1e-3),
                                      betas=resolve_betas(betas, beta1, beta2), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _state_for(self, p) -> dict:
        if self.mistake == SHARED_STATE:
            return self._shared
        return self.state.setdefault(p, {})

    def step(self, closure=None):
        mistake = self.mistake
        decoupled = self.decoupled != (mistake in (DECOUPLED_IN_ADAM, L2_IN_ADAMW))
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    if mistake != ZERO_FOR_MISSING_GRAD:
                        continue
                    grad = np.zeros_like(p.data)
                if wd != 0 and not decoupled:
                    grad = grad + wd * p.data
                if wd != 0 and decoupled and mistake != DECAY_AFTER_STEP:
                    p.data *= 1 - (1.0 if mistake == DECAY_WITHOUT_LR else lr) * wd
                options = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, amsgrad=group["amsgrad"])
                if mistake == SHARED_BUFFERS:
                    state = self.state.setdefault(p, {})
                    if not state:
                        if not self._shared:
                            self._shared.update(exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
                        state.update(step=0, exp_avg=self._shared["exp_avg"], exp_avg_sq=self._shared["exp_avg_sq"])
                    _adam_rule(p.data, grad, state, **options)
                else:
                    _adam_rule(p.data, grad, self._state_for(p), **options, mistake=mistake)
                if wd != 0 and decoupled and mistake == DECAY_AFTER_STEP:
                    p.data *= 1 - lr * wd


class WrongAdamW(WrongAdam):
    """AdamW (decoupled decay, default weight_decay 1e-2) with one common mistake switched on."""

    def __init__(self, params, **options):
        super().__init__(params, decoupled=True, **options)


class WrongRMSprop(Optimizer):
    """RMSprop with one common mistake switched on."""

    def __init__(self, params, lr=None, alpha=0.99, eps=1e-8, weight_decay=0.0, *, learning_rate=None, mistake: str):
        self.mistake = mistake
        self._shared: dict[str, Any] = {}
        super().__init__(params, dict(lr=resolve_lr(lr, learning_rate, default=1e-2), alpha=alpha, eps=eps,
                                      weight_decay=weight_decay))

    def step(self, closure=None):
        for group in self.param_groups:
            lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    if self.mistake != ZERO_FOR_MISSING_GRAD:
                        continue
                    grad = np.zeros_like(p.data)
                if wd != 0:
                    grad = grad + wd * p.data
                state = self._shared if self.mistake == SHARED_STATE else self.state.setdefault(p, {})
                if not state:
                    state.update(step=0, square_avg=np.zeros_like(p.data))
                state["step"] += 1
                v = state["square_avg"]
                v *= alpha
                v += (1 - alpha) * grad * grad
                v_used = v / (1 - alpha ** state["step"]) if self.mistake == RMSPROP_BIAS_CORRECTED else v
                denominator = np.sqrt(v_used + eps) if self.mistake == EPS_IN_SQRT else np.sqrt(v_used) + eps
                p.data -= lr * grad / denominator


class WrongAdagrad(Optimizer):
    """Adagrad with one common mistake switched on."""

    def __init__(self, params, lr=None, eps=1e-10, weight_decay=0.0, *, learning_rate=None, mistake: str):
        self.mistake = mistake
        self._shared: dict[str, Any] = {}
        super().__init__(params, dict(lr=resolve_lr(lr, learning_rate, default=1e-2), eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    if self.mistake != ZERO_FOR_MISSING_GRAD:
                        continue
                    grad = np.zeros_like(p.data)
                if wd != 0:
                    grad = grad + wd * p.data
                state = self._shared if self.mistake == SHARED_STATE else self.state.setdefault(p, {})
                if not state:
                    state.update(step=0, sum=np.zeros_like(p.data))
                state["step"] += 1
                state["sum"] += grad * grad
                s = state["sum"]
                denominator = np.sqrt(s + eps) if self.mistake == EPS_IN_SQRT else np.sqrt(s) + eps
                p.data -= lr * grad / denominator


def _wrong(cls: type, mistake: str) -> Callable[..., Any]:
    def make(params, **options):
        return cls(params, mistake=mistake, **options)

    return make


STEP_MISTAKES = (STEP_FROM_ZERO, STEP_NEVER_INCREMENTED, STEP_FROM_ONE)
ADAM_CORE_MISTAKES = (*STEP_MISTAKES, EPS_IN_SQRT, NO_BIAS_CORRECTION, NOT_IN_PLACE)
AMSGRAD_MISTAKES = (AMSGRAD_IGNORED, AMSGRAD_UNUSED, AMSGRAD_MAX_OF_V_HAT)
ADAMW_MISTAKES = (DECAY_AFTER_STEP, DECAY_WITHOUT_LR, L2_IN_ADAMW, ZERO_FOR_MISSING_GRAD, *ADAM_CORE_MISTAKES)
# on the 100-step grid, only AdamW's own mistakes (and the cheap all-nan one), to keep the file small:
# the other core mistakes have failed Adam's checks (with their hints) already
ADAMW_SENTINEL_MISTAKES = (DECAY_AFTER_STEP, DECAY_WITHOUT_LR, L2_IN_ADAMW, ZERO_FOR_MISSING_GRAD, STEP_FROM_ZERO)
RMSPROP_MISTAKES = (EPS_IN_SQRT, RMSPROP_BIAS_CORRECTED, ZERO_FOR_MISSING_GRAD, SHARED_STATE)
ADAGRAD_MISTAKES = (EPS_IN_SQRT, ZERO_FOR_MISSING_GRAD, SHARED_STATE)
CRASHES = (
    (HINTS[CRASH_ON_MISSING_GRAD], problems.ERROR_PREFIX + "TypeError"),
    (HINTS[CRASH_ON_SHAPES], problems.ERROR_PREFIX + "ValueError"),
)


def _variants(expected: Any, candidates: list[tuple[str, Any]], rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL) -> list[tuple[str, Any]]:
    """Keep the (hint, wrong value) pairs that differ from ``expected`` and from each other."""
    kept: list[tuple[str, Any]] = []
    for hint, value in candidates:
        if first_mismatch(value, expected, rtol, atol) is None:
            continue
        if any(first_mismatch(value, other, rtol, atol) is None for _, other in kept):
            continue
        kept.append((hint, value))
    return kept


def _checked(expected: Any, compute: Callable[[Any], Any], wrong: list[tuple[str, Any]], general: str,
             crashes: bool = False, **tolerances: float) -> dict:
    """A spec whose variants are ``compute`` run on each wrong optimizer of ``wrong``."""
    candidates = [(hint, compute(make)) for hint, make in wrong]
    if crashes:
        candidates += list(CRASHES)
    return spec(expected, hint=general, variants=_variants(expected, candidates, **tolerances), **tolerances)


def _close(a: Any, b: Any, what: str, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    found = first_mismatch(a, b, rtol, atol)
    if found is not None:
        raise AssertionError(f"{what}: the closed form and torch disagree: {found}")


# ---- the checks -----------------------------------------------------------------------------------


def largest_step_over_lr(t: int, beta1: float = 0.9, beta2: float = 0.999) -> float:
    """The largest |step| / lr of Adam's t-th update over all gradient sequences (eps = 0), by Cauchy-Schwarz::

        (1 - b1)/(1 - b1^t) * sqrt((1 - b2^t)/(1 - b2) * sum_{k<t} (b1^2/b2)^k)
    """
    total = sum((beta1**2 / beta2) ** k for k in range(t))
    return (1 - beta1) / (1 - beta1**t) * math.sqrt((1 - beta2**t) / (1 - beta2) * total)


def _adam_wrong(mistakes, cls: type = WrongAdam) -> list[tuple[str, Any]]:
    return [(HINTS[m], _wrong(cls, m)) for m in mistakes]


def _grid_checks(key: str, grid: list[dict], torch_class: type, sentinels: dict[str, list[tuple[str, Any]]]) -> dict[str, dict]:
    """One check per grid entry; the sentinel entries carry the variants (and the crashes)."""
    expected = problems.grid_paths(torch_class, grid, backend=TORCH)
    checks = {}
    for options in grid:
        entry = problems.label(options)
        variants: list[tuple[str, Any]] = []
        if entry in sentinels:
            candidates = [(hint, problems.grid_paths(make, [options])[entry]) for hint, make in sentinels[entry]]
            variants = _variants(expected[entry], candidates + list(CRASHES))
        checks[problems.check_name(key, options)] = spec(expected[entry], hint=GENERAL[key], variants=variants)
    return checks


def _update_function_checks() -> dict[str, dict]:
    options = problems.VISIBLE_UPDATE_OPTIONS
    torch_options = {"lr": options["lr"], "betas": (options["beta1"], options["beta2"]), "eps": options["eps"]}
    path = problems.replay(lambda ps: torch.optim.Adam(ps, **torch_options), problems.VISIBLE_GRADIENTS,
                           problems.VISIBLE_START, TORCH)
    runs = [(HINTS[m], problems.update_function_run(wrong_adam_update(m), options))
            for m in ADAM_CORE_MISTAKES]
    summary = {"keys": ["exp_avg", "exp_avg_sq", "step"], "step": float(len(problems.VISIBLE_GRADIENTS))}
    return {
        "adam_update_path": spec(path, hint=GENERAL["adam"], variants=_variants(path, [(h, r["path"]) for h, r in runs])),
        "adam_update_state": spec(
            summary,
            hint="the state holds 'step' (the number of updates so far), 'exp_avg' and 'exp_avg_sq' (plus "
            "'max_exp_avg_sq' only with amsgrad).",
            variants=_variants(summary, [(h, {"keys": r["state_keys"], "step": r["step"]}) for h, r in runs]),
        ),
    }


VISIBLE = {
    "adam": (torch.optim.Adam, "VISIBLE_ADAM",
             lambda: _adam_wrong((*ADAM_CORE_MISTAKES, ZERO_FOR_MISSING_GRAD, DECOUPLED_IN_ADAM, SHARED_STATE))),
    "adamw": (torch.optim.AdamW, "VISIBLE_ADAMW", lambda: _adam_wrong(ADAMW_MISTAKES, WrongAdamW)),
    "rmsprop": (torch.optim.RMSprop, "VISIBLE_RMSPROP", lambda: [(HINTS[m], _wrong(WrongRMSprop, m)) for m in RMSPROP_MISTAKES]),
    "adagrad": (torch.optim.Adagrad, "VISIBLE_ADAGRAD", lambda: [(HINTS[m], _wrong(WrongAdagrad, m)) for m in ADAGRAD_MISTAKES]),
}


def _visible_checks() -> dict[str, dict]:
    checks = {}
    crash = [(h, v) for h, v in CRASHES if v.endswith("TypeError")]
    for key, (torch_class, options_name, wrong) in VISIBLE.items():
        options = getattr(problems, options_name)
        run = problems.visible_run(torch_class, options, TORCH)
        runs = [(hint, problems.visible_run(make, options)) for hint, make in wrong()]
        checks[f"{key}_visible_path"] = spec(
            run["path"], hint=GENERAL[key], variants=_variants(run["path"], [(h, r["path"]) for h, r in runs] + crash)
        )
        # torch's Adagrad creates its state eagerly in __init__; ours is lazy, as the other optimizers'.
        assert (run["unused_state"] != problems.NO_STATE) == (key == "adagrad")
        skip = {"unused": run["unused"], "unused_state": problems.NO_STATE}
        checks[f"{key}_skips_missing_grad"] = spec(
            skip, hint=HINTS[ZERO_FOR_MISSING_GRAD],
            variants=_variants(skip, [(h, {k: r[k] for k in skip}) for h, r in runs]
                               + [(h, {k: v for k in skip}) for h, v in crash]),
        )
        if key == "adam":
            counted = float(len(problems.VISIBLE_GRADIENTS))
            assert run["steps_counted"] == counted
            checks["adam_visible_steps_counted"] = spec(
                counted, hint="state['step'] counts the updates: 3 after 3 steps.",
                variants=_variants(counted, [(h, r["steps_counted"]) for h, r in runs]),
            )
    return checks


def _adam_checks() -> dict[str, dict]:
    return _grid_checks("adam", problems.ADAM_GRID, torch.optim.Adam, {
        problems.label(problems.ADAM_SENTINEL): _adam_wrong((*ADAM_CORE_MISTAKES, ZERO_FOR_MISSING_GRAD, DECOUPLED_IN_ADAM)),
        # a core mistake already fails the sentinel, the first check of the same cell
        problems.label(problems.AMSGRAD_SENTINEL): _adam_wrong(AMSGRAD_MISTAKES),
    })


def _twin_checks(prefix: str, torch_class: type, options: dict, wrong: list[tuple[str, Any]], with_path: bool) -> dict[str, dict]:
    twin = problems.twin_run(torch_class, options, backend=TORCH)
    runs = [(hint, problems.twin_run(make, options)) for hint, make in wrong]
    checks = {f"{prefix}twin_buffers": spec(
        twin["buffers"], hint=HINTS[SHARED_BUFFERS],
        variants=_variants(twin["buffers"], [(h, r["buffers"]) for h, r in runs]),
    )}
    if with_path:
        checks[f"{prefix}twin_path"] = spec(
            twin["path"], hint=GENERAL["adam"], variants=_variants(twin["path"], [(h, r["path"]) for h, r in runs])
        )
    return checks


def _adam_state_checks() -> dict[str, dict]:
    checks = {}
    for key, options in (("adam_state", problems.STATE_OPTIONS), ("amsgrad_state", problems.AMSGRAD_STATE_OPTIONS)):
        expected = problems.state_after_first_step(torch.optim.Adam, options, TORCH)
        assert all(expected[p]["step"] == 1.0 for p in ("p0", "p1", "p2")) and expected["p3"] == problems.NO_STATE
        checks[key] = _checked(
            expected, lambda make, o=options: problems.state_after_first_step(make, o),
            _adam_wrong((*STEP_MISTAKES, ZERO_FOR_MISSING_GRAD, *AMSGRAD_MISTAKES, SHARED_STATE)),
            "after the first update each parameter with a gradient has step = 1, exp_avg = (1 - beta1) g, "
            "exp_avg_sq = (1 - beta2) g**2 (and max_exp_avg_sq = exp_avg_sq with amsgrad); the parameter "
            "without a gradient has no state.",
            crashes=True,
        )
    sizes = {"adam": 2 * 10, "amsgrad": 3 * 10}
    measured = {"adam": problems.state_size(torch.optim.Adam, problems.STATE_OPTIONS, TORCH),
                "amsgrad": problems.state_size(torch.optim.Adam, problems.AMSGRAD_STATE_OPTIONS, TORCH)}
    assert measured == sizes, measured
    checks["state_size"] = spec(
        sizes, hint="Adam keeps two numbers per parameter entry (m and v): 2P; AMSGrad three (m, v, v_max): 3P. "
        "Create max_exp_avg_sq only when amsgrad is on.",
        variants=[(HINTS[AMSGRAD_IGNORED], {"adam": 20, "amsgrad": 20})],
    )
    checks.update(_twin_checks("", torch.optim.Adam, problems.TWIN_OPTIONS,
                               _adam_wrong((SHARED_STATE, SHARED_BUFFERS, *ADAM_CORE_MISTAKES)), with_path=True))
    return checks


def _adam_fact_checks() -> dict[str, dict]:
    checks = {}
    wrong = _adam_wrong(ADAM_CORE_MISTAKES)
    options = problems.CONSTANT_OPTIONS
    g = problems.CONSTANT_GRADIENT
    closed = np.broadcast_to(-options["lr"] * g / (np.abs(g) + 1e-8), (problems.CONSTANT_STEPS, *g.shape)).copy()
    _close(closed, problems.constant_gradient_steps(torch.optim.Adam, options, backend=TORCH), "Adam, constant gradient")
    checks["constant_gradient"] = _checked(
        closed, lambda make: problems.constant_gradient_steps(make, options), wrong,
        "with a constant gradient g, m_hat = g and v_hat = g**2 exactly, so every step is -lr * g / (|g| + eps).",
    )
    closed = -problems.EPS0_OPTIONS["lr"] * np.sign(problems.FIRST_STEP_GRADIENT)
    _close(closed, problems.first_step(torch.optim.Adam, problems.EPS0_OPTIONS, TORCH), "Adam's first step, eps = 0")
    checks["first_step_eps0"] = _checked(
        closed, lambda make: problems.first_step(make, problems.EPS0_OPTIONS), wrong,
        "with eps = 0 the first step is -lr * sign(g) in every entry, whatever the gradient's size.",
    )
    b1, b2, t, spike = 0.9, 0.999, problems.QUIET_STEPS + 1, problems.SPIKE
    closed = -(1 - b1) * spike / (1 - b1**t) / (np.sqrt((1 - b2) * spike**2 / (1 - b2**t)) + 1e-8)
    _close(closed, problems.spike_after_quiet(torch.optim.Adam, problems.SPIKE_OPTIONS, backend=TORCH),
           "the spike after a quiet stretch", rtol=1e-9)
    checks["spike_after_quiet"] = _checked(
        closed, lambda make: problems.spike_after_quiet(make, problems.SPIKE_OPTIONS), wrong,
        "after 10000 zero gradients the bias corrections have faded, so a sudden gradient g moves theta by "
        "about lr (1 - beta1)/sqrt(1 - beta2) = 3.16 lr: the uncorrected first step.",
        rtol=1e-9,
    )
    quiet = problems.quiet_then_constant_steps(torch.optim.Adam, backend=TORCH)
    for options in problems.QUIET_THEN_CONSTANT_OPTIONS:
        b1, b2 = options.get("betas", (0.9, 0.999))
        k = np.arange(1, problems.ACTIVE_STEPS + 1)
        t = problems.QUIET_STEPS + k
        eps_over_g = 1e-8 / problems.QUIET_THEN_CONSTANT
        closed = (1 - b1**k) / (1 - b1**t) / (np.sqrt((1 - b2**k) / (1 - b2**t)) + eps_over_g)
        _close(closed, quiet[problems.label(options)], f"a constant gradient after a quiet stretch, {options}", rtol=1e-9)
    checks["quiet_then_constant"] = _checked(
        quiet, lambda make: problems.quiet_then_constant_steps(make), wrong,
        "after 10000 zero gradients the moments are zero but the bias corrections have faded, so the k-th step of a "
        "constant gradient is about lr (1 - beta1**k)/sqrt(1 - beta2**k): 3.16, 4.25, 4.95, ... lr, up to 6.57 lr "
        "at k = 12 for the default betas; 1, 1.35, 1.57, ... up to 2.13 lr for betas (0.9, 0.99).",
        rtol=1e-9,
    )
    worst = problems.worst_case_steps(torch.optim.Adam, TORCH)
    closed = {f"t={n}": largest_step_over_lr(n) for n in problems.WORST_CASE_LENGTHS}
    _close(closed, worst, "the worst-case gradients", rtol=1e-9)
    checks["worst_case_steps"] = _checked(
        closed, lambda make: problems.worst_case_steps(make), wrong,
        "gradients growing by beta2/beta1 at every step make the t-th step as large as Cauchy-Schwarz allows: "
        "lr (1 - beta1)/(1 - beta1**t) sqrt((1 - beta2**t)/(1 - beta2) sum_{k<t} (beta1**2/beta2)**k), "
        "lr at t = 1 and 7.27 lr for large t.",
        rtol=1e-9,
    )
    return checks


def _adamw_checks() -> dict[str, dict]:
    checks = _grid_checks("adamw", problems.ADAMW_GRID, torch.optim.AdamW, {
        problems.label(problems.ADAMW_SENTINEL): _adam_wrong(ADAMW_SENTINEL_MISTAKES, WrongAdamW),
        problems.label(problems.ADAMW_AMSGRAD): _adam_wrong(AMSGRAD_MISTAKES, WrongAdamW),
    })
    demo = {"adam_l2": problems.decay_demo(torch.optim.Adam, backend=TORCH),
            "adamw": problems.decay_demo(torch.optim.AdamW, backend=TORCH)}
    candidates = [(h, {"adam_l2": demo["adam_l2"], "adamw": problems.decay_demo(make)})
                  for h, make in _adam_wrong((DECAY_AFTER_STEP, DECAY_WITHOUT_LR, L2_IN_ADAMW), WrongAdamW)]
    candidates.append((HINTS[DECOUPLED_IN_ADAM],
                       {"adam_l2": problems.decay_demo(_wrong(WrongAdam, DECOUPLED_IN_ADAM)), "adamw": demo["adamw"]}))
    checks["decay_demo"] = spec(
        demo, hint="Adam: g <- g + wd theta before the moments; AdamW: theta <- theta (1 - lr wd) before the Adam step.",
        variants=_variants(demo, candidates),
    )
    return checks


def _rmsprop_checks() -> dict[str, dict]:
    wrong = [(HINTS[m], _wrong(WrongRMSprop, m)) for m in RMSPROP_MISTAKES]
    checks = _grid_checks("rmsprop", problems.RMSPROP_GRID, torch.optim.RMSprop,
                          {problems.label(problems.RMSPROP_SENTINEL): wrong})
    options = problems.RMSPROP_STATE_OPTIONS
    checks["rmsprop_state"] = _checked(
        problems.state_after_first_step(torch.optim.RMSprop, options, TORCH),
        lambda make: problems.state_after_first_step(make, options), wrong,
        "RMSprop's state: 'step' (1 after the first update) and 'square_avg' = (1 - alpha) g**2.", crashes=True,
    )
    options = problems.RMSPROP_EPS0_OPTIONS
    closed = -np.sign(problems.FIRST_STEP_GRADIENT) / math.sqrt(1 - 0.99)  # the first step over lr: 10
    _close(closed, problems.first_step_over_lr(torch.optim.RMSprop, options, TORCH), "RMSprop's first step")
    checks["rmsprop_first_step"] = _checked(
        closed, lambda make: problems.first_step_over_lr(make, options), wrong,
        "RMSprop's first step is lr g / sqrt((1 - alpha) g**2) = lr / sqrt(1 - alpha) = 10 lr per entry (eps = 0).",
    )
    checks.update(_twin_checks("rmsprop_", torch.optim.RMSprop, problems.RMSPROP_STATE_OPTIONS, wrong, with_path=False))
    return checks


def _adagrad_checks() -> dict[str, dict]:
    wrong = [(HINTS[m], _wrong(WrongAdagrad, m)) for m in ADAGRAD_MISTAKES]
    checks = _grid_checks("adagrad", problems.ADAGRAD_GRID, torch.optim.Adagrad,
                          {problems.label(problems.ADAGRAD_SENTINEL): wrong})
    options = problems.ADAGRAD_STATE_OPTIONS
    expected = problems.state_after_first_step(torch.optim.Adagrad, options, TORCH, include_missing=False)
    expected.pop("p3")  # torch's Adagrad creates state for every parameter in __init__: not compared
    checks["adagrad_state"] = _checked(
        expected, lambda make: problems.state_after_first_step(make, options, include_missing=False), wrong,
        "Adagrad's state: 'step' (1 after the first update) and 'sum' = g**2.", crashes=True,
    )
    options = problems.ADAGRAD_CONSTANT_OPTIONS
    g = problems.CONSTANT_GRADIENT
    t = np.arange(1, problems.CONSTANT_STEPS + 1).reshape(-1, 1, 1)
    closed = -options["lr"] * g / (np.sqrt(t) * np.abs(g) + options["eps"])
    _close(closed, problems.constant_gradient_steps(torch.optim.Adagrad, options, backend=TORCH), "Adagrad, constant gradient")
    checks["adagrad_constant_gradient"] = _checked(
        closed, lambda make: problems.constant_gradient_steps(make, options), wrong,
        "with a constant gradient g, s = t g**2 after t steps, so the t-th step is -lr g / (sqrt(t) |g| + eps).",
    )
    checks.update(_twin_checks("adagrad_", torch.optim.Adagrad, problems.ADAGRAD_STATE_OPTIONS, wrong, with_path=False))
    return checks


def record() -> dict[str, dict]:
    torch.set_default_dtype(torch.float64)
    with contextlib.redirect_stdout(io.StringIO()):  # the wrong optimizers' crashes print, as students' would
        checks = _record()
    return checks


def _record() -> dict[str, dict]:
    checks = {
        **_update_function_checks(),
        **_visible_checks(),
        **_adam_checks(),
        **_adam_state_checks(),
        **_adam_fact_checks(),
        **_adamw_checks(),
        **_rmsprop_checks(),
        **_adagrad_checks(),
    }
    return {name(check): value for check, value in checks.items()}
