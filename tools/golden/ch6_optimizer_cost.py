"""Golden expectations of Chapter 6 (what optimizers cost), from PyTorch and closed forms.

* Clipping: ``torch.nn.utils.clip_grad_norm_`` on exactly the gradients of
  :mod:`autograder.problems.cost` (float64 and float32, ``None`` gradients, ``inf`` and ``nan``,
  a generator, a single tensor); a custom ``eps`` (which torch does not take) and the message that
  names the offending parameter (torch's does not) come from their closed forms.
* State accounting: the elements and bytes of ``torch.optim.SGD`` / ``Adam`` state (the ``step``
  counters excluded) after the same steps on the same problems; the probes and the predictions
  from closed forms.
* Checkpoints: the same resume procedure run on ``torch.nn`` + ``torch.optim`` +
  ``torch.optim.lr_scheduler.LambdaLR`` with PyTorch's own ``state_dict()``s (the differences are
  exactly 0.0 there too) and the parameters at the end of PyTorch's uninterrupted run.

The variants are the same procedures run on small, deliberately wrong implementations of the
chapter's common mistakes (below), each with a hint that names the misconception and the fix.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any, Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as torch_schedulers

from autograder.compare import DEFAULT_ATOL, DEFAULT_RTOL, first_mismatch
from autograder.problems import cost as P
from slopegrad.nn import Linear, Tanh
from slopegrad.optim import Optimizer, resolve_lr

from . import ch3_adam
from .store import spec
from .torch_backend import TORCH

ASSIGNMENT = "ch6_optimizer_cost"
FLOAT32_RTOL = 1e-5  # float32 clipping: torch and NumPy sum in different orders
FINAL_RTOL, FINAL_ATOL = 1e-9, 1e-12  # 24 Adam steps in float64, slopegrad against torch
EXACT = {"rtol": 0.0, "atol": 0.0}  # a resumed run must be bit for bit the uninterrupted one


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
    """:func:`autograder.problems.cost.resume_run` on PyTorch, checkpoints made of its own state dicts."""
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


# ======================================================= correct and wrong slopegrad pieces
class ReferenceSGD(Optimizer):
    """torch.optim.SGD (momentum, dampening, weight decay, Nesterov); ``always_buffer`` is the mistake
    of keeping a momentum buffer even when momentum = 0."""

    def __init__(self, params, lr=None, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 learning_rate=None, always_buffer: bool = False):
        self.always_buffer = always_buffer
        super().__init__(params, dict(lr=resolve_lr(lr, learning_rate), momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure=None):
        for group in self.param_groups:
            mu, tau = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p.data if group["weight_decay"] else p.grad
                if mu != 0 or self.always_buffer:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = np.array(g, copy=True)
                    else:
                        state["momentum_buffer"] *= mu
                        state["momentum_buffer"] += (1 - tau) * g
                    if mu != 0:
                        g = g + mu * state["momentum_buffer"] if group["nesterov"] else state["momentum_buffer"]
                p.data -= group["lr"] * g


def reference_adam(params, **options):
    return ch3_adam.WrongAdam(params, mistake=None, **options)


def adam_ignoring_amsgrad(params, **options):
    return ch3_adam.WrongAdam(params, mistake=ch3_adam.AMSGRAD_IGNORED, **options)


def sgd_always_buffer(params, **options):
    return ReferenceSGD(params, always_buffer=True, **options)


REFERENCE_CLASSES = {"SGD": ReferenceSGD, "Adam": reference_adam, "ProbeOptimizer": P.ProbeOptimizer}

# ---- clip_grad_norm_ ---------------------------------------------------------------------------
PER_PARAMETER = "per_parameter"
SCALES_UP = "scales_up"
NO_EPS = "no_eps"
SQUARED_NORM = "squared_norm"
SUM_OF_NORMS = "sum_of_norms"
RETURNS_CLIPPED_NORM = "returns_clipped_norm"
CRASH_ON_NONE = "crash_on_none"
CRASH_ON_NONE_TYPE = "crash_on_none_type"
GENERATOR_TWICE = "generator_twice"
NAN_NOT_SCALED = "nan_not_scaled"
CONDITION_ON_TOTAL = "condition_on_total"
INDEX_AMONG_GRADIENTS = "index_among_gradients"
MESSAGE_WITHOUT_INDEX = "message_without_index"
ERROR_AFTER_SCALING = "error_after_scaling"
NO_ERROR = "no_error"
VALUE_ERROR = "value_error"
NOT_IN_PLACE = "not_in_place"
NO_SINGLE_PARAMETER = "no_single_parameter"

CLIP_HINTS = {
    PER_PARAMETER: (
        "Each gradient looks clipped by its own norm. clip_grad_norm_ clips by the GLOBAL norm: "
        "total = sqrt(sum over all gradients of ||g||**2), one coefficient max_norm / (total + eps), and "
        "every gradient multiplied by that same coefficient, so the direction of the whole update is kept."
    ),
    SCALES_UP: (
        "Gradients whose total norm is already below max_norm were scaled UP. Clipping only ever shrinks: "
        "coef = max_norm / (total + eps) is clamped to 1 (torch: clamp(coef, max=1.0)), so small gradients "
        "are left exactly as they are."
    ),
    NO_EPS: (
        "The scale looks like max_norm / total, without eps. Use coef = max_norm / (total + eps) (eps = 1e-6 "
        "by default, as in torch): it avoids a division by zero and makes the clipped norm slightly below max_norm."
    ),
    SQUARED_NORM: (
        "The total norm looks squared: take the square root, total = sqrt(sum of the squares of every "
        "gradient entry), the 2-norm of all gradients together."
    ),
    SUM_OF_NORMS: (
        "The total looks like the SUM of the per-parameter norms. The global norm is the 2-norm of the "
        "per-parameter norms: total = sqrt(||g_1||**2 + ||g_2||**2 + ...)."
    ),
    RETURNS_CLIPPED_NORM: (
        "Return the total norm BEFORE clipping (as torch does), so that a training loop can log how large the "
        "gradients really were; yours looks like the norm after scaling."
    ),
    CRASH_ON_NONE: (
        "Your clip_grad_norm_ crashed with a TypeError or AttributeError, most likely on a parameter whose grad "
        "is None. Skip those parameters, both in the norm and in the scaling (if every grad is None, return 0.0)."
    ),
    CRASH_ON_NONE_TYPE: (
        "Your clip_grad_norm_ crashed with a TypeError or AttributeError, most likely on a parameter whose grad "
        "is None. Skip those parameters, both in the norm and in the scaling (if every grad is None, return 0.0)."
    ),
    GENERATOR_TWICE: (
        "When the parameters come as a generator (model.parameters()), nothing was scaled: a generator can be "
        "read only once, and your code reads it twice (once for the norm, once to scale). Make a list first: "
        "parameters = list(parameters)."
    ),
    NO_SINGLE_PARAMETER: (
        "A single parameter (not in a list) must work too, as in torch: if `parameters` has a .grad itself, "
        "wrap it: parameters = [parameters]."
    ),
    NAN_NOT_SCALED: (
        "With a nan total norm (and error_if_nonfinite=False) the gradients were left unchanged. torch computes "
        "clamp(coef, max=1.0), which keeps a nan, and multiplies every gradient by it: they all become nan, so the "
        "problem shows instead of hiding. Use clamped = np.minimum(coef, 1.0) and multiply by it."
    ),
    CONDITION_ON_TOTAL: (
        "When the total norm equals max_norm exactly, the gradients must still be multiplied by "
        "max_norm / (total + eps), which is just below 1: decide on the coefficient (scale when coef < 1), "
        "not on total > max_norm."
    ),
    INDEX_AMONG_GRADIENTS: (
        "The error names the wrong parameter: count positions over ALL the parameters given (those whose grad "
        "is None included), so that 'parameter 2' is list(parameters)[2], the one a user can look up in "
        "list(model.named_parameters())."
    ),
    MESSAGE_WITHOUT_INDEX: (
        "The error must say which parameter has the non-finite gradient: put 'parameter <i>' in the message, "
        "with i its position in the list of parameters given (the first one whose gradient holds inf or nan)."
    ),
    ERROR_AFTER_SCALING: (
        "With error_if_nonfinite=True the gradients must be left untouched when raising: check the total norm "
        "(np.isfinite) BEFORE scaling anything, and raise right away."
    ),
    NO_ERROR: (
        "With error_if_nonfinite=True, a non-finite total norm (an inf or nan gradient) must raise a "
        "RuntimeError instead of clipping."
    ),
    VALUE_ERROR: (
        "Raise a RuntimeError (as torch.nn.utils.clip_grad_norm_ does) when error_if_nonfinite=True and the "
        "total norm is not finite."
    ),
    NOT_IN_PLACE: (
        "Scale the gradients IN PLACE (p.grad *= coef), as the trailing underscore of clip_grad_norm_ promises: "
        "p.grad = p.grad * coef makes new arrays, and code holding the old ones does not see the clipping."
    ),
}
CLIP_GENERAL = (
    "total = sqrt(sum of ||g||**2 over every gradient that is not None); coef = max_norm / (total + eps); "
    "multiply every gradient in place by min(coef, 1); return total. See clip_grad_norm_'s docstring."
)
CLIP_ERROR_GENERAL = (
    "With error_if_nonfinite=True and an inf or nan gradient: raise RuntimeError naming 'parameter <i>' (the first "
    "offending position, None grads counted), before changing any gradient."
)


def wrong_clip(mistake: str) -> Callable[..., float]:
    """clip_grad_norm_ with one common mistake switched on."""

    def clip(parameters, max_norm, eps=1e-6, error_if_nonfinite=False):
        if hasattr(parameters, "grad"):
            if mistake == NO_SINGLE_PARAMETER:
                return 0.0  # list(parameter) gives its rows, tensors without gradients: nothing is clipped
            parameters = [parameters]
        if mistake != GENERATOR_TWICE:
            parameters = list(parameters)
        if mistake in (CRASH_ON_NONE, CRASH_ON_NONE_TYPE):
            indexed = [(i, p.grad) for i, p in enumerate(parameters)]
            if any(g is None for _, g in indexed):
                if mistake == CRASH_ON_NONE:
                    raise AttributeError("'NoneType' object has no attribute 'ravel'")
                raise TypeError("unsupported operand type(s) for *: 'NoneType' and 'NoneType'")
        else:
            indexed = [(i, p.grad) for i, p in enumerate(parameters) if p.grad is not None]
        if not indexed:
            return 0.0
        norms = np.array([np.linalg.norm(g.ravel()) for _, g in indexed])
        total = float(np.linalg.norm(norms))
        if mistake == SQUARED_NORM:
            total = total**2
        elif mistake == SUM_OF_NORMS:
            total = float(np.sum(norms))

        bad_positions = [k for k, (_, g) in enumerate(indexed) if not np.all(np.isfinite(g))]  # before scaling

        def error():
            bad = bad_positions[0]
            position = bad if mistake == INDEX_AMONG_GRADIENTS else indexed[bad][0]
            message = "non-finite gradient" if mistake == MESSAGE_WITHOUT_INDEX else f"non-finite gradient in parameter {position}"
            return (ValueError if mistake == VALUE_ERROR else RuntimeError)(message)

        check_first = error_if_nonfinite and not np.isfinite(total) and mistake not in (NO_ERROR, ERROR_AFTER_SCALING)
        if check_first:
            raise error()
        coef = max_norm / (total if mistake == NO_EPS else total + eps)
        grads = [g for _, g in indexed]
        if mistake == PER_PARAMETER:
            coefs = [max_norm / (n + eps) for n in norms]
            coefs = [float(np.minimum(c, 1.0)) for c in coefs]
        elif mistake == SCALES_UP:
            coefs = [coef] * len(grads)
        elif mistake == NAN_NOT_SCALED:
            coefs = [coef if coef < 1 else 1.0] * len(grads)
        elif mistake == CONDITION_ON_TOTAL:
            coefs = [coef if total > max_norm else 1.0] * len(grads)
        else:
            coefs = [float(np.minimum(coef, 1.0))] * len(grads)
        with np.errstate(all="ignore"):
            if mistake == GENERATOR_TWICE:
                for p in parameters:  # a generator is exhausted by now: nothing happens
                    if p.grad is not None:
                        p.grad *= coefs[0]
            elif mistake == NOT_IN_PLACE:
                targets = [p for p in parameters if p.grad is not None]
                for p, c in zip(targets, coefs):
                    p.grad = p.grad * c
            else:
                for g, c in zip(grads, coefs):
                    g *= c
        if error_if_nonfinite and mistake == ERROR_AFTER_SCALING and bad_positions:
            raise error()
        if mistake == RETURNS_CLIPPED_NORM:
            return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
        return total

    return clip


def reference_clip(parameters, max_norm, eps=1e-6, error_if_nonfinite=False):
    """The closed form (used where torch has no counterpart: a custom eps, the message naming the parameter)."""
    parameters = [parameters] if hasattr(parameters, "grad") else list(parameters)
    indexed = [(i, p.grad) for i, p in enumerate(parameters) if p.grad is not None]
    if not indexed:
        return 0.0
    total = float(np.linalg.norm([np.linalg.norm(g.ravel()) for _, g in indexed]))
    if error_if_nonfinite and not np.isfinite(total):
        bad = next(i for i, g in indexed if not np.all(np.isfinite(g)))
        raise RuntimeError(f"the gradient of parameter {bad} is not finite")
    clamped = float(np.minimum(max_norm / (total + eps), 1.0))
    for _, g in indexed:
        g *= clamped
    return total


# ---- state accounting ---------------------------------------------------------------------------
COUNTS_ARRAYS = "counts_arrays"
COUNTS_STEP = "counts_step"
PER_GROUP = "per_group"
BYTES_AS_FLOAT64 = "bytes_as_float64"
AMSGRAD_AS_ADAM = "amsgrad_as_adam"
ADAM_ONE_BUFFER = "adam_one_buffer"
UNKNOWN_IS_ZERO = "unknown_is_zero"
ADAM_WITHOUT_AMSGRAD = "adam_without_amsgrad"
SGD_BUFFER_WITHOUT_MOMENTUM = "sgd_buffer_without_momentum"

STATE_HINTS = {
    COUNTS_ARRAYS: (
        "state_numbers looks like it counts ARRAYS, not numbers: add up value.size (the number of entries) of "
        "every NumPy array in every parameter's state dict."
    ),
    COUNTS_STEP: (
        "The step counter (an int) was counted too. Count only NumPy arrays (isinstance(value, np.ndarray)): "
        "'step' is one number per parameter, not per entry, and is not part of the P / 2P / 3P."
    ),
    PER_GROUP: (
        "The count looks taken per parameter GROUP (e.g. the state of group['params'][0] only). The state is "
        "per PARAMETER: go over every entry of optimizer.state (for state in optimizer.state.values()), whatever "
        "the groups."
    ),
    BYTES_AS_FLOAT64: (
        "state_bytes looks like 8 bytes per number. The size of a number depends on the dtype (float32: 4, "
        "float64: 8): add up value.nbytes of every array."
    ),
    AMSGRAD_AS_ADAM: (
        "AMSGrad keeps THREE arrays per parameter (exp_avg, exp_avg_sq and max_exp_avg_sq): expected_state_numbers"
        "('amsgrad', P) is 3P."
    ),
    ADAM_ONE_BUFFER: (
        "Adam and AdamW keep TWO arrays per parameter (exp_avg m and exp_avg_sq v): 2P. SGD with momentum, "
        "RMSprop and Adagrad keep one (P), plain SGD none."
    ),
    UNKNOWN_IS_ZERO: (
        "An unknown optimizer name must raise a ValueError (saying which names are known), not return a number."
    ),
    ADAM_WITHOUT_AMSGRAD: (
        "Your state_numbers counts 20 numbers for Adam(amsgrad=True) where 30 are predicted: your Adam from "
        "Chapter 3 keeps no state['max_exp_avg_sq'] with amsgrad=True. Fix it there and paste it again in "
        "section 1."
    ),
    SGD_BUFFER_WITHOUT_MOMENTUM: (
        "Your SGD from Chapter 2 keeps a momentum buffer even when momentum = 0: torch.optim.SGD keeps no state "
        "then (0 extra numbers). Fix it there and paste it again in section 1."
    ),
}
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


def _arrays(optimizer, mistake=None):
    if mistake == PER_GROUP:
        states = [optimizer.state.get(group["params"][0], {}) for group in optimizer.param_groups]
    else:
        states = list(optimizer.state.values())
    for state in states:
        for value in state.values():
            if isinstance(value, np.ndarray) or mistake == COUNTS_STEP:
                yield np.asarray(value)


def wrong_accounting(mistake: str) -> tuple[Callable, Callable, Callable]:
    """(state_numbers, state_bytes, expected_state_numbers) with one mistake."""

    def numbers(optimizer):
        if mistake == COUNTS_ARRAYS:
            return sum(1 for _ in _arrays(optimizer))
        return int(sum(a.size for a in _arrays(optimizer, mistake)))

    def nbytes(optimizer):
        arrays = _arrays(optimizer, mistake if mistake == PER_GROUP else None)
        if mistake == BYTES_AS_FLOAT64:
            return int(sum(8 * a.size for a in arrays))
        return int(sum(a.nbytes for a in arrays))

    def expected(name, size):
        per_entry = dict(P.STATE_PER_ENTRY)
        if mistake == AMSGRAD_AS_ADAM:
            per_entry["amsgrad"] = 2
        if mistake == ADAM_ONE_BUFFER:
            per_entry["adam"] = per_entry["adamw"] = 1
        if name not in per_entry:
            if mistake == UNKNOWN_IS_ZERO:
                return 0
            raise ValueError(name)
        return per_entry[name] * size

    return numbers, nbytes, expected


REFERENCE_ACCOUNTING = wrong_accounting("none")

# ---- checkpoints ---------------------------------------------------------------------------------
ALIASED_PARAMETERS = "aliased_parameters"
ALIASED_ON_LOAD = "aliased_on_load"
LIVE_OPTIMIZER_STATE = "live_optimizer_state"
NO_OPTIMIZER_STATE = "no_optimizer_state"
NO_SCHEDULER_STATE = "no_scheduler_state"
NO_PARAMETERS = "no_parameters"
EPOCH_PLUS_ONE = "epoch_plus_one"

CHECKPOINT_HINTS = {
    ALIASED_PARAMETERS: (
        "The checkpoint ALIASES the parameters instead of copying them: saving p.data stores the very arrays "
        "that training keeps changing in place, so the checkpoint silently follows training. Save copies, "
        "np.array(p.data, copy=True) (or p.data.copy())."
    ),
    ALIASED_ON_LOAD: (
        "Resuming once works but resuming a second time from the same checkpoint does not: loading made the "
        "model's p.data the checkpoint's own arrays (p.data = saved), so training then changed the checkpoint. "
        "Copy into the parameter instead: p.data[...] = saved."
    ),
    NO_OPTIMIZER_STATE: (
        "The optimizer's state was not restored: the resumed optimizer starts with empty moments and step "
        "counters. Either it was not saved and loaded at all, or the checkpoint holds the live optimizer.state "
        "(keyed by the OLD parameter objects, so the new optimizer never finds it, and sharing their arrays). Save "
        "optimizer.state_dict() (a copy, parameters numbered in order) and load it with "
        "optimizer.load_state_dict(...) into the new optimizer."
    ),
    NO_SCHEDULER_STATE: (
        "The scheduler was not restored: a fresh scheduler starts again at epoch 0, so the learning rates after "
        "resuming differ. Save scheduler.state_dict() and load it with scheduler.load_state_dict()."
    ),
    NO_PARAMETERS: (
        "The model's parameters were not restored: the resumed run starts from the fresh model's own weights. "
        "Copy every saved array back into its parameter (p.data[...] = saved) in model.parameters() order."
    ),
    EPOCH_PLUS_ONE: (
        "load_checkpoint must return the epoch that was saved (the number of epochs already done), so that "
        "training resumes with exactly the next epoch; yours is off by one."
    ),
}
CHECKPOINT_GENERAL = (
    "save_checkpoint: {'epoch': epoch, 'model': copies of every p.data, 'optimizer': optimizer.state_dict(), "
    "'scheduler': scheduler.state_dict()}; load_checkpoint: copy each array into p.data in place, load both state "
    "dicts, return the epoch."
)
FINAL_GENERAL = (
    "The resumed run must end where torch.optim.Adam + LambdaLR trained without interruption end. If "
    "checkpoint_adam passes but this does not, your Adam (section 1) differs from torch.optim.Adam: see Chapter 3."
)


def wrong_checkpoint(mistake: str) -> tuple[Callable, Callable]:
    """(save_checkpoint, load_checkpoint) with one mistake."""

    def save(model, optimizer, scheduler, epoch):
        if mistake == ALIASED_PARAMETERS:
            params = [p.data for p in model.parameters()]
        else:
            params = [np.array(p.data, copy=True) for p in model.parameters()]
        optimizer_state = optimizer.state if mistake == LIVE_OPTIMIZER_STATE else optimizer.state_dict()
        return {"epoch": epoch, "model": params, "optimizer": optimizer_state, "scheduler": scheduler.state_dict()}

    def load(checkpoint, model, optimizer, scheduler):
        if mistake != NO_PARAMETERS:
            for p, saved in zip(model.parameters(), checkpoint["model"]):
                if mistake == ALIASED_ON_LOAD:
                    p.data = saved
                else:
                    p.data[...] = saved
        if mistake == LIVE_OPTIMIZER_STATE:
            optimizer.state = checkpoint["optimizer"]
        elif mistake != NO_OPTIMIZER_STATE:
            optimizer.load_state_dict(checkpoint["optimizer"])
        if mistake != NO_SCHEDULER_STATE:
            scheduler.load_state_dict(checkpoint["scheduler"])
        return checkpoint["epoch"] + (1 if mistake == EPOCH_PLUS_ONE else 0)

    return save, load


REFERENCE_CHECKPOINT = wrong_checkpoint("none")


# =================================================================================== recording
def _variants(expected: Any, candidates: list[tuple[str, Any]], rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL) -> list[tuple[str, Any]]:
    """Keep the (hint, wrong value) pairs that differ from ``expected`` and from each kept one."""
    kept: list[tuple[str, Any]] = []
    for hint, value in candidates:
        if first_mismatch(value, expected, rtol, atol) is None:
            continue
        if any(first_mismatch(value, other, rtol, atol) is None for _, other in kept):
            continue
        kept.append((hint, value))
    return kept


def _same(a: Any, b: Any, what: str, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    found = first_mismatch(a, b, rtol, atol)
    if found is not None:
        raise AssertionError(f"{what}: {found}")


def _quiet(function: Callable[[], Any]) -> Any:
    """``function()`` with what it prints (the errors the problems report) swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function()


