"""Chapter 6 (what optimizers cost): the fixed problems its graded cells put a student's code through.

Three exercises, three families of problems. Each function runs the student's code and returns
plain data for :func:`autograder.checks.check`; ``tools/golden/ch6_optimizer_cost.py`` runs the
same procedures on PyTorch (``torch.nn.utils.clip_grad_norm_``, ``torch.optim``,
``torch.optim.lr_scheduler.LambdaLR``) or uses their closed forms to record the expected values.

* **Clipping** (:data:`CLIP_CASES`, :func:`clip_report`, :func:`clip_error_report`): gradients of
  several shapes, some ``None``, some with ``inf`` or ``nan``, handed to
  ``clip_grad_norm_(parameters, max_norm, ...)``; reported: the returned total norm and every
  gradient afterwards.
* **State accounting** (:class:`ProbeOptimizer`, :data:`PROBES`, :func:`probe_report`,
  :func:`measured_state`): ``state_numbers`` / ``state_bytes`` on optimizers whose state is known,
  and on the student's own ``SGD`` and ``Adam`` after a few steps.
* **Checkpoints** (:class:`LambdaLR`, :data:`RESUME_RUNS`, :func:`resume_report`): train, save a
  checkpoint, keep training (uninterrupted run), then load the checkpoint into a freshly built
  model, optimizer and scheduler and finish training: the two runs must agree bit for bit.

When the student's code raises (anything but ``NotImplementedError``), the error is printed and
recorded as ``"error: <ExceptionName>"``, so that the judge can name a known mistake. The inputs
are not secret; the expected outputs are.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

import numpy as np

import slopegrad
from slopegrad.lr_scheduler import LRScheduler
from slopegrad.nn import Linear, Parameter, ReLU, Sequential, Tanh
from slopegrad.optim import Optimizer, resolve_lr

from .student_code import ERROR_PREFIX, Raised as _Raised, attempt as _call  # noqa: F401 - ERROR_PREFIX is part of this module's API
from .backends import SLOPEGRAD, Backend
from .trajectories import trajectory

NONE = "none"  # how a gradient that is None is reported
NOTHING_RAISED = "nothing raised"


def call(function: Callable[[], Any]) -> Any:
    """``function()``, or ``"error: <ExceptionName>"`` if it raised (printed; ``NotImplementedError`` propagates)."""
    outcome = _call(function)
    return outcome.record if isinstance(outcome, _Raised) else outcome


def _number(value: Any) -> Any:
    """A returned number as a float; anything else as a short description (a mismatch for the judge)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return f"not a number: {type(value).__name__}"


def _gradient(backend: Backend, g: np.ndarray) -> Any:
    make = getattr(backend, "gradient", None)
    return make(g) if make is not None else np.array(g, copy=True)


def _grad_values(backend: Backend, grad: Any) -> Any:
    if grad is None:
        return NONE
    read = getattr(backend, "grad_values", None)
    return read(grad) if read is not None else np.array(grad, dtype=np.float64, copy=True)


