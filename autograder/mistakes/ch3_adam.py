"""Chapter 3's common mistakes (Adam and the adaptive methods), as edits of the reference solution."""

from __future__ import annotations

from . import Catalogue, mistake

UPDATE_VISIBLE = "test_adam_update_visible"
ADAM_VISIBLE, ADAM_HIDDEN = "test_adam_visible", "test_adam_hidden"
ADAM_STATE, ADAM_FACTS = "test_adam_state_hidden", "test_adam_facts_hidden"
ADAMW_CELLS = {"test_adamw_visible", "test_adamw_hidden"}
RMSPROP_CELLS = {"test_rmsprop_visible", "test_rmsprop_hidden"}
ADAGRAD_CELLS = {"test_adagrad_visible", "test_adagrad_hidden"}
# a mistake inside adam_update shows everywhere Adam or AdamW (which calls it) is checked
ADAM_UPDATE_CELLS = {UPDATE_VISIBLE, ADAM_VISIBLE, ADAM_HIDDEN, ADAM_STATE, ADAM_FACTS, *ADAMW_CELLS}
AMSGRAD_CELLS = {ADAM_HIDDEN, ADAM_STATE, "test_adamw_hidden"}
ADAM_STEP_CELLS = {ADAM_VISIBLE, ADAM_HIDDEN, ADAM_STATE}

HINT_STEP_FROM_ZERO = (
    "The bias correction used t = 0 on the first update: 1 - beta**0 = 0, a division by zero, and "
    "every value became nan. The step counter counts updates from 1: increment state['step'] FIRST, "
    "then compute 1 - beta1**t and 1 - beta2**t with the new value."
)
HINT_STEP_NEVER_INCREMENTED = (
    "state['step'] must count the updates made so far: 1 after the first update, t after the t-th "
    "(as in torch.optim). Yours stays at 0, so the bias corrections never fade: start it at 0 and "
    "increment it at the start of every update, then use it."
)
HINT_STEP_FROM_ONE = (
    "state['step'] is one ahead: it must be 1 after the first update (create it as 0, then increment "
    "it before using it), so that the first bias corrections are 1 - beta1 and 1 - beta2."
)
HINT_EPS_IN_SQRT = (
    "eps looks added inside the square root, sqrt(v_hat + eps). Adam adds it outside, after the bias "
    "correction: lr * m_hat / (sqrt(v_hat) + eps) (Algorithm 1 of Kingma & Ba, and torch.optim). "
    "The same holds for RMSprop (sqrt(v) + eps) and Adagrad (sqrt(s) + eps)."
)
HINT_NO_BIAS_CORRECTION = (
    "The steps look uncorrected: m and v start at 0, so early on they are too small by the factors "
    "1 - beta1**t and 1 - beta2**t. Divide before using them: m_hat = m / (1 - beta1**t), "
    "v_hat = v / (1 - beta2**t). Without it the first step is 3.16 lr instead of lr."
)
HINT_AMSGRAD_UNUSED = (
    "With amsgrad=True, state['max_exp_avg_sq'] must be updated at every step, "
    "max_exp_avg_sq = max(max_exp_avg_sq, v) (np.maximum(a, b, out=a)), and used in place of v in the "
    "denominator: v_hat = max_exp_avg_sq / (1 - beta2**t)."
)
HINT_AMSGRAD_MAX_OF_V_HAT = (
    "AMSGrad (as in torch.optim) takes the maximum of the raw second moment v, "
    "max_exp_avg_sq = max(max_exp_avg_sq, v), and bias-corrects that maximum with the current t: "
    "v_hat = max_exp_avg_sq / (1 - beta2**t). Yours keeps the maximum of the corrected v_hat."
)
HINT_ZERO_FOR_MISSING_GRAD = (
    "A parameter whose grad is None was updated or given state. Skip it (`if p.grad is None: continue`) "
    "before anything else: no gradient means no weight decay, no moments and no step for it."
)
HINT_CRASH_ON_MISSING_GRAD = (
    "Your step crashed with a TypeError, most likely on a parameter whose .grad is None (a parameter "
    "the loss does not use; zero_grad() also sets grads to None). Skip such parameters: "
    "`if p.grad is None: continue`."
)
HINT_SHARED_STATE = (
    "Several parameters share one state (or the state is not in self.state): each parameter needs its "
    "own step counter and its own buffers, in self.state[p] (self.state.setdefault(p, {}), keyed by the "
    "parameter object p), created on its first update; not in attributes of the optimizer, not in one "
    "dict for all parameters."
)
HINT_DECOUPLED_IN_ADAM = (
    "Adam's weight_decay is the L2 penalty: add weight_decay * theta to the gradient BEFORE the moments "
    "(g = g + wd * theta). Shrinking theta directly is AdamW's decoupled decay."
)
HINT_L2_IN_ADAMW = (
    "AdamW does not add weight_decay * theta to the gradient (that is Adam's L2 penalty). It shrinks "
    "the parameter directly, theta <- theta * (1 - lr * weight_decay), and then takes the plain Adam step "
    "with the raw gradient."
)
HINT_DECAY_AFTER_STEP = (
    "AdamW's decay comes FIRST: theta <- theta * (1 - lr * weight_decay), then the Adam step. Decaying "
    "after the step shrinks the step too."
)
HINT_DECAY_WITHOUT_LR = (
    "AdamW's decay is scaled by the learning rate: theta <- theta * (1 - lr * weight_decay), not "
    "theta * (1 - weight_decay) (torch.optim.AdamW multiplies by lr)."
)
HINT_NOT_IN_PLACE = (
    "The array was not changed: `param = param - ...` makes a new local array and the caller never sees "
    "it. Update in place: `param -= lr * m_hat / (np.sqrt(v_hat) + eps)`."
)
HINT_RMSPROP_BIAS_CORRECTED = (
    "RMSprop has no bias correction (torch.optim.RMSprop neither): theta <- theta - lr * g / (sqrt(v) + eps) "
    "with v itself. That is why its first step is lr / sqrt(1 - alpha) = 10 lr for alpha = 0.99."
)