def _checked(expected: Any, compute: Callable[[Any], Any], wrong: list[tuple[str, Any]], general: str,
             **tolerances: float) -> dict:
    candidates = [(hint, _quiet(lambda w=w: compute(w))) for hint, w in wrong]
    return spec(expected, hint=general, variants=_variants(expected, candidates, **tolerances), **tolerances)


VISIBLE_GRADS = {"w": np.array([3.0, 4.0]), "b": np.array([[12.0]])}


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


class _SlopegradClipBackend:
    def parameter(self, array):
        return P.SLOPEGRAD.parameter(array)

    def gradient(self, array):
        return np.array(array, copy=True)

    def grad_values(self, grad):
        return np.array(grad, dtype=np.float64, copy=True)


def _visible_clip_variants(max_norm: float, with_none: bool, mistakes) -> list[tuple[str, Any]]:
    return [(CLIP_HINTS[m], _quiet(lambda m=m: visible_clip(wrong_clip(m), _SlopegradClipBackend(), max_norm, with_none)))
            for m in mistakes]


CLIP_VALUE_MISTAKES = (PER_PARAMETER, SCALES_UP, NO_EPS, SQUARED_NORM, SUM_OF_NORMS, RETURNS_CLIPPED_NORM,
                       CRASH_ON_NONE, CRASH_ON_NONE_TYPE, GENERATOR_TWICE, NO_SINGLE_PARAMETER, NAN_NOT_SCALED, CONDITION_ON_TOTAL,
                       NOT_IN_PLACE)