# ============================================================================== clipping
# A case: the gradients' shapes, which of them are None, a scale, entries set to inf or nan
# ({parameter: {flat index: value}}), the dtype, max_norm, and how the parameters are passed
# ("list", "generator": a one-shot iterator like model.parameters(), or "single": one parameter).
CLIP_CASES: dict[str, dict[str, Any]] = {
    "four_shapes": {"shapes": [(), (3,), (2, 3), (4, 1)], "none": [3], "scale": 2.0, "max_norm": 1.0},
    "small_norm_untouched": {"shapes": [(5,), (2, 2)], "scale": 0.01, "max_norm": 1.0},
    "none_first_and_last": {"shapes": [(2,), (3, 2), (1,), (4,)], "none": [0, 3], "scale": 3.0, "max_norm": 0.5},
    "large_gradients": {"shapes": [(8, 4), (4,), (4, 2), (2,)], "scale": 1e3, "max_norm": 5.0},
    "many_parameters": {"shapes": [(i % 4 + 1, 3) for i in range(20)], "none": [4, 11], "scale": 0.3, "max_norm": 2.0},
    "generator": {"shapes": [(3,), (2, 2)], "scale": 4.0, "max_norm": 1.5, "pass_as": "generator"},
    "single_parameter": {"shapes": [(6,)], "scale": 5.0, "max_norm": 2.0, "pass_as": "single"},
    "all_none": {"shapes": [(3,), (2,)], "none": [0, 1], "max_norm": 1.0},
    "exactly_max_norm": {"exact": [[3.0, 4.0]], "max_norm": 5.0},  # total norm 5 == max_norm: coef < 1 still
}
CLIP_FLOAT32_CASES: dict[str, dict[str, Any]] = {
    "float32": {"shapes": [(4, 3), (3,), ()], "scale": 3.0, "max_norm": 1.0, "dtype": "float32"},
    "float32_small": {"shapes": [(7,)], "scale": 0.05, "max_norm": 1.0, "dtype": "float32"},
}
CLIP_NONFINITE_CASES: dict[str, dict[str, Any]] = {
    # error_if_nonfinite=False (the default): like torch, a non-finite norm still scales
    "inf": {"shapes": [(3,), (2, 2), (2,)], "none": [], "special": {1: {2: np.inf}}, "scale": 1.0, "max_norm": 1.0},
    "minus_inf": {"shapes": [(3,), (2,)], "special": {0: {0: -np.inf}}, "scale": 1.0, "max_norm": 1.0},
    "nan": {"shapes": [(3,), (2, 2), (2,)], "none": [0], "special": {2: {1: np.nan}}, "scale": 1.0, "max_norm": 1.0},
}
CLIP_ERROR_CASES: dict[str, dict[str, Any]] = {
    # error_if_nonfinite=True: a RuntimeError naming the first parameter whose gradient is not finite
    "inf_after_none": {"shapes": [(3,), (2,), (2, 2), (4,)], "none": [1], "special": {2: {3: np.inf}}, "max_norm": 1.0},
    "nan_last": {"shapes": [(2,), (3,), (1,)], "special": {2: {0: np.nan}}, "max_norm": 1.0},
    "two_bad": {"shapes": [(2,), (3,), (2,), (1,)], "none": [0], "special": {1: {1: np.nan}, 3: {0: np.inf}}, "max_norm": 1.0},
}
# the visible cell's case: a nan in parameter 2, error_if_nonfinite=True
CLIP_VISIBLE_ERROR: dict[str, Any] = {"shapes": [(2,), (3,), (2, 2)], "special": {2: {1: np.nan}}, "max_norm": 1.0}
CLIP_EPS_CASES: dict[str, dict[str, Any]] = {
    # a custom eps: coef = max_norm / (total + eps) (torch has no eps argument: closed form)
    "eps_half": {"shapes": [(3,), (2,)], "scale": 1.0, "max_norm": 1.0, "eps": 0.5, "seed": 11},
    "eps_zero": {"exact": [[3.0, 4.0], [12.0]], "max_norm": 6.5, "eps": 0.0},
}


def clip_gradients(case: dict[str, Any], seed: int = 0) -> list[np.ndarray | None]:
    """The gradients of a case (NumPy arrays, ``None`` where the case says so)."""
    dtype = np.dtype(case.get("dtype", "float64"))
    if "exact" in case:
        return [np.array(g, dtype=dtype) for g in case["exact"]]
    rng = np.random.default_rng(case.get("seed", seed))
    grads: list[np.ndarray | None] = []
    for i, shape in enumerate(case["shapes"]):
        g = np.array(rng.normal(size=shape) * case.get("scale", 1.0))
        flat = g.reshape(-1)  # a view: setting its entries sets g's
        for index, value in case.get("special", {}).get(i, {}).items():
            flat[index] = value
        grads.append(None if i in case.get("none", ()) else g.astype(dtype))
    return grads


def _clip_setup(case: dict[str, Any], backend: Backend) -> tuple[list[Any], list[Any]]:
    grads = clip_gradients(case)
    shapes = case["shapes"] if "shapes" in case else [g.shape for g in grads]
    dtype = np.dtype(case.get("dtype", "float64"))
    params = []
    for g, shape in zip(grads, shapes):
        p = backend.parameter(np.zeros(shape, dtype=dtype))
        if g is not None:
            p.grad = _gradient(backend, g)
        params.append(p)
    return params, [p.grad for p in params]