# text of the reference solutions that the mistakes edit
COUNT_THEN_USE = '    state["step"] += 1\n    t = state["step"]\n'
ADAM_STEP = "param -= lr * m_hat / (np.sqrt(v_hat) + eps)"
AMSGRAD_CREATE = '        if amsgrad:\n            state["max_exp_avg_sq"] = np.zeros_like(param)\n'
AMSGRAD_MAX = '''    if amsgrad:
        np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        exp_avg_sq = state["max_exp_avg_sq"]
'''
CORRECTIONS = "    m_hat = exp_avg / (1 - beta1**t)\n    v_hat = exp_avg_sq / (1 - beta2**t)\n"
GUARD = "                if p.grad is None:\n                    continue\n"
GUARD_THEN_GRAD = GUARD + "                grad = p.grad\n"
ZERO_GRAD = "                grad = p.grad if p.grad is not None else np.zeros_like(p.data)\n"
OWN_STATE = "adam_update(p.data, grad, self.state.setdefault(p, {})"
ADAMW_DECAY = '''                if group["weight_decay"] != 0:
                    p.data *= 1 - group["lr"] * group["weight_decay"]
'''
ADAMW_CALL = '''                adam_update(p.data, p.grad, self.state.setdefault(p, {}), lr=group["lr"], beta1=beta1,
                            beta2=beta2, eps=group["eps"], amsgrad=group["amsgrad"])
'''
RMSPROP_STEP = "p.data -= lr * grad / (np.sqrt(square_avg) + eps)"
ADAGRAD_STEP = 'p.data -= lr * grad / (np.sqrt(state["sum"]) + eps)'
STATE_OF_P = "                state = self.state.setdefault(p, {})\n"
ONE_STATE = '                state = self.state.setdefault("shared", {})\n'