CLIP_ERROR_MISTAKES = (INDEX_AMONG_GRADIENTS, MESSAGE_WITHOUT_INDEX, ERROR_AFTER_SCALING, NO_ERROR, VALUE_ERROR)


def _clip_checks() -> dict[str, dict]:
    checks: dict[str, dict] = {}
    value_wrong = [(CLIP_HINTS[m], wrong_clip(m)) for m in CLIP_VALUE_MISTAKES]
    error_wrong = [(CLIP_HINTS[m], wrong_clip(m)) for m in CLIP_ERROR_MISTAKES]

    # visible
    for key, max_norm, with_none in (("clip_visible_scaled", 1.0, False), ("clip_visible_unchanged", 20.0, False),
                                     ("clip_visible_none", 1.0, True)):
        expected = visible_clip(torch_clip, TORCH_CLIP, max_norm, with_none)
        _same(visible_clip(reference_clip, _SlopegradClipBackend(), max_norm, with_none), expected, key)
        checks[key] = spec(expected, hint=CLIP_GENERAL,
                           variants=_variants(expected, _visible_clip_variants(max_norm, with_none, CLIP_VALUE_MISTAKES)))
    expected = _quiet(lambda: P.clip_error_report(torch_clip, P.CLIP_VISIBLE_ERROR, TORCH_CLIP))
    assert expected["names_parameter"] is False  # torch's message names no parameter: ours must
    expected["names_parameter"] = True
    _same(_quiet(lambda: P.clip_error_report(reference_clip, P.CLIP_VISIBLE_ERROR)), expected, "visible error")
    checks["clip_visible_nonfinite"] = _checked(
        expected, lambda clip: P.clip_error_report(clip, P.CLIP_VISIBLE_ERROR), error_wrong, CLIP_ERROR_GENERAL)

    # hidden, against torch
    for key, cases, tolerance in (("clip_cases", P.CLIP_CASES, DEFAULT_RTOL),
                                  ("clip_float32", P.CLIP_FLOAT32_CASES, FLOAT32_RTOL),
                                  ("clip_nonfinite", P.CLIP_NONFINITE_CASES, DEFAULT_RTOL)):
        expected = P.clip_cases_report(torch_clip, cases, TORCH_CLIP)
        _same(_quiet(lambda c=cases: P.clip_cases_report(reference_clip, c)), expected, key, rtol=tolerance)
        checks[key] = _checked(expected, lambda clip, c=cases: P.clip_cases_report(clip, c), value_wrong,
                               CLIP_GENERAL, rtol=tolerance, atol=DEFAULT_ATOL)
    expected = {}
    for case_name, case in P.CLIP_ERROR_CASES.items():
        report = _quiet(lambda c=case: P.clip_error_report(torch_clip, c, TORCH_CLIP))
        assert report == {"raised": "RuntimeError", "names_parameter": False, "grads_unchanged": True}, report
        expected[case_name] = {**report, "names_parameter": True}
    errors = lambda clip: {n: P.clip_error_report(clip, c) for n, c in P.CLIP_ERROR_CASES.items()}  # noqa: E731
    _same(_quiet(lambda: errors(reference_clip)), expected, "clip_errors")
    checks["clip_errors"] = _checked(expected, errors, error_wrong, CLIP_ERROR_GENERAL)

    # a custom eps: no torch counterpart, the closed form
    expected = _quiet(lambda: P.clip_cases_report(reference_clip, P.CLIP_EPS_CASES))
    checks["clip_eps"] = _checked(expected, lambda clip: P.clip_cases_report(clip, P.CLIP_EPS_CASES), value_wrong,
                                  CLIP_GENERAL + " With eps given, use it: coef = max_norm / (total + eps).")
    expected = P.clip_in_place_report(torch_clip, TORCH_CLIP)
    checks["clip_in_place"] = _checked(expected, P.clip_in_place_report, value_wrong, CLIP_HINTS[NOT_IN_PLACE])
    return checks


