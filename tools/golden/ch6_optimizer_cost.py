"""Golden expectations of Chapter 6 (what optimizers cost), from PyTorch and closed forms.

* Clipping: ``torch.nn.utils.clip_grad_norm_`` on exactly the gradients of
  :mod:`autograder.problems.optimizer_cost` (float64 and float32, ``None`` gradients, ``inf`` and ``nan``,
  a generator, a single tensor); a custom ``eps`` (which torch does not take) from torch's own
  formula with eps as an argument, and the message that names the offending parameter (torch's does not).
* State accounting: the elements and bytes of ``torch.optim.SGD`` / ``Adam`` state (the ``step``
  counters excluded) after the same steps on the same problems; the probes and the predictions
  from closed forms.
* Checkpoints: the same resume procedure run on ``torch.nn`` + ``torch.optim`` +
  ``torch.optim.lr_scheduler.LambdaLR`` with PyTorch's own ``state_dict()``s (the differences are
  exactly 0.0 there too) and the parameters at the end of PyTorch's uninterrupted run.

Each check is a row of :data:`CHECKS`. The reference solution must give the expected value; the
variants are what the reference solution with each common mistake of the chapter's catalogue
(:mod:`autograder.mistakes.ch6_optimizer_cost`) made in the check's cells gives, each with that
mistake's hint.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import DEFAULT_RTOL
from autograder.mistakes.ch6_optimizer_cost import CATALOGUE, HINT_NOT_IN_PLACE
from autograder.problems import optimizer_cost as P
from slopegrad.nn import Linear, Tanh

from . import table
from .table import Check, made_in
from .torch_backend import TORCH

ASSIGNMENT = "ch6_optimizer_cost"
FLOAT32_RTOL = 1e-5  # float32 clipping: torch and NumPy sum in different orders
FINAL_RTOL, FINAL_ATOL = 1e-9, 1e-12  # 24 Adam steps in float64, slopegrad against torch
EXACT = {"rtol": 0.0, "atol": 0.0}  # a resumed run must be bit for bit the uninterrupted one
STRICT = (1e-12, 1e-14)  # how close the reference solution comes to torch in float64
PROBED = ("one_group", "three_groups", "first_without_gradient", "before_any_step")


# =================================================================================== torch side
class TorchClipBackend:
    """Parameters and gradients as torch tensors of the case's dtype."""

    def parameter(self, array: np.ndarray) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.from_numpy(np.array(array, copy=True)))

    def gradient(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(array, copy=True))

    def grad_values(self, grad: torch.Tensor) -> np.ndarray:
        return grad.detach().numpy().astype(np.float64, copy=True)


TORCH_CLIP = TorchClipBackend()


def torch_clip(parameters, max_norm, error_if_nonfinite=False):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, error_if_nonfinite=error_if_nonfinite)


def torch_state_counts(optimizer: torch.optim.Optimizer) -> tuple[int, int]:
    """Elements and bytes of every state tensor except the step counters."""
    numbers = nbytes = 0
    for state in optimizer.state.values():
        for key, value in state.items():
            if key != "step" and torch.is_tensor(value):
                numbers += value.numel()
                nbytes += value.numel() * value.element_size()
    return numbers, nbytes


def torch_regression_model(reference) -> torch.nn.Sequential:
    """The slopegrad regression model's architecture and weights in torch."""
    layers = []
    for module in reference:
        if isinstance(module, Linear):
            dtype = torch.float64 if module.weight.data.dtype == np.float64 else torch.float32
            layer = torch.nn.Linear(module.in_features, module.out_features, dtype=dtype)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(np.array(module.weight.data)))
                layer.bias.copy_(torch.from_numpy(np.array(module.bias.data)))
            layers.append(layer)
        elif isinstance(module, Tanh):
            layers.append(torch.nn.Tanh())
        else:  # pragma: no cover - the problem builds only these
            raise TypeError(type(module).__name__)
    return torch.nn.Sequential(*layers)


TORCH_OPTIMIZERS = {"Adam": torch.optim.Adam, "SGD": torch.optim.SGD}


