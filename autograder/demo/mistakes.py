"""Each chapter's common mistakes (conventions.md), as edits of its reference solution.

``loses``: the test cells the mistake must lose (all others keep their points); ``hint``: a phrase
of the targeted hint its feedback must show. An edit whose text no longer appears in the chapter's
solution makes the demo fail to build: update the spec with the chapter.
"""

from __future__ import annotations

MISTAKES: dict[str, list[dict]] = {
    "ch1_gradient_descent": [
        {"student": "rebinds_data", "mistake": "updates parameter.data with a new array (breaks aliasing)",
         "edits": [{"cell": "gradient_descent_step", "replace": ["parameter.data -= learning_rate * gradient",
                                                                 "parameter.data = parameter.data - learning_rate * gradient"]}],
         "loses": ["test_step_visible", "test_step_hidden"], "hint": "builds a NEW array"},
        {"student": "no_zero_grad", "mistake": "never resets the gradient between steps",
         "edits": [{"cell": "gradient_descent", "replace": ["parameter.grad = None  # forget", "pass  # forget"]}],
         "loses": ["test_descent_visible", "test_descent_hidden"], "hint": "gradients accumulate"},
        {"student": "half_optimal_step", "mistake": "optimal step 1/(mu + L)",
         "edits": [{"cell": "step_size_analysis", "replace": ["2.0 / (smallest + largest)", "1.0 / (smallest + largest)"]}],
         "loses": ["test_analysis_visible", "test_analysis_hidden"], "hint": "not 1/(mu + L)"},
    ],
    "ch2_momentum": [
        {"student": "rate_is_beta", "mistake": "gives beta as the heavy ball's rate",
         "edits": [{"cell": "optimal_momentum", "replace": ["float(rate**2), float(rate)", "float(rate**2), float(rate**2)"]}],
         "loses": ["test_optimal_momentum_visible", "test_optimal_momentum_hidden"], "hint": "The rate is sqrt(beta)"},
        {"student": "nesterov_on_buffer", "mistake": "applies Nesterov to the buffer",
         "edits": [{"cell": "sgd_step", "replace": ["g = g + momentum * buffer if nesterov", "g = buffer + momentum * buffer if nesterov"]}],
         "loses": ["test_sgd_step_visible", "test_sgd_dampening_nesterov_hidden", "test_sgd_lr_change_hidden"], "hint": "Nesterov looks applied"},
        {"student": "updates_missing_grads", "mistake": "forgets to skip parameters whose grad is None",
         "edits": [{"cell": "sgd_step", "replace": ["if p.grad is None:\n                    continue", "if p.grad is None:\n                    p.grad = np.zeros_like(p.data)"]}],
         "loses": ["test_sgd_step_visible", "test_sgd_grid_hidden", "test_sgd_dampening_nesterov_hidden", "test_sgd_state_hidden", "test_sgd_lr_change_hidden"], "hint": "grad is None"},
    ],
    "ch3_adam": [
        {"student": "eps_inside_sqrt", "mistake": "eps inside the square root",
         "edits": [{"cell": "adam_update", "replace": ["np.sqrt(v_hat) + eps", "np.sqrt(v_hat + eps)"]}],
         "loses": ["test_adam_update_visible", "test_adam_visible", "test_adam_hidden", "test_adam_state_hidden", "test_adam_facts_hidden", "test_adamw_visible", "test_adamw_hidden"], "hint": "eps looks added inside the square root"},
        {"student": "no_bias_correction", "mistake": "forgets the bias correction",
         "edits": [{"cell": "adam_update", "replace": ["m_hat = exp_avg / (1 - beta1**t)", "m_hat = exp_avg"]},
                   {"cell": "adam_update", "replace": ["v_hat = exp_avg_sq / (1 - beta2**t)", "v_hat = exp_avg_sq"]}],
         "loses": ["test_adam_update_visible", "test_adam_visible", "test_adam_hidden", "test_adam_state_hidden", "test_adam_facts_hidden", "test_adamw_visible", "test_adamw_hidden"], "hint": "uncorrected"},
        {"student": "step_counter_from_zero", "mistake": "step counter starting at 0",
         "edits": [{"cell": "adam_update", "replace": ['state["step"] += 1\n    t = state["step"]', 't = state["step"]\n    state["step"] += 1']}],
         "loses": ["test_adam_update_visible", "test_adam_visible", "test_adam_hidden", "test_adam_state_hidden", "test_adam_facts_hidden", "test_adamw_visible", "test_adamw_hidden"], "hint": "t = 0"},
        {"student": "adamw_decay_without_lr", "mistake": "AdamW's decay without lr",
         "edits": [{"cell": "adamw", "replace": ['p.data *= 1 - group["lr"] * group["weight_decay"]', 'p.data *= 1 - group["weight_decay"]']}],
         "loses": ["test_adamw_visible", "test_adamw_hidden"], "hint": "scaled by the learning rate"},
    ],
    "ch4_schedules": [
        {"student": "steplr_one_late", "mistake": "StepLR decays one call late",
         "edits": [{"cell": "steplr", "replace": ["(epoch // self.step_size)", "((epoch - 1) // self.step_size)"]}],
         "loses": ["test_steplr_visible", "test_steplr_hidden", "test_sequential_hidden"], "hint": "(e - 1) // step_size"},
        {"student": "cosine_off_by_one", "mistake": "cosine one epoch ahead",
         "edits": [{"cell": "cosine", "replace": ["math.pi * epoch / self.T_max", "math.pi * (epoch + 1) / self.T_max"]}],
         "loses": ["test_cosine_visible", "test_cosine_hidden", "test_sequential_visible", "test_sequential_hidden"], "hint": "off by one"},
    ],
}
