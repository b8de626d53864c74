"""Chapter 6's common mistakes (what optimizers cost), as edits of the reference solution.

Three exercises (``clip_grad_norm_``, the state accounting, checkpoints) and the optimizers brought
from Chapters 2 and 3 (``bring_sgd``, ``bring_adam``), whose mistakes show in this chapter's checks.
"""

from __future__ import annotations

from . import Catalogue, mistake

CLIP = "clip_grad_norm"
STATE = "state_accounting"
CHECKPOINT = "checkpoint"

CLIP_CELLS = {"test_clip_visible", "test_clip_hidden"}
CLIP_HIDDEN = {"test_clip_hidden"}
STATE_CELLS = {"test_state_visible", "test_state_hidden", "test_state_optimizers_hidden"}
CHECKPOINT_CELLS = {"test_checkpoint_visible", "test_checkpoint_hidden", "test_checkpoint_optimizers_hidden"}

# ---- clip_grad_norm_ ---------------------------------------------------------------------------
HINT_PER_PARAMETER = (
    "Each gradient looks clipped by its own norm. clip_grad_norm_ clips by the GLOBAL norm: "
    "total = sqrt(sum over all gradients of ||g||**2), one coefficient max_norm / (total + eps), and "
    "every gradient multiplied by that same coefficient, so the direction of the whole update is kept."
)
HINT_SCALES_UP = (
    "Gradients whose total norm is already below max_norm were scaled UP. Clipping only ever shrinks: "
    "coef = max_norm / (total + eps) is clamped to 1 (torch: clamp(coef, max=1.0)), so small gradients "
    "are left exactly as they are."
)
HINT_NO_EPS = (
    "The scale looks like max_norm / total, without eps. Use coef = max_norm / (total + eps) (eps = 1e-6 "
    "by default, as in torch): it avoids a division by zero and makes the clipped norm slightly below max_norm."
)
HINT_SQUARED_NORM = (
    "The total norm looks squared: take the square root, total = sqrt(sum of the squares of every "
    "gradient entry), the 2-norm of all gradients together."
)
HINT_SUM_OF_NORMS = (
    "The total looks like the SUM of the per-parameter norms. The global norm is the 2-norm of the "
    "per-parameter norms: total = sqrt(||g_1||**2 + ||g_2||**2 + ...)."
)
HINT_RETURNS_CLIPPED_NORM = (
    "Return the total norm BEFORE clipping (as torch does), so that a training loop can log how large the "
    "gradients really were; yours looks like the norm after scaling."
)
HINT_CRASH_ON_NONE = (
    "Your clip_grad_norm_ crashed with a TypeError or AttributeError, most likely on a parameter whose grad "
    "is None. Skip those parameters, both in the norm and in the scaling (if every grad is None, return 0.0)."
)
HINT_GENERATOR_TWICE = (
    "When the parameters come as a generator (model.parameters()), nothing was scaled: a generator can be "
    "read only once, and your code reads it twice (once for the norm, once to scale). Make a list first: "
    "parameters = list(parameters)."
)
HINT_NO_SINGLE_PARAMETER = (
    "A single parameter (not in a list) must work too, as in torch: if `parameters` has a .grad itself, "
    "wrap it: parameters = [parameters]."
)
HINT_NAN_NOT_SCALED = (
    "With a nan total norm (and error_if_nonfinite=False) the gradients were left unchanged. torch computes "
    "clamp(coef, max=1.0), which keeps a nan, and multiplies every gradient by it: they all become nan, so the "
    "problem shows instead of hiding. Use clamped = np.minimum(coef, 1.0) and multiply by it."
)
HINT_CONDITION_ON_TOTAL = (
    "When the total norm equals max_norm exactly, the gradients must still be multiplied by "
    "max_norm / (total + eps), which is just below 1: decide on the coefficient (scale when coef < 1), "
    "not on total > max_norm."
)
HINT_NOT_IN_PLACE = (
    "Scale the gradients IN PLACE (p.grad *= coef), as the trailing underscore of clip_grad_norm_ promises: "
    "p.grad = p.grad * coef makes new arrays, and code holding the old ones does not see the clipping."
)
HINT_INDEX_AMONG_GRADIENTS = (
    "The error names the wrong parameter: count positions over ALL the parameters given (those whose grad "
    "is None included), so that 'parameter 2' is list(parameters)[2], the one a user can look up in "
    "list(model.named_parameters())."
)
HINT_MESSAGE_WITHOUT_INDEX = (
    "The error must say which parameter has the non-finite gradient: put 'parameter <i>' in the message, "
    "with i its position in the list of parameters given (the first one whose gradient holds inf or nan)."
)
HINT_ERROR_AFTER_SCALING = (
    "With error_if_nonfinite=True the gradients must be left untouched when raising: check the total norm "
    "(np.isfinite) BEFORE scaling anything, and raise right away."
)
HINT_NO_ERROR = (
    "With error_if_nonfinite=True, a non-finite total norm (an inf or nan gradient) must raise a "
    "RuntimeError instead of clipping."
)
HINT_VALUE_ERROR = (
    "Raise a RuntimeError (as torch.nn.utils.clip_grad_norm_ does) when error_if_nonfinite=True and the "
    "total norm is not finite."
)