def torch_train(model, optimizer, scheduler, start: int, stop: int, dtype) -> None:
    x, y = (torch.from_numpy(a) for a in P.regression_data(dtype))
    for epoch in range(start, stop):
        for index in P.batches(epoch):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
        scheduler.step()


def torch_resume(run: str) -> dict[str, Any]:
    """:func:`autograder.problems.optimizer_cost.resume_run` on PyTorch, checkpoints made of its own state dicts."""
    spec_ = P.RESUME_RUNS[run]
    dtype = np.dtype(spec_["dtype"])

    def build(seed):
        model = torch_regression_model(P.regression_model(seed, dtype))
        optimizer = TORCH_OPTIMIZERS[spec_["optimizer"]](model.parameters(), **spec_["options"])
        return model, optimizer, torch_schedulers.LambdaLR(optimizer, P.SCHEDULES[spec_["schedule"]])

    def flat(model):
        return np.concatenate([p.detach().numpy().astype(np.float64).ravel() for p in model.parameters()])

    model, optimizer, scheduler = build(0)
    torch_train(model, optimizer, scheduler, 0, spec_["at"], dtype)
    # torch's state dicts hold references to the live tensors: deep copies make the checkpoint
    checkpoint = copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "scheduler": scheduler.state_dict(), "epoch": spec_["at"]})
    torch_train(model, optimizer, scheduler, spec_["at"], spec_["epochs"], dtype)
    finals = [flat(model)]
    for seed in (1, 2):
        model, optimizer, scheduler = build(seed)
        saved = copy.deepcopy(checkpoint)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch_train(model, optimizer, scheduler, saved["epoch"], spec_["epochs"], dtype)
        finals.append(flat(model))
    return {"finals": finals, "epoch": checkpoint["epoch"]}


def torch_resume_report(run: str) -> dict[str, Any]:
    outcome = torch_resume(run)
    uninterrupted, first, second = outcome["finals"]
    return {"max_abs_difference": float(np.max(np.abs(first - uninterrupted))),
            "resumed_twice_difference": float(np.max(np.abs(second - uninterrupted))),
            "epoch": outcome["epoch"]}


def torch_clip_with_eps(parameters, max_norm, eps=1e-6):
    """torch's clip_grad_norm_ with its eps (1e-6) made an argument: torch takes no eps, so a custom eps
    is checked against this closed form in torch's arithmetic."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + eps), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total


def torch_error_report(case: dict[str, Any]) -> dict[str, Any]:
    """torch's clip_error_report, with the one difference asked of the course's: the message names the parameter."""
    report = P.clip_error_report(torch_clip, case, TORCH_CLIP)
    assert report == {"raised": "RuntimeError", "names_parameter": False, "grads_unchanged": True}, report
    return {**report, "names_parameter": True}


def torch_measured_state() -> dict[str, Any]:
    """:func:`autograder.problems.optimizer_cost.measured_state` on torch.optim's own state, counted."""
    expected = {}
    for run_name, run in P.MEASURED.items():
        torch_class = TORCH_OPTIMIZERS[run["optimizer"]]
        if run["problem"] == "four_parameters":
            seen = {}

            def make(ps, cls=torch_class, options=run["options"]):
                seen["optimizer"] = cls(ps, **options)
                return seen["optimizer"]

            P.trajectory(make, steps=3, backend=TORCH)
            optimizer, size = seen["optimizer"], P.FOUR_PARAMETERS_WITH_GRADIENT
        else:
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(64, 32, dtype=torch.float32), torch.nn.ReLU(),
                                        torch.nn.Linear(32, 10, dtype=torch.float32))
            optimizer = torch_class(model.parameters(), **run["options"])
            x, y = P.mlp_batch()
            torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
            optimizer.step()
            size = sum(p.numel() for p in model.parameters())
        numbers, nbytes = torch_state_counts(optimizer)
        kind = "amsgrad" if run["options"].get("amsgrad") else run_name.replace("_mlp_float32", "")
        assert numbers == P.STATE_PER_ENTRY[kind] * size, (run_name, numbers)
        expected[run_name] = {"numbers": numbers, "bytes": nbytes, "predicted": P.STATE_PER_ENTRY[kind] * size}
    assert expected["adam_mlp_float32"] == {"numbers": 4820, "bytes": 19280, "predicted": 4820}
    return expected