CATALOGUE = Catalogue("ch3_adam", "adam.ipynb", (
    # --- the step counter
    mistake("step_counter_from_zero", "uses the step counter before incrementing it (t = 0 at first)",
            "adam_update", (COUNT_THEN_USE, '    t = state["step"]\n    state["step"] += 1\n'),
            loses=ADAM_UPDATE_CELLS, hint=HINT_STEP_FROM_ZERO, demo=True),
    mistake("step_never_incremented", "never increments the step counter (t = 1 for ever)",
            "adam_update", (COUNT_THEN_USE, '    t = state["step"] + 1\n'),
            loses=ADAM_UPDATE_CELLS, hint=HINT_STEP_NEVER_INCREMENTED),
    mistake("step_created_as_one", "creates the step counter as 1 (one ahead)",
            "adam_update", ('        state["step"] = 0\n', '        state["step"] = 1\n'),
            loses=ADAM_UPDATE_CELLS, hint=HINT_STEP_FROM_ONE),
    # --- eps inside the square root
    mistake("eps_inside_sqrt", "adds eps inside the square root (Adam)",
            "adam_update", (ADAM_STEP, "param -= lr * m_hat / np.sqrt(v_hat + eps)"),
            loses=ADAM_UPDATE_CELLS, hint=HINT_EPS_IN_SQRT, demo=True),
    mistake("rmsprop_eps_in_sqrt", "adds eps inside the square root (RMSprop)",
            "rmsprop", (RMSPROP_STEP, "p.data -= lr * grad / np.sqrt(square_avg + eps)"),
            loses=RMSPROP_CELLS, hint=HINT_EPS_IN_SQRT),
    mistake("adagrad_eps_in_sqrt", "adds eps inside the square root (Adagrad)",
            "adagrad", (ADAGRAD_STEP, 'p.data -= lr * grad / np.sqrt(state["sum"] + eps)'),
            loses=ADAGRAD_CELLS, hint=HINT_EPS_IN_SQRT),
    # --- the bias correction
    mistake("no_bias_correction", "forgets Adam's bias correction",
            "adam_update", ("m_hat = exp_avg / (1 - beta1**t)", "m_hat = exp_avg"),
            ("v_hat = exp_avg_sq / (1 - beta2**t)", "v_hat = exp_avg_sq"),
            loses=ADAM_UPDATE_CELLS, hint=HINT_NO_BIAS_CORRECTION, demo=True),
    mistake("rmsprop_bias_corrected", "bias-corrects RMSprop's average",
            "rmsprop", (RMSPROP_STEP, 'p.data -= lr * grad / (np.sqrt(square_avg / (1 - alpha ** state["step"])) + eps)'),
            loses=RMSPROP_CELLS, hint=HINT_RMSPROP_BIAS_CORRECTED),
    # --- updating a local name instead of the array
    mistake("not_in_place", "rebinds the local name param instead of updating the array",
            "adam_update", ("param -= lr * m_hat", "param = param - lr * m_hat"),
            loses=ADAM_UPDATE_CELLS, hint=HINT_NOT_IN_PLACE),
    # --- AMSGrad
    mistake("amsgrad_max_of_v_hat", "AMSGrad: keeps the maximum of the corrected v_hat",
            "adam_update", (AMSGRAD_MAX + CORRECTIONS, CORRECTIONS + '''    if amsgrad:
        np.maximum(state["max_exp_avg_sq"], v_hat, out=state["max_exp_avg_sq"])
        v_hat = state["max_exp_avg_sq"]
'''),
            loses=AMSGRAD_CELLS, hint=HINT_AMSGRAD_MAX_OF_V_HAT),
    mistake("amsgrad_buffer_never_updated", "AMSGrad: creates max_exp_avg_sq but never updates or uses it",
            "adam_update", (AMSGRAD_MAX, ""),
            loses=AMSGRAD_CELLS, hint=HINT_AMSGRAD_UNUSED),
    # (the same grid paths as the one above, so the same hint: a check can name only one of them)
    mistake("amsgrad_ignored", "ignores amsgrad altogether (no max_exp_avg_sq)",
            "adam_update", (AMSGRAD_CREATE, ""), (AMSGRAD_MAX, ""),
            loses=AMSGRAD_CELLS, hint=HINT_AMSGRAD_UNUSED),
    # --- one state shared by several parameters
    mistake("one_state_for_all_parameters", "keeps one state dict for all parameters (Adam)",
            "adam", (OWN_STATE, 'adam_update(p.data, grad, self.state.setdefault("shared", {})'),
            loses=ADAM_STEP_CELLS, hint=HINT_SHARED_STATE),
    mistake("one_state_dict_under_every_parameter", "files one dict under every parameter (Adam)",
            "adam", (OWN_STATE, 'adam_update(p.data, grad, self.state.setdefault(p, group.setdefault("_state", {}))'),
            loses={ADAM_HIDDEN, ADAM_STATE}, hint=HINT_SHARED_STATE),
    mistake("rmsprop_one_state_for_all_parameters", "keeps one state dict for all parameters (RMSprop)",
            "rmsprop", (STATE_OF_P, ONE_STATE),
            loses={"test_rmsprop_hidden"}, hint=HINT_SHARED_STATE),
    mistake("adagrad_one_state_for_all_parameters", "keeps one state dict for all parameters (Adagrad)",
            "adagrad", (STATE_OF_P, ONE_STATE),
            loses={"test_adagrad_hidden"}, hint=HINT_SHARED_STATE),
    # --- parameters whose grad is None
    mistake("adam_crashes_on_missing_grad", "does not skip grad None (Adam): crashes",
            "adam", (GUARD, ""),
            loses=ADAM_STEP_CELLS, hint=HINT_CRASH_ON_MISSING_GRAD),
    mistake("adamw_crashes_on_missing_grad", "does not skip grad None (AdamW): crashes",
            "adamw", (GUARD, ""),
            loses=ADAMW_CELLS, hint=HINT_CRASH_ON_MISSING_GRAD),
    mistake("rmsprop_crashes_on_missing_grad", "does not skip grad None (RMSprop): crashes",
            "rmsprop", (GUARD, ""),
            loses=RMSPROP_CELLS, hint=HINT_CRASH_ON_MISSING_GRAD),
    mistake("adagrad_crashes_on_missing_grad", "does not skip grad None (Adagrad): crashes",
            "adagrad", (GUARD, ""),
            loses=ADAGRAD_CELLS, hint=HINT_CRASH_ON_MISSING_GRAD),
    mistake("adam_zero_for_missing_grad", "treats a missing grad as zero (Adam)",
            "adam", (GUARD_THEN_GRAD, ZERO_GRAD),
            loses=ADAM_STEP_CELLS, hint=HINT_ZERO_FOR_MISSING_GRAD),
    mistake("adamw_decays_parameters_without_grad", "gives a missing grad zeros, so decays it (AdamW)",
            "adamw", (GUARD, "                if p.grad is None:\n                    p.grad = np.zeros_like(p.data)\n"),
            loses=ADAMW_CELLS, hint=HINT_ZERO_FOR_MISSING_GRAD),
    mistake("rmsprop_zero_for_missing_grad", "treats a missing grad as zero (RMSprop)",
            "rmsprop", (GUARD_THEN_GRAD, ZERO_GRAD),
            loses=RMSPROP_CELLS, hint=HINT_ZERO_FOR_MISSING_GRAD),
    mistake("adagrad_zero_for_missing_grad", "treats a missing grad as zero (Adagrad)",
            "adagrad", (GUARD_THEN_GRAD, ZERO_GRAD),
            loses=ADAGRAD_CELLS, hint=HINT_ZERO_FOR_MISSING_GRAD),
    # --- weight decay in the wrong place
    mistake("adamw_decay_after_step", "AdamW: decays after the Adam step",
            "adamw", (ADAMW_DECAY + ADAMW_CALL, ADAMW_CALL + ADAMW_DECAY),
            loses=ADAMW_CELLS, hint=HINT_DECAY_AFTER_STEP),
    mistake("adamw_decay_without_lr", "AdamW: decays by weight_decay, not lr * weight_decay",
            "adamw", ('p.data *= 1 - group["lr"] * group["weight_decay"]', 'p.data *= 1 - group["weight_decay"]'),
            loses=ADAMW_CELLS, hint=HINT_DECAY_WITHOUT_LR, demo=True),
    mistake("adamw_as_l2", "AdamW: adds the decay to the gradient (Adam's L2)",
            "adamw", (ADAMW_DECAY + "                adam_update(p.data, p.grad,",
                      '                adam_update(p.data, p.grad + group["weight_decay"] * p.data,'),
            loses=ADAMW_CELLS, hint=HINT_L2_IN_ADAMW),
    mistake("adam_with_decoupled_decay", "Adam: shrinks theta (AdamW's decay) instead of the L2 gradient term",
            "adam", ('                    grad = grad + group["weight_decay"] * p.data\n',
                     '                    p.data *= 1 - group["lr"] * group["weight_decay"]\n'),
            loses={ADAM_VISIBLE, ADAM_HIDDEN, "test_adamw_hidden"}, hint=HINT_DECOUPLED_IN_ADAM),
))