# ---- state accounting ---------------------------------------------------------------------------
HINT_COUNTS_ARRAYS = (
    "state_numbers looks like it counts ARRAYS, not numbers: add up value.size (the number of entries) of "
    "every NumPy array in every parameter's state dict."
)
HINT_COUNTS_STEP = (
    "The step counter (an int) was counted too. Count only NumPy arrays (isinstance(value, np.ndarray)): "
    "'step' is one number per parameter, not per entry, and is not part of the P / 2P / 3P."
)
HINT_PER_GROUP = (
    "The count looks taken per parameter GROUP (e.g. the state of group['params'][0] only). The state is "
    "per PARAMETER: go over every entry of optimizer.state (for state in optimizer.state.values()), whatever "
    "the groups."
)
HINT_BYTES_AS_FLOAT64 = (
    "state_bytes looks like 8 bytes per number. The size of a number depends on the dtype (float32: 4, "
    "float64: 8): add up value.nbytes of every array."
)
HINT_AMSGRAD_AS_ADAM = (
    "AMSGrad keeps THREE arrays per parameter (exp_avg, exp_avg_sq and max_exp_avg_sq): expected_state_numbers"
    "('amsgrad', P) is 3P."
)
HINT_ADAM_ONE_BUFFER = (
    "Adam and AdamW keep TWO arrays per parameter (exp_avg m and exp_avg_sq v): 2P. SGD with momentum, "
    "RMSprop and Adagrad keep one (P), plain SGD none."
)
HINT_UNKNOWN_IS_ZERO = (
    "An unknown optimizer name must raise a ValueError (saying which names are known), not return a number."
)
HINT_ADAM_WITHOUT_AMSGRAD = (
    "Your state_numbers counts 20 numbers for Adam(amsgrad=True) where 30 are predicted: your Adam from "
    "Chapter 3 keeps no state['max_exp_avg_sq'] with amsgrad=True. Fix it there and paste it again in "
    "section 1."
)
HINT_SGD_BUFFER_WITHOUT_MOMENTUM = (
    "Your SGD from Chapter 2 keeps a momentum buffer even when momentum = 0: torch.optim.SGD keeps no state "
    "then (0 extra numbers). Fix it there and paste it again in section 1."
)

# ---- checkpoints ---------------------------------------------------------------------------------
HINT_ALIASED_PARAMETERS = (
    "The checkpoint ALIASES the parameters instead of copying them: saving p.data stores the very arrays "
    "that training keeps changing in place, so the checkpoint silently follows training. Save copies, "
    "np.array(p.data, copy=True) (or p.data.copy())."
)
HINT_ALIASED_ON_LOAD = (
    "Resuming once works but resuming a second time from the same checkpoint does not: loading made the "
    "model's p.data the checkpoint's own arrays (p.data = saved), so training then changed the checkpoint. "
    "Copy into the parameter instead: p.data[...] = saved."
)
HINT_NO_OPTIMIZER_STATE = (
    "The optimizer's state was not restored: the resumed optimizer starts with empty moments and step "
    "counters. Either it was not saved and loaded at all, or the checkpoint holds the live optimizer.state "
    "(keyed by the OLD parameter objects, so the new optimizer never finds it, and sharing their arrays). Save "
    "optimizer.state_dict() (a copy, parameters numbered in order) and load it with "
    "optimizer.load_state_dict(...) into the new optimizer."
)
HINT_NO_SCHEDULER_STATE = (
    "The scheduler was not restored: a fresh scheduler starts again at epoch 0, so the learning rates after "
    "resuming differ. Save scheduler.state_dict() and load it with scheduler.load_state_dict()."
)
HINT_NO_PARAMETERS = (
    "The model's parameters were not restored: the resumed run starts from the fresh model's own weights. "
    "Copy every saved array back into its parameter (p.data[...] = saved) in model.parameters() order."
)
HINT_EPOCH_PLUS_ONE = (
    "load_checkpoint must return the epoch that was saved (the number of epochs already done), so that "
    "training resumes with exactly the next epoch; yours is off by one."
)