# ===================================================================== closed forms and the cells' code
VISIBLE_GRADS = {"w": np.array([3.0, 4.0]), "b": np.array([[12.0]])}


class SlopegradClipBackend:
    """Parameters as in the test cells (slopegrad), gradients as NumPy arrays."""

    def parameter(self, array):
        return P.SLOPEGRAD.parameter(array)

    def gradient(self, array):
        return np.array(array, copy=True)

    def grad_values(self, grad):
        return np.array(grad, dtype=np.float64, copy=True)


SLOPEGRAD_CLIP = SlopegradClipBackend()


def visible_clip(clip, backend, max_norm: float, with_none: bool = False) -> dict[str, Any]:
    """The visible cells' computations (the same inputs, the same guard), on any clip function and backend."""
    w, b = backend.parameter(np.zeros(2)), backend.parameter(np.zeros((1, 1)))
    w.grad, b.grad = backend.gradient(VISIBLE_GRADS["w"]), backend.gradient(VISIBLE_GRADS["b"])
    if with_none:
        u = backend.parameter(np.zeros(3))
        total = P.call(lambda: clip([w, u, b], max_norm))
        return {"total": _total(total), "grads": [backend.grad_values(w.grad), P.NONE if u.grad is None else
                                                  backend.grad_values(u.grad), backend.grad_values(b.grad)]}
    total = P.call(lambda: clip([w, b], max_norm))
    return {"total": _total(total), "w.grad": backend.grad_values(w.grad), "b.grad": backend.grad_values(b.grad)}


def _total(value: Any) -> Any:
    return value if isinstance(value, str) else float(value)


def as_stated(value: Any, stated: Any) -> Any:
    """``value``, once it is checked to be what the visible test cell states."""
    assert value == stated, (value, stated)
    return value


def closed_form_probe(probe: str) -> dict[str, int]:
    """The probe optimizer keeps 'mean' and 'peak' for every parameter that got a gradient."""
    numbers = nbytes = 0
    for group in P.PROBES[probe]:
        for shape, dtype, has_grad in group:
            if has_grad and probe != "before_any_step":
                size = int(np.prod(shape, dtype=np.int64))
                numbers += 2 * size
                nbytes += 2 * size * np.dtype(dtype).itemsize
    return {"numbers": numbers, "bytes": nbytes}


def closed_form_predictions() -> dict[str, Any]:
    expected = {f"{n}:{s}": P.STATE_PER_ENTRY[n] * s for n in P.PREDICTION_NAMES for s in P.PREDICTION_SIZES}
    expected["unknown_name"] = P.ERROR_PREFIX + "ValueError"
    assert expected["amsgrad:2410"] == 7230 and expected["adam:7000000000"] == 14_000_000_000
    return expected


def resumed_exactly(run: str) -> dict[str, Any]:
    """A resumed run ends bit for bit where the uninterrupted one does, and load_checkpoint returns the saved epoch."""
    expected = {"max_abs_difference": 0.0, "resumed_twice_difference": 0.0, "epoch": P.RESUME_RUNS[run]["at"]}
    if P.RESUME_RUNS[run]["optimizer"] in TORCH_OPTIMIZERS:
        assert torch_resume_report(run) == expected  # PyTorch resumes bit for bit too
    return expected


def resume_in(namespace: dict[str, Any], run: str) -> dict[str, Any]:
    """What the checkpoint test cells compute, with the namespace's save/load and optimizer class."""
    optimizer_class = namespace[P.RESUME_RUNS[run]["optimizer"]]  # SGD, Adam, or the setup cell's ProbeOptimizer
    return P.resume_report(namespace["save_checkpoint"], namespace["load_checkpoint"], optimizer_class, run)


# =================================================================================== the checks
def strict(name: str, computed: Callable[[table.Namespace], Any], expected: Callable[[], Any], hint: str,
           mistakes: table.Choice, **tolerances: Any) -> Check:
    """A :class:`~tools.golden.table.Check` whose reference solution agrees with the expected value
    within :data:`STRICT` unless ``parity`` says otherwise."""
    return Check(name, computed, expected, hint, mistakes, **{"parity": STRICT, **tolerances})