def _state_checks() -> dict[str, dict]:
    checks: dict[str, dict] = {}
    counting = [(STATE_HINTS[m], wrong_accounting(m)) for m in (COUNTS_ARRAYS, COUNTS_STEP, PER_GROUP, BYTES_AS_FLOAT64)]
    predicting = [(STATE_HINTS[m], wrong_accounting(m)) for m in (AMSGRAD_AS_ADAM, ADAM_ONE_BUFFER, UNKNOWN_IS_ZERO)]

    def closed_form(probe: str) -> dict[str, int]:
        numbers = nbytes = 0
        for group in P.PROBES[probe]:
            for shape, dtype, has_grad in group:
                if has_grad and probe != "before_any_step":
                    size = int(np.prod(shape, dtype=np.int64))
                    numbers += 2 * size  # 'mean' and 'peak'
                    nbytes += 2 * size * np.dtype(dtype).itemsize
        return {"numbers": numbers, "bytes": nbytes}

    expected = closed_form("visible")
    assert expected == {"numbers": 48, "bytes": 344}
    _same(P.probe_report(*REFERENCE_ACCOUNTING[:2], "visible"), expected, "visible probe")
    checks["state_visible_probe"] = _checked(expected, lambda w: P.probe_report(w[0], w[1], "visible"), counting,
                                             STATE_GENERAL)
    expected = [1000, 2000, 3000]
    checks["state_visible_predicted"] = _checked(
        expected, lambda w: [w[2](n, 1000) for n in ("sgd_momentum", "adam", "amsgrad")], predicting, PREDICT_GENERAL)

    names = ("one_group", "three_groups", "first_without_gradient", "before_any_step")
    expected = {probe: closed_form(probe) for probe in names}
    _same(P.probes_report(*REFERENCE_ACCOUNTING[:2], names), expected, "probes")
    checks["state_probes"] = _checked(expected, lambda w: P.probes_report(w[0], w[1], names), counting, STATE_GENERAL)

    expected = {f"{n}:{s}": P.STATE_PER_ENTRY[n] * s for n in P.PREDICTION_NAMES for s in P.PREDICTION_SIZES}
    expected["unknown_name"] = P.ERROR_PREFIX + "ValueError"
    assert expected["amsgrad:2410"] == 7230 and expected["adam:7000000000"] == 14_000_000_000
    checks["state_predicted_table"] = _checked(expected, lambda w: P.predictions_report(w[2]), predicting,
                                               PREDICT_GENERAL)

    # real optimizers: torch.optim's state, counted
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
    reference = {"SGD": ReferenceSGD, "Adam": reference_adam}
    _same(P.measured_state(*REFERENCE_ACCOUNTING, reference), expected, "measured state")
    wrong = [(hint, (w, reference)) for hint, w in counting + predicting]
    wrong += [(STATE_HINTS[ADAM_WITHOUT_AMSGRAD], (REFERENCE_ACCOUNTING, {"SGD": ReferenceSGD, "Adam": adam_ignoring_amsgrad})),
              (STATE_HINTS[SGD_BUFFER_WITHOUT_MOMENTUM], (REFERENCE_ACCOUNTING, {"SGD": sgd_always_buffer, "Adam": reference_adam}))]
    checks["state_measured"] = _checked(expected, lambda w: P.measured_state(*w[0], w[1]), wrong, MEASURED_GENERAL)
    return checks


