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

import contextlib
import copy
import io
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL, first_mismatch
from autograder.mistakes.ch6_optimizer_cost import CATALOGUE, HINT_NOT_IN_PLACE
from autograder.problems import optimizer_cost as P
from slopegrad.nn import Linear, Tanh

from .store import spec
from .torch_backend import TORCH

ASSIGNMENT = "ch6_optimizer_cost"
FLOAT32_RTOL = 1e-5  # float32 clipping: torch and NumPy sum in different orders
FINAL_RTOL, FINAL_ATOL = 1e-9, 1e-12  # 24 Adam steps in float64, slopegrad against torch
EXACT = {"rtol": 0.0, "atol": 0.0}  # a resumed run must be bit for bit the uninterrupted one
STRICT = (1e-12, 1e-14)  # how close the reference solution comes to torch in float64
PROBED = ("one_group", "three_groups", "first_without_gradient", "before_any_step")


def name(check: str) -> str:
    return f"{ASSIGNMENT}.{check}"


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
    report = _quiet(lambda: P.clip_error_report(torch_clip, case, TORCH_CLIP))
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
@dataclass(frozen=True)
class Check:
    """One check of the notebook: its expected value (torch or a closed form), what its test cell
    computes from a solution's namespace, and the solution cells it runs (the mistakes made in them
    are its variants). The reference solution must come within ``parity`` of the expected value."""

    name: str
    expected: Callable[[], Any]
    computed: Callable[[dict[str, Any]], Any]
    cells: frozenset[str]
    hint: str
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    parity: tuple[float, float] = STRICT


CLIP = frozenset({"clip_grad_norm"})
STATE = frozenset({"state_accounting"})
STATE_OF_OPTIMIZERS = STATE | {"bring_sgd", "bring_adam_update", "bring_adam"}
CHECKPOINT = frozenset({"checkpoint"})
CHECKPOINT_ADAM = CHECKPOINT | {"bring_adam_update", "bring_adam"}
CHECKPOINT_SGD = CHECKPOINT | {"bring_sgd"}

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
    return Check(key, lambda: visible_clip(torch_clip, TORCH_CLIP, max_norm, with_none),
                 lambda ns: visible_clip(ns["clip_grad_norm_"], SLOPEGRAD_CLIP, max_norm, with_none), CLIP, CLIP_GENERAL)


def _clip_cases_check(key: str, cases: dict[str, dict], rtol: float = DEFAULT_RTOL,
                      parity: tuple[float, float] = STRICT) -> Check:
    return Check(key, lambda: P.clip_cases_report(torch_clip, cases, TORCH_CLIP),
                 lambda ns: P.clip_cases_report(ns["clip_grad_norm_"], cases), CLIP, CLIP_GENERAL,
                 rtol=rtol, parity=parity)


def _resume_check(key: str, run: str, cells: frozenset[str]) -> Check:
    return Check(key, lambda: resumed_exactly(run), lambda ns: resume_in(ns, run), cells, CHECKPOINT_GENERAL,
                 **EXACT, parity=(0.0, 0.0))