# Each check's variants: the mistakes made in the solution cells its test cell runs.
CLIP = made_in("clip_grad_norm")
STATE = made_in("state_accounting")
STATE_OF_OPTIMIZERS = made_in("state_accounting", "bring_sgd", "bring_adam_update", "bring_adam")
CHECKPOINT = made_in("checkpoint")
CHECKPOINT_ADAM = made_in("checkpoint", "bring_adam_update", "bring_adam")
CHECKPOINT_SGD = made_in("checkpoint", "bring_sgd")

CLIP_GENERAL = (
    "total = sqrt(sum of ||g||**2 over every gradient that is not None); coef = max_norm / (total + eps); "
    "multiply every gradient in place by min(coef, 1); return total. See clip_grad_norm_'s docstring."
)
CLIP_ERROR_GENERAL = (
    "With error_if_nonfinite=True and an inf or nan gradient: raise RuntimeError naming 'parameter <i>' (the first "
    "offending position, None grads counted), before changing any gradient."
)
STATE_GENERAL = (
    "state_numbers: sum of value.size, state_bytes: sum of value.nbytes, over every NumPy array value of every "
    "parameter's dict in optimizer.state (ints such as 'step' not counted)."
)
PREDICT_GENERAL = (
    "expected_state_numbers: plain SGD 0, SGD with momentum P, Adam and AdamW 2P, AMSGrad 3P, RMSprop and "
    "Adagrad P; a ValueError for any other name."
)
MEASURED_GENERAL = (
    STATE_GENERAL + " If the counting passes on the probes but not here, the state of your SGD or Adam (section 1) "
    "differs from torch.optim's: SGD with momentum keeps 'momentum_buffer', Adam 'exp_avg' and 'exp_avg_sq' "
    "(plus 'max_exp_avg_sq' with amsgrad), one array per parameter that got a gradient."
)
CHECKPOINT_GENERAL = (
    "save_checkpoint: {'epoch': epoch, 'model': copies of every p.data, 'optimizer': optimizer.state_dict(), "
    "'scheduler': scheduler.state_dict()}; load_checkpoint: copy each array into p.data in place, load both state "
    "dicts, return the epoch."
)
FINAL_GENERAL = (
    "The resumed run must end where torch.optim.Adam + LambdaLR trained without interruption end. If "
    "checkpoint_adam passes but this does not, your Adam (section 1) differs from torch.optim.Adam: see Chapter 3."
)
VISIBLE_PREDICTED = ("sgd_momentum", "adam", "amsgrad")


def _visible_clip_check(key: str, max_norm: float, with_none: bool = False) -> Check:
    return strict(key, lambda ns: visible_clip(ns["clip_grad_norm_"], SLOPEGRAD_CLIP, max_norm, with_none),
                  lambda: visible_clip(torch_clip, TORCH_CLIP, max_norm, with_none), CLIP_GENERAL, CLIP)


def _clip_cases_check(key: str, cases: dict[str, dict], rtol: float = DEFAULT_RTOL,
                      parity: tuple[float, float] = STRICT) -> Check:
    return Check(key, lambda ns: P.clip_cases_report(ns["clip_grad_norm_"], cases),
                 lambda: P.clip_cases_report(torch_clip, cases, TORCH_CLIP), CLIP_GENERAL, CLIP,
                 rtol=rtol, parity=parity)


def _resume_check(key: str, run: str, mistakes: table.Choice) -> Check:
    return Check(key, lambda ns: resume_in(ns, run), lambda: resumed_exactly(run), CHECKPOINT_GENERAL, mistakes,
                 **EXACT, parity=(0.0, 0.0))