CHECKPOINT_MISTAKES = (ALIASED_PARAMETERS, ALIASED_ON_LOAD, NO_OPTIMIZER_STATE, LIVE_OPTIMIZER_STATE,
                       NO_SCHEDULER_STATE, NO_PARAMETERS, EPOCH_PLUS_ONE)


def _checkpoint_checks() -> dict[str, dict]:
    checks: dict[str, dict] = {}
    wrong = [(CHECKPOINT_HINTS[NO_OPTIMIZER_STATE if m == LIVE_OPTIMIZER_STATE else m], wrong_checkpoint(m))
             for m in CHECKPOINT_MISTAKES]
    for key, run in (("checkpoint_visible", "visible"), ("checkpoint_probe_float32", "probe_float32"),
                     ("checkpoint_adam", "adam"), ("checkpoint_sgd", "sgd"), ("checkpoint_at_start", "at_start")):
        spec_ = P.RESUME_RUNS[run]
        cls = REFERENCE_CLASSES[spec_["optimizer"]]
        if spec_["optimizer"] in TORCH_OPTIMIZERS:
            expected = torch_resume_report(run)  # PyTorch resumes bit for bit too
        else:
            expected = {"max_abs_difference": 0.0, "resumed_twice_difference": 0.0, "epoch": spec_["at"]}
        assert expected == {"max_abs_difference": 0.0, "resumed_twice_difference": 0.0, "epoch": spec_["at"]}, expected
        _same(P.resume_report(*REFERENCE_CHECKPOINT, cls, run), expected, key, **EXACT)
        checks[key] = _checked(expected, lambda w, c=cls, r=run: P.resume_report(w[0], w[1], c, r), wrong,
                               CHECKPOINT_GENERAL, **EXACT)
    expected = torch_resume("adam")["finals"][0]  # torch, trained without interruption
    _same(P.resumed_parameters(*REFERENCE_CHECKPOINT, reference_adam, "adam"), expected, "final",
          rtol=FINAL_RTOL, atol=FINAL_ATOL)
    checks["checkpoint_adam_final"] = _checked(
        expected, lambda w: P.resumed_parameters(w[0], w[1], reference_adam, "adam"), wrong, FINAL_GENERAL,
        rtol=FINAL_RTOL, atol=FINAL_ATOL)
    return checks


def record() -> dict[str, dict]:
    torch.set_default_dtype(torch.float64)
    checks = {**_clip_checks(), **_state_checks(), **_checkpoint_checks()}
    return {name(check): value for check, value in checks.items()}