# ---- the reference text the edits replace ---------------------------------------------------------
SCALE = "    for _, g in grads:\n        g *= clamped\n"
CLAMP = "    clamped = float(np.minimum(max_norm / (total + eps), 1.0))\n"
TOTAL = "total = float(np.linalg.norm([np.linalg.norm(g.ravel()) for _, g in grads]))"
ERROR_CHECK = "    if error_if_nonfinite and not np.isfinite(total):\n"
RETURN_TOTAL = "    return total\n"
SCALE_EACH_PARAMETER = "    for p in parameters:\n        if p.grad is not None:\n            p.grad {} clamped\n"
NUMBERS = "        value.size for state in optimizer.state.values() for value in state.values() if isinstance(value, np.ndarray)"
PER_GROUP_STATES = '[optimizer.state.get(group["params"][0], {}) for group in optimizer.param_groups]'
COPY_IN = "        p.data[...] = saved\n"
SAVE_OPTIMIZER = '"optimizer": optimizer.{},\n        "scheduler": None'  # the code, not the docstring
LOAD_OPTIMIZER = '    optimizer.load_state_dict(checkpoint["optimizer"])\n'

CATALOGUE = Catalogue("ch6_optimizer_cost", "optimizer_cost.ipynb", (
    # ---- clip_grad_norm_ (the order is the golden variants' order: the first of equal values names it)
    mistake("clip_per_parameter", "clips each gradient by its own norm",
            CLIP, (SCALE, "    for _, g in grads:\n"
                          "        g *= float(np.minimum(max_norm / (np.linalg.norm(g.ravel()) + eps), 1.0))\n"),
            loses=CLIP_CELLS, hint=HINT_PER_PARAMETER, demo=True),
    mistake("clip_scales_up", "does not clamp the coefficient to 1",
            CLIP, (CLAMP, "    clamped = max_norm / (total + eps)\n"),
            loses=CLIP_CELLS, hint=HINT_SCALES_UP),
    mistake("clip_without_eps", "divides by the total without eps",
            CLIP, (CLAMP, "    clamped = float(np.minimum(max_norm / total, 1.0))\n"),
            loses=CLIP_CELLS, hint=HINT_NO_EPS),
    mistake("clip_squared_norm", "takes the sum of squares as the norm (no square root)",
            CLIP, (TOTAL, "total = float(sum(np.sum(g * g) for _, g in grads))"),
            loses=CLIP_CELLS, hint=HINT_SQUARED_NORM),
    mistake("clip_sum_of_norms", "adds up the per-parameter norms",
            CLIP, (TOTAL, "total = float(sum(np.linalg.norm(g.ravel()) for _, g in grads))"),
            loses=CLIP_CELLS, hint=HINT_SUM_OF_NORMS),
    mistake("clip_returns_clipped_norm", "returns the norm after clipping",
            CLIP, (RETURN_TOTAL, "    return float(np.linalg.norm([np.linalg.norm(g.ravel()) for _, g in grads]))\n"),
            loses=CLIP_CELLS, hint=HINT_RETURNS_CLIPPED_NORM),
    mistake("clip_crashes_on_none", "keeps the gradients that are None (AttributeError in the norm)",
            CLIP, ("for i, p in enumerate(parameters) if p.grad is not None]", "for i, p in enumerate(parameters)]"),
            loses=CLIP_CELLS, hint=HINT_CRASH_ON_NONE),
    mistake("clip_squares_none", "squares every parameter's grad, None included (TypeError in the norm)",
            CLIP, (TOTAL, "total = float(np.sqrt(sum(np.sum(p.grad * p.grad) for p in parameters)))"),
            loses=CLIP_CELLS, hint=HINT_CRASH_ON_NONE),
    mistake("clip_reads_a_generator_twice", "reads the parameters twice (a generator is empty the second time)",
            CLIP, ("    parameters = list(parameters)\n", ""), (SCALE, SCALE_EACH_PARAMETER.format("*=")),
            loses=CLIP_HIDDEN, hint=HINT_GENERATOR_TWICE),
    mistake("clip_no_single_parameter", "does not accept a single parameter",
            CLIP, ('    if hasattr(parameters, "grad"):  # a single parameter\n        parameters = [parameters]\n', ""),
            loses=CLIP_HIDDEN, hint=HINT_NO_SINGLE_PARAMETER),
    mistake("clip_nan_left_unscaled", "clamps with a comparison, which leaves a nan coefficient out",
            CLIP, (CLAMP, "    coef = max_norm / (total + eps)\n    clamped = coef if coef < 1 else 1.0\n"),
            loses=CLIP_HIDDEN, hint=HINT_NAN_NOT_SCALED),
    mistake("clip_condition_on_total", "scales only when total > max_norm",
            CLIP, (CLAMP, "    clamped = max_norm / (total + eps) if total > max_norm else 1.0\n"),
            loses=CLIP_HIDDEN, hint=HINT_CONDITION_ON_TOTAL,
            also=("clip_nan_left_unscaled",)),  # nan > max_norm is False: a nan total leaves the gradients as they are
    mistake("clip_not_in_place", "rebinds p.grad to a new array",
            CLIP, (SCALE, SCALE_EACH_PARAMETER.format("= p.grad *")),
            loses=CLIP_HIDDEN, hint=HINT_NOT_IN_PLACE),
    mistake("clip_index_among_gradients", "names the position among the gradients, not among the parameters",
            CLIP, ("        for i, g in grads:\n            if not np.all",
                   "        for i, (_, g) in enumerate(grads):\n            if not np.all"),
            loses=CLIP_HIDDEN, hint=HINT_INDEX_AMONG_GRADIENTS),
    mistake("clip_message_without_index", "an error message that names no parameter",
            CLIP, ("the gradient of parameter {i} (shape", "a gradient (shape"),
            loses=CLIP_CELLS, hint=HINT_MESSAGE_WITHOUT_INDEX),
    mistake("clip_error_after_scaling", "raises only after scaling the gradients",
            CLIP, (ERROR_CHECK, "    bad = [i for i, g in grads if not np.all(np.isfinite(g))]\n    if False:\n"),
            (RETURN_TOTAL, "    if error_if_nonfinite and bad:\n"
                           "        raise RuntimeError(f'parameter {bad[0]} is not finite')\n    return total\n"),
            loses=CLIP_CELLS, hint=HINT_ERROR_AFTER_SCALING),
    mistake("clip_never_raises", "ignores error_if_nonfinite",
            CLIP, (ERROR_CHECK, "    if False:\n"),
            loses=CLIP_CELLS, hint=HINT_NO_ERROR),
    mistake("clip_raises_value_error", "raises ValueError instead of RuntimeError",
            CLIP, ("                raise RuntimeError(\n", "                raise ValueError(\n"),
            loses=CLIP_CELLS, hint=HINT_VALUE_ERROR),
    # ---- state accounting
    mistake("state_counts_arrays", "counts the arrays, not their numbers",
            STATE, ("        value.size for state", "        1 for state"),
            loses=STATE_CELLS, hint=HINT_COUNTS_ARRAYS),
    mistake("state_counts_the_step", "counts the integer step too",
            STATE, (NUMBERS, "        np.size(value) for state in optimizer.state.values() for value in state.values()"),
            loses=STATE_CELLS, hint=HINT_COUNTS_STEP),
    mistake("state_per_group", "counts the state of each group's first parameter only",
            STATE, ("value.size for state in optimizer.state.values()", f"value.size for state in {PER_GROUP_STATES}"),
            ("value.nbytes for state in optimizer.state.values()", f"value.nbytes for state in {PER_GROUP_STATES}"),
            loses=STATE_CELLS, hint=HINT_PER_GROUP),
    mistake("state_bytes_as_float64", "takes 8 bytes per number whatever the dtype",
            STATE, ("        value.nbytes for state", "        8 * value.size for state"),
            loses=STATE_CELLS, hint=HINT_BYTES_AS_FLOAT64),
    mistake("predict_amsgrad_2p", "predicts 2P for AMSGrad",
            STATE, ('"amsgrad": 3}', '"amsgrad": 2}'),
            loses=STATE_CELLS, hint=HINT_AMSGRAD_AS_ADAM),
    mistake("predict_adam_p", "predicts P for Adam and AdamW",
            STATE, ('"adam": 2, "adamw": 2', '"adam": 1, "adamw": 1'),
            loses=STATE_CELLS, hint=HINT_ADAM_ONE_BUFFER, demo=True),
    mistake("predict_unknown_is_zero", "predicts 0 for an unknown optimizer instead of raising",
            STATE, ('        raise ValueError(f"unknown optimizer', '        return 0\n        raise ValueError(f"unknown optimizer'),
            loses={"test_state_hidden"}, hint=HINT_UNKNOWN_IS_ZERO),
    # ---- the optimizers brought from Chapters 2 and 3
    mistake("adam_ignores_amsgrad", "Adam never passes amsgrad on (no max_exp_avg_sq)",
            "bring_adam", ('amsgrad=group["amsgrad"])', "amsgrad=False)"),
            loses={"test_state_optimizers_hidden"}, hint=HINT_ADAM_WITHOUT_AMSGRAD),
    mistake("sgd_buffer_without_momentum", "SGD keeps a momentum buffer when momentum = 0",
            "bring_sgd", ("                if momentum != 0:\n", "                if True:\n"),
            loses={"test_state_optimizers_hidden"}, hint=HINT_SGD_BUFFER_WITHOUT_MOMENTUM),
    # ---- checkpoints
    mistake("checkpoint_aliases_parameters", "saves p.data itself, not a copy",
            CHECKPOINT, ('"model": [np.array(p.data, copy=True) for p in model.parameters()]',
                         '"model": [p.data for p in model.parameters()]'),
            loses=CHECKPOINT_CELLS, hint=HINT_ALIASED_PARAMETERS, demo=True),
    mistake("checkpoint_aliased_on_load", "loads by rebinding p.data to the saved array",
            CHECKPOINT, (COPY_IN, "        p.data = saved\n"),
            loses=CHECKPOINT_CELLS, hint=HINT_ALIASED_ON_LOAD),
    mistake("checkpoint_without_optimizer", "does not restore the optimizer's state",
            CHECKPOINT, (LOAD_OPTIMIZER, ""),
            loses=CHECKPOINT_CELLS, hint=HINT_NO_OPTIMIZER_STATE),
    mistake("checkpoint_live_optimizer_state", "saves the live optimizer.state and assigns it on load",
            CHECKPOINT, (SAVE_OPTIMIZER.format("state_dict()"), SAVE_OPTIMIZER.format("state")),
            (LOAD_OPTIMIZER, '    optimizer.state = checkpoint["optimizer"]\n'),
            loses=CHECKPOINT_CELLS, hint=HINT_NO_OPTIMIZER_STATE),
    mistake("checkpoint_without_scheduler", "does not restore the scheduler",
            CHECKPOINT, ('        scheduler.load_state_dict(checkpoint["scheduler"])\n', "        pass\n"),
            loses=CHECKPOINT_CELLS, hint=HINT_NO_SCHEDULER_STATE),
    mistake("checkpoint_without_parameters", "does not restore the parameters",
            CHECKPOINT, (COPY_IN, "        pass\n"),
            loses=CHECKPOINT_CELLS, hint=HINT_NO_PARAMETERS),
    mistake("checkpoint_epoch_off_by_one", "returns the epoch after the saved one",
            CHECKPOINT, ('    return checkpoint["epoch"]\n', '    return checkpoint["epoch"] + 1\n'),
            loses=CHECKPOINT_CELLS, hint=HINT_EPOCH_PLUS_ONE),
))