CHECKS = (
    # ---- state accounting
    strict("state_visible_probe", lambda ns: P.probe_report(ns["state_numbers"], ns["state_bytes"], "visible"),
           lambda: as_stated(closed_form_probe("visible"), {"numbers": 48, "bytes": 344}), STATE_GENERAL, STATE),
    strict("state_visible_predicted", lambda ns: [ns["expected_state_numbers"](n, 1000) for n in VISIBLE_PREDICTED],
           lambda: as_stated([P.STATE_PER_ENTRY[n] * 1000 for n in VISIBLE_PREDICTED], [1000, 2000, 3000]),
           PREDICT_GENERAL, STATE),
    strict("state_probes", lambda ns: P.probes_report(ns["state_numbers"], ns["state_bytes"]),
           lambda: {probe: closed_form_probe(probe) for probe in PROBED}, STATE_GENERAL, STATE),
    strict("state_predicted_table", lambda ns: P.predictions_report(ns["expected_state_numbers"]),
           closed_form_predictions, PREDICT_GENERAL, STATE),
    strict("state_measured",
           lambda ns: P.measured_state(ns["state_numbers"], ns["state_bytes"], ns["expected_state_numbers"],
                                       {"SGD": ns["SGD"], "Adam": ns["Adam"]}),
           torch_measured_state, MEASURED_GENERAL, STATE_OF_OPTIMIZERS),
    # ---- clip_grad_norm_: against torch.nn.utils.clip_grad_norm_
    _visible_clip_check("clip_visible_scaled", 1.0),
    _visible_clip_check("clip_visible_unchanged", 20.0),
    _visible_clip_check("clip_visible_none", 1.0, with_none=True),
    strict("clip_visible_nonfinite", lambda ns: P.clip_error_report(ns["clip_grad_norm_"], P.CLIP_VISIBLE_ERROR),
           lambda: torch_error_report(P.CLIP_VISIBLE_ERROR), CLIP_ERROR_GENERAL, CLIP),
    _clip_cases_check("clip_cases", P.CLIP_CASES),
    _clip_cases_check("clip_float32", P.CLIP_FLOAT32_CASES, rtol=FLOAT32_RTOL, parity=(FLOAT32_RTOL, STRICT[1])),
    _clip_cases_check("clip_nonfinite", P.CLIP_NONFINITE_CASES),
    strict("clip_errors",
           lambda ns: {n: P.clip_error_report(ns["clip_grad_norm_"], c) for n, c in P.CLIP_ERROR_CASES.items()},
           lambda: {n: torch_error_report(c) for n, c in P.CLIP_ERROR_CASES.items()}, CLIP_ERROR_GENERAL, CLIP),
    strict("clip_eps", lambda ns: P.clip_cases_report(ns["clip_grad_norm_"], P.CLIP_EPS_CASES),
           lambda: P.clip_cases_report(torch_clip_with_eps, P.CLIP_EPS_CASES, TORCH_CLIP),
           CLIP_GENERAL + " With eps given, use it: coef = max_norm / (total + eps).", CLIP),
    strict("clip_in_place", lambda ns: P.clip_in_place_report(ns["clip_grad_norm_"]),
           lambda: P.clip_in_place_report(torch_clip, TORCH_CLIP), HINT_NOT_IN_PLACE, CLIP),
    # ---- checkpoints: bit for bit, and where torch's uninterrupted run ends
    _resume_check("checkpoint_visible", "visible", CHECKPOINT),
    _resume_check("checkpoint_probe_float32", "probe_float32", CHECKPOINT),
    _resume_check("checkpoint_adam", "adam", CHECKPOINT_ADAM),
    _resume_check("checkpoint_sgd", "sgd", CHECKPOINT_SGD),
    _resume_check("checkpoint_at_start", "at_start", CHECKPOINT),
    Check("checkpoint_adam_final",
          lambda ns: P.resumed_parameters(ns["save_checkpoint"], ns["load_checkpoint"], ns["Adam"], "adam"),
          lambda: torch_resume("adam")["finals"][0], FINAL_GENERAL, CHECKPOINT_ADAM,
          rtol=FINAL_RTOL, atol=FINAL_ATOL, parity=(FINAL_RTOL, FINAL_ATOL)),
)


# =================================================================================== recording
def record() -> dict[str, dict]:
    torch.set_default_dtype(torch.float64)
    return table.record(CATALOGUE, CHECKS)