def _passed_as(params: list[Any], how: str) -> Any:
    if how == "generator":
        return (p for p in params)
    if how == "single":
        return params[0]
    return list(params)


def clip_report(clip_grad_norm_: Callable[..., Any], case: dict[str, Any], backend: Backend = SLOPEGRAD,
                **options: Any) -> dict[str, Any]:
    """Clip the case's gradients; report the returned total norm and every gradient afterwards."""
    params, _ = _clip_setup(case, backend)
    extra = {"eps": case["eps"]} if "eps" in case else {}
    with np.errstate(all="ignore"):
        outcome = _call(lambda: clip_grad_norm_(_passed_as(params, case.get("pass_as", "list")),
                                                case["max_norm"], **extra, **options))
    if isinstance(outcome, _Raised):
        return {"total": outcome.record, "grads": outcome.record}
    return {"total": _number(outcome), "grads": [_grad_values(backend, p.grad) for p in params]}


def clip_cases_report(clip_grad_norm_: Callable[..., Any], cases: dict[str, dict[str, Any]],
                      backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """:func:`clip_report` for every case, keyed by case name."""
    return {name: clip_report(clip_grad_norm_, case, backend) for name, case in cases.items()}


def first_nonfinite(case: dict[str, Any]) -> int:
    """The position (among all parameters given, ``None`` grads included) of the first non-finite gradient."""
    for i, g in enumerate(clip_gradients(case)):
        if g is not None and not np.all(np.isfinite(g)):
            return i
    raise ValueError("this case has only finite gradients")


def names_parameter(message: str, index: int) -> bool:
    """Whether an error message names ``parameter <index>`` (as a whole word)."""
    return re.search(rf"\bparameter {index}\b", message) is not None


def clip_error_report(clip_grad_norm_: Callable[..., Any], case: dict[str, Any], backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """``clip_grad_norm_(..., error_if_nonfinite=True)`` on non-finite gradients: what was raised,
    whether the message names the first offending parameter, and whether the gradients were left alone."""
    params, before = _clip_setup(case, backend)
    originals = [_grad_values(backend, g) for g in before]
    raised, message = NOTHING_RAISED, ""
    try:
        with np.errstate(all="ignore"):
            clip_grad_norm_(list(params), case["max_norm"], error_if_nonfinite=True)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the error is what is checked
        raised, message = type(error).__name__, str(error)
        print(f"raised {raised}: {message}")
    after = [_grad_values(backend, p.grad) for p in params]
    unchanged = all(_same(a, b) for a, b in zip(originals, after))
    return {"raised": raised, "names_parameter": names_parameter(message, first_nonfinite(case)),
            "grads_unchanged": bool(unchanged)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def clip_in_place_report(clip_grad_norm_: Callable[..., Any], backend: Backend = SLOPEGRAD) -> dict[str, Any]:
    """Whether every gradient that was scaled is still the same array object (scaled in place)."""
    case = CLIP_CASES["four_shapes"]
    params, before = _clip_setup(case, backend)
    outcome = _call(lambda: clip_grad_norm_(list(params), case["max_norm"]))
    if isinstance(outcome, _Raised):
        return {"same_arrays": outcome.record}
    return {"same_arrays": [bool(p.grad is g) for p, g in zip(params, before)]}


# ===================================================================== state accounting
class ProbeOptimizer(Optimizer):
    """A made-up optimizer with known state, for testing bookkeeping code (not a method to train with).

    For every parameter ``p`` with a gradient ``g``, ``self.state[p]`` holds ``"step"`` (an int),
    ``"mean"`` (the running mean of the gradients) and ``"peak"`` (the running maximum of ``|g|``),
    both arrays of ``p``'s shape and dtype; the update is ``p -= lr * mean / (peak + 0.1)``.
    So it keeps 2 numbers per parameter entry, like Adam, and its state round-trips through
    ``state_dict()`` like every optimizer of the course.
    """

    def __init__(self, params: Iterable[Any], lr: float | None = None, *, learning_rate: float | None = None) -> None:
        super().__init__(params, {"lr": resolve_lr(lr, learning_rate, default=0.1)})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["mean"] = np.zeros_like(p.data)
                    state["peak"] = np.zeros_like(p.data)
                state["step"] += 1
                state["mean"] += (p.grad - state["mean"]) / state["step"]
                np.maximum(state["peak"], np.abs(p.grad), out=state["peak"])
                p.data -= group["lr"] * state["mean"] / (state["peak"] + 0.1)
        return loss


# A probe: parameter groups, each a list of (shape, dtype, gets a gradient?); the probe optimizer
# takes PROBE_STEPS steps on random gradients, then the student's functions count its state.
PROBE_STEPS = 2
PROBES: dict[str, list[list[tuple[tuple[int, ...], str, bool]]]] = {
    "visible": [[((3, 4), "float64", True), ((5,), "float32", True), ((2, 2), "float64", False)],
                [((7,), "float64", True)]],
    "one_group": [[((), "float64", True), ((3,), "float64", True), ((2, 3), "float64", True), ((4, 1), "float64", False)]],
    "three_groups": [[((10,), "float32", True), ((2, 5), "float32", True)],
                     [((3, 3), "float64", False), ((4,), "float64", True)],
                     [((6, 1), "float32", False)]],
    "first_without_gradient": [[((5,), "float64", False), ((2,), "float64", True)], [((3,), "float32", True)]],
    "before_any_step": [[((4,), "float64", True)], [((2, 2), "float32", True)]],
}


def probe_optimizer(name: str, make_optimizer: Callable[[list[dict]], Any] = ProbeOptimizer, seed: int = 0) -> Any:
    """The probe ``name``: its optimizer after :data:`PROBE_STEPS` steps (none for ``before_any_step``)."""
    rng = np.random.default_rng(seed)
    groups, with_gradient = [], []
    for group in PROBES[name]:
        params = []
        for shape, dtype, has_grad in group:
            p = Parameter(rng.normal(size=shape), dtype=dtype)
            params.append(p)
            if has_grad:
                with_gradient.append(p)
        groups.append({"params": params})
    optimizer = make_optimizer(groups)
    for _ in range(0 if name == "before_any_step" else PROBE_STEPS):
        for p in with_gradient:
            p.grad = rng.normal(size=p.data.shape).astype(p.data.dtype)
        optimizer.step()
    return optimizer


def probe_report(state_numbers: Callable[[Any], Any], state_bytes: Callable[[Any], Any], name: str) -> dict[str, Any]:
    """``{"numbers": state_numbers(optimizer), "bytes": state_bytes(optimizer)}`` for the probe ``name``."""
    optimizer = probe_optimizer(name)
    return {
        "numbers": _integer(_call(lambda: state_numbers(optimizer))),
        "bytes": _integer(_call(lambda: state_bytes(optimizer))),
    }


def probes_report(state_numbers: Callable[[Any], Any], state_bytes: Callable[[Any], Any],
                  names: Iterable[str] = ("one_group", "three_groups", "first_without_gradient", "before_any_step")) -> dict[str, Any]:
    return {name: probe_report(state_numbers, state_bytes, name) for name in names}


def _integer(value: Any) -> Any:
    if isinstance(value, _Raised):
        return value.record
    if isinstance(value, (bool, np.bool_)):
        return f"not a count: {type(value).__name__}"
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return f"not a count: {value!r}"[:80]


# What expected_state_numbers is asked (optimizer name, P).
PREDICTION_NAMES = ("sgd", "sgd_momentum", "adam", "adamw", "amsgrad", "rmsprop", "adagrad")
PREDICTION_SIZES = (1, 10, 2410, 7_000_000_000)
STATE_PER_ENTRY = {"sgd": 0, "sgd_momentum": 1, "adam": 2, "adamw": 2, "amsgrad": 3, "rmsprop": 1, "adagrad": 1}


def predictions_report(expected_state_numbers: Callable[[str, int], Any]) -> dict[str, Any]:
    """``expected_state_numbers(name, P)`` for every name and size, and for an unknown name."""
    report: dict[str, Any] = {
        f"{name}:{size}": _integer(_call(lambda n=name, s=size: expected_state_numbers(n, s)))
        for name in PREDICTION_NAMES for size in PREDICTION_SIZES
    }
    report["unknown_name"] = _integer(_call(lambda: expected_state_numbers("lion", 10), quiet=True))
    return report


# Real optimizers on real problems: the 4-parameter problem of autograder.problems.trajectories
# (P = 10 entries get gradients, 4 never do) for 3 steps, and an MLP 64-32-10 in float32 for one step.
MEASURED: dict[str, dict[str, Any]] = {
    "sgd": {"optimizer": "SGD", "options": {"lr": 0.1}, "problem": "four_parameters"},
    "sgd_momentum": {"optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9}, "problem": "four_parameters"},
    "adam": {"optimizer": "Adam", "options": {"lr": 0.1}, "problem": "four_parameters"},
    "amsgrad": {"optimizer": "Adam", "options": {"lr": 0.1, "amsgrad": True}, "problem": "four_parameters"},
    "adam_mlp_float32": {"optimizer": "Adam", "options": {"lr": 0.01}, "problem": "mlp_float32"},
}
MLP_SIZES = (64, 32, 10)
FOUR_PARAMETERS_WITH_GRADIENT = 1 + 3 + 6


def mlp(dtype: Any = np.float64, seed: int = 0, sizes: tuple[int, ...] = MLP_SIZES) -> Sequential:
    """``Linear(64, 32) -> ReLU -> Linear(32, 10)`` (P = 2410), weights from ``slopegrad.manual_seed(seed)``."""
    slopegrad.manual_seed(seed)
    return Sequential(Linear(sizes[0], sizes[1], dtype=dtype), ReLU(), Linear(sizes[1], sizes[2], dtype=dtype))


def mlp_batch(dtype: Any = np.float32, seed: int = 1, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, MLP_SIZES[0])).astype(dtype), rng.integers(0, MLP_SIZES[-1], size=batch)


def stepped_optimizer(make_optimizer: Callable[[list[Any]], Any], problem: str) -> tuple[Any, int]:
    """An optimizer after its steps on ``problem``, and P (the entries of the parameters that got gradients)."""
    if problem == "four_parameters":
        seen: dict[str, Any] = {}

        def make(params):
            seen["optimizer"] = make_optimizer(params)
            return seen["optimizer"]

        trajectory(make, steps=3)
        return seen["optimizer"], FOUR_PARAMETERS_WITH_GRADIENT
    model = mlp(np.float32)
    optimizer = make_optimizer(list(model.parameters()))
    x, y = mlp_batch()
    optimizer.zero_grad()
    slopegrad.cross_entropy(model(slopegrad.Tensor(x)), y).backward()
    optimizer.step()
    return optimizer, sum(p.data.size for p in model.parameters())


def measured_state(state_numbers: Callable[[Any], Any], state_bytes: Callable[[Any], Any],
                   expected_state_numbers: Callable[[str, int], Any], classes: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """For each run of :data:`MEASURED`: the counted numbers and bytes, and the predicted numbers."""
    report = {}
    for name, run in MEASURED.items():
        cls = classes[run["optimizer"]]
        outcome = _call(lambda: stepped_optimizer(lambda ps: cls(ps, **run["options"]), run["problem"]))
        if isinstance(outcome, _Raised):
            report[name] = {"numbers": outcome.record, "bytes": outcome.record, "predicted": outcome.record}
            continue
        optimizer, size = outcome
        prediction = "amsgrad" if run["options"].get("amsgrad") else name.replace("_mlp_float32", "")
        report[name] = {
            "numbers": _integer(_call(lambda: state_numbers(optimizer))),
            "bytes": _integer(_call(lambda: state_bytes(optimizer))),
            "predicted": _integer(_call(lambda: expected_state_numbers(prediction, size))),
        }
    return report


# ========================================================================== checkpoints
class LambdaLR(LRScheduler):
    """``lr_e = base_lr * lr_lambda(e)``, as ``torch.optim.lr_scheduler.LambdaLR`` with one function
    for every group (provided). Its rate depends on ``last_epoch``, so a resumed run needs the
    scheduler's state as well as the optimizer's."""

    def __init__(self, optimizer: Any, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> list[float]:
        return [base_lr * self.lr_lambda(epoch) for base_lr in self.base_lrs]


def inverse_time(epoch: int) -> float:
    """The factor 1 / (1 + epoch / 2): 1, 2/3, 1/2, 2/5, ..."""
    return 1.0 / (1.0 + 0.5 * epoch)


def halving(epoch: int) -> float:
    """The factor 0.5 ** (epoch // 2): halve every two epochs."""
    return 0.5 ** (epoch // 2)


SCHEDULES: dict[str, Callable[[int], float]] = {"inverse_time": inverse_time, "halving": halving}

# The regression problem every resume runs: 32 samples, 3 features, a 3-8-1 tanh network,
# minibatches of 8 in an order fixed by the epoch (so the order needs no saving).
SAMPLES, FEATURES, HIDDEN_UNITS, BATCH = 32, 3, 8, 8
DATA_SEED = 6

# The runs (inputs, not secrets): the optimizer (a class name the cell maps to a class), its options
# in PyTorch's spelling, the schedule, the number of epochs, where the checkpoint is taken, the dtype.
RESUME_RUNS: dict[str, dict[str, Any]] = {
    "visible": {"optimizer": "ProbeOptimizer", "options": {"lr": 0.05}, "schedule": "inverse_time",
                "epochs": 6, "at": 3, "dtype": "float64"},
    "probe_float32": {"optimizer": "ProbeOptimizer", "options": {"lr": 0.1}, "schedule": "halving",
                      "epochs": 5, "at": 2, "dtype": "float32"},
    "adam": {"optimizer": "Adam", "options": {"lr": 0.05, "betas": (0.8, 0.99)}, "schedule": "inverse_time",
             "epochs": 6, "at": 3, "dtype": "float64"},
    "sgd": {"optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "schedule": "halving",
            "epochs": 6, "at": 4, "dtype": "float64"},
    "at_start": {"optimizer": "ProbeOptimizer", "options": {"lr": 0.05}, "schedule": "halving",
                 "epochs": 3, "at": 0, "dtype": "float64"},
}


def regression_data(dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(DATA_SEED)
    x = rng.normal(size=(SAMPLES, FEATURES))
    y = np.sin(x @ np.array([[1.0], [-2.0], [0.5]])) + 0.1 * rng.normal(size=(SAMPLES, 1))
    return x.astype(dtype), y.astype(dtype)


def batches(epoch: int) -> list[np.ndarray]:
    """The minibatch indices of an epoch (a permutation seeded by the epoch)."""
    order = np.random.default_rng(1000 + epoch).permutation(SAMPLES)
    return [order[i:i + BATCH] for i in range(0, SAMPLES, BATCH)]


def regression_model(seed: int, dtype: Any = np.float64) -> Sequential:
    """``Linear(3, 8) -> Tanh -> Linear(8, 1)``, weights from ``slopegrad.manual_seed(seed)``."""
    slopegrad.manual_seed(seed)
    return Sequential(Linear(FEATURES, HIDDEN_UNITS, dtype=dtype), Tanh(), Linear(HIDDEN_UNITS, 1, dtype=dtype))


def train_epochs(model: Any, optimizer: Any, scheduler: Any, start: int, stop: int, dtype: Any = np.float64) -> list[float]:
    """Epochs ``start .. stop - 1``: minibatch MSE steps, then ``scheduler.step()``; the mean loss of each epoch."""
    x, y = regression_data(dtype)
    losses = []
    for epoch in range(start, stop):
        total = 0.0
        for index in batches(epoch):
            optimizer.zero_grad()
            loss = slopegrad.mse_loss(model(slopegrad.Tensor(x[index])), slopegrad.Tensor(y[index]))
            loss.backward()
            optimizer.step()
            total += float(loss.data)
        if scheduler is not None:
            scheduler.step()
        losses.append(total / len(batches(epoch)))
    return losses


def _flat(model: Any) -> np.ndarray:
    return np.concatenate([np.array(p.data, dtype=np.float64).ravel() for p in model.parameters()])


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b)))


def resume_run(save_checkpoint: Callable[..., Any], load_checkpoint: Callable[..., Any],
               optimizer_class: Callable[..., Any], run: str) -> dict[str, Any]:
    """Train without interruption while saving a checkpoint on the way, then resume twice from it.

    1. model A (seed 0) trains ``at`` epochs; ``checkpoint = save_checkpoint(A, optimizer, scheduler, at)``;
       A goes on training to the end (the uninterrupted run, which also tests that the checkpoint
       holds copies: the arrays it saved keep changing in A);
    2. a fresh model (seed 1, other weights), optimizer and scheduler; ``start = load_checkpoint(...)``;
       training resumes at ``start`` (at ``at`` if it returned something else);
    3. the same again from the same checkpoint (seed 2): a checkpoint must survive being loaded.

    Returns the final parameters of all three runs and what ``load_checkpoint`` returned.
    """
    spec = RESUME_RUNS[run]
    dtype = np.dtype(spec["dtype"])
    schedule = SCHEDULES[spec["schedule"]]

    def build(seed):
        model = regression_model(seed, dtype)
        optimizer = optimizer_class(list(model.parameters()), **spec["options"])
        return model, optimizer, LambdaLR(optimizer, schedule)

    model, optimizer, scheduler = build(0)
    train_epochs(model, optimizer, scheduler, 0, spec["at"], dtype)
    checkpoint = save_checkpoint(model, optimizer, scheduler, spec["at"])
    train_epochs(model, optimizer, scheduler, spec["at"], spec["epochs"], dtype)
    finals, returned = [_flat(model)], []
    for seed in (1, 2):
        model, optimizer, scheduler = build(seed)
        start = load_checkpoint(checkpoint, model, optimizer, scheduler)
        returned.append(start)
        resume_at = start if isinstance(start, (int, np.integer)) and not isinstance(start, bool) else spec["at"]
        train_epochs(model, optimizer, scheduler, int(resume_at), spec["epochs"], dtype)
        finals.append(_flat(model))
    return {"finals": finals, "returned": returned}


def resume_report(save_checkpoint: Callable[..., Any], load_checkpoint: Callable[..., Any],
                  optimizer_class: Callable[..., Any], run: str) -> dict[str, Any]:
    """How far the resumed runs end from the uninterrupted one (exactly 0.0 when resuming is right).

    ``max_abs_difference``: the first resumed run against the uninterrupted run, the largest
    absolute difference over all parameter entries; ``resumed_twice_difference``: the same for a
    second resume from the same checkpoint; ``epoch``: what ``load_checkpoint`` returned.
    """
    outcome = _call(lambda: resume_run(save_checkpoint, load_checkpoint, optimizer_class, run))
    if isinstance(outcome, _Raised):
        return {"max_abs_difference": outcome.record, "resumed_twice_difference": outcome.record, "epoch": outcome.record}
    uninterrupted, first, second = outcome["finals"]
    epoch = outcome["returned"][0]
    return {
        "max_abs_difference": _difference(first, uninterrupted),
        "resumed_twice_difference": _difference(second, uninterrupted),
        "epoch": int(epoch) if isinstance(epoch, (int, np.integer)) and not isinstance(epoch, bool) else repr(epoch)[:80],
    }


def resumed_parameters(save_checkpoint: Callable[..., Any], load_checkpoint: Callable[..., Any],
                       optimizer_class: Callable[..., Any], run: str) -> Any:
    """The parameters at the end of the first resumed run, flattened (compared with PyTorch's uninterrupted run)."""
    outcome = _call(lambda: resume_run(save_checkpoint, load_checkpoint, optimizer_class, run))
    return outcome.record if isinstance(outcome, _Raised) else outcome["finals"][1]