CHECKS = (
    # ---- state accounting
    Check("state_visible_probe", lambda: as_stated(closed_form_probe("visible"), {"numbers": 48, "bytes": 344}),
          lambda ns: P.probe_report(ns["state_numbers"], ns["state_bytes"], "visible"), STATE, STATE_GENERAL),
    Check("state_visible_predicted",
          lambda: as_stated([P.STATE_PER_ENTRY[n] * 1000 for n in VISIBLE_PREDICTED], [1000, 2000, 3000]),
          lambda ns: [ns["expected_state_numbers"](n, 1000) for n in VISIBLE_PREDICTED], STATE, PREDICT_GENERAL),
    Check("state_probes", lambda: {probe: closed_form_probe(probe) for probe in PROBED},
          lambda ns: P.probes_report(ns["state_numbers"], ns["state_bytes"]), STATE, STATE_GENERAL),
    Check("state_predicted_table", closed_form_predictions,
          lambda ns: P.predictions_report(ns["expected_state_numbers"]), STATE, PREDICT_GENERAL),
    Check("state_measured", torch_measured_state,
          lambda ns: P.measured_state(ns["state_numbers"], ns["state_bytes"], ns["expected_state_numbers"],
                                      {"SGD": ns["SGD"], "Adam": ns["Adam"]}), STATE_OF_OPTIMIZERS, MEASURED_GENERAL),
    # ---- clip_grad_norm_: against torch.nn.utils.clip_grad_norm_
    _visible_clip_check("clip_visible_scaled", 1.0),
    _visible_clip_check("clip_visible_unchanged", 20.0),
    _visible_clip_check("clip_visible_none", 1.0, with_none=True),
    Check("clip_visible_nonfinite", lambda: torch_error_report(P.CLIP_VISIBLE_ERROR),
          lambda ns: P.clip_error_report(ns["clip_grad_norm_"], P.CLIP_VISIBLE_ERROR), CLIP, CLIP_ERROR_GENERAL),
    _clip_cases_check("clip_cases", P.CLIP_CASES),
    _clip_cases_check("clip_float32", P.CLIP_FLOAT32_CASES, rtol=FLOAT32_RTOL, parity=(FLOAT32_RTOL, STRICT[1])),
    _clip_cases_check("clip_nonfinite", P.CLIP_NONFINITE_CASES),
    Check("clip_errors", lambda: {n: torch_error_report(c) for n, c in P.CLIP_ERROR_CASES.items()},
          lambda ns: {n: P.clip_error_report(ns["clip_grad_norm_"], c) for n, c in P.CLIP_ERROR_CASES.items()},
          CLIP, CLIP_ERROR_GENERAL),
    Check("clip_eps", lambda: P.clip_cases_report(torch_clip_with_eps, P.CLIP_EPS_CASES, TORCH_CLIP),
          lambda ns: P.clip_cases_report(ns["clip_grad_norm_"], P.CLIP_EPS_CASES), CLIP,
          CLIP_GENERAL + " With eps given, use it: coef = max_norm / (total + eps)."),
    Check("clip_in_place", lambda: P.clip_in_place_report(torch_clip, TORCH_CLIP),
          lambda ns: P.clip_in_place_report(ns["clip_grad_norm_"]), CLIP, HINT_NOT_IN_PLACE),
    # ---- checkpoints: bit for bit, and where torch's uninterrupted run ends
    _resume_check("checkpoint_visible", "visible", CHECKPOINT),
    _resume_check("checkpoint_probe_float32", "probe_float32", CHECKPOINT),
    _resume_check("checkpoint_adam", "adam", CHECKPOINT_ADAM),
    _resume_check("checkpoint_sgd", "sgd", CHECKPOINT_SGD),
    _resume_check("checkpoint_at_start", "at_start", CHECKPOINT),
    Check("checkpoint_adam_final", lambda: torch_resume("adam")["finals"][0],
          lambda ns: P.resumed_parameters(ns["save_checkpoint"], ns["load_checkpoint"], ns["Adam"], "adam"),
          CHECKPOINT_ADAM, FINAL_GENERAL, rtol=FINAL_RTOL, atol=FINAL_ATOL, parity=(FINAL_RTOL, FINAL_ATOL)),
)


# =================================================================================== recording
def _quiet(function: Callable[[], Any]) -> Any:
    """``function()`` with what it prints (the errors the problems report) and NumPy's warnings swallowed."""
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        return function()


def variants(check: Check) -> list[tuple[str, Any]]:
    """(hint, value) of every mistake made in the check's cells: what a student who makes it records."""
    return [(m.hint, _quiet(lambda m=m: check.computed(CATALOGUE.solution(m))))
            for m in CATALOGUE.mistakes if any(edit.cell in check.cells for edit in m.edits)]


def recorded(check: Check) -> dict:
    expected = check.expected()
    found = first_mismatch(_quiet(lambda: check.computed(CATALOGUE.solution())), expected, *check.parity)
    if found is not None:
        raise AssertionError(f"{check.name}: the reference solution differs from the expected value: {found}")
    return spec(expected, hint=check.hint, variants=variants(check), rtol=check.rtol, atol=check.atol)


def record() -> dict[str, dict]:
    torch.set_default_dtype(torch.float64)
    return {name(check.name): recorded(check) for check in CHECKS}
