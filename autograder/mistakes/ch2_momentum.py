"""Chapter 2's common mistakes (momentum), as edits of the reference solution."""

from __future__ import annotations

from . import Catalogue, mistake

OPTIMAL_CELLS = {"test_optimal_momentum_visible", "test_optimal_momentum_hidden"}
SGD_CELLS = {"test_sgd_step_visible", "test_sgd_grid_hidden", "test_sgd_dampening_nesterov_hidden",
             "test_sgd_state_hidden", "test_sgd_lr_change_hidden"}
DAMPENING_NESTEROV_CELLS = {"test_sgd_step_visible", "test_sgd_dampening_nesterov_hidden"}
LR_CHANGE_CELLS = DAMPENING_NESTEROV_CELLS | {"test_sgd_lr_change_hidden"}

HINT_DAMPENED_FIRST = (
    "The first momentum buffer looks dampened. PyTorch creates the buffer on the first step as a plain "
    "copy of the gradient, b = g (no (1 - dampening) factor); only later steps use "
    "b = momentum*b + (1 - dampening)*g."
)
HINT_SHARED_BUFFER = (
    "Several parameters share one momentum buffer. Each parameter needs its own buffer, stored in "
    "self.state[p]['momentum_buffer'] (keyed by the parameter object p) and created as a copy "
    "(np.array(g, copy=True) or g.copy()), never one buffer or one state dict for all parameters."
)
HINT_NO_SKIP = (
    "Calling step() raised a TypeError, most likely on a parameter whose grad is None (None cannot be added or "
    "multiplied). Skip such parameters: `if p.grad is None: continue`."
)
HINT_MISSING_GRAD = (
    "A parameter whose grad is None was updated or given state. Skip it (`if p.grad is None: continue`): "
    "no gradient means no weight decay, no momentum buffer and no step for that parameter."
)
HINT_SUTSKEVER = (
    "This is the Sutskever/Ruder form (v = momentum*v + lr*g; theta -= v): it matches PyTorch only while "
    "lr is constant. When group['lr'] changes mid-run the old lr stays inside v. Keep the learning rate "
    "out of the buffer: b = momentum*b + (1 - dampening)*g, then theta -= lr*b, reading lr from the "
    "group at every step."
)
HINT_NESTEROV_ON_BUFFER = (
    "Nesterov looks applied to the buffer (g = b + momentum*b). PyTorch's Nesterov step adds the "
    "momentum term to the gradient: g = g + momentum*b, with b the buffer just updated."
)
HINT_IN_PLACE = (
    "Update the parameter's array in place (p.data -= lr*g), so that every reference to it sees the new "
    "values; p.data = p.data - lr*g makes a new array."
)
HINT_BETA_SQUARED = (
    "beta is the square: beta = ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))**2; the rate is its square root."
)
HINT_RATE_IS_BETA = "The rate is sqrt(beta) = (sqrt(kappa) - 1)/(sqrt(kappa) + 1), not beta itself."
HINT_GRADIENT_DESCENT_ALPHA = (
    "alpha = 2/(mu + L) is gradient descent's optimal step; with momentum it is (2/(sqrt(L) + sqrt(mu)))**2."
)

SKIP = "                if p.grad is None:\n                    continue\n"
FIRST = 'buffer = state["momentum_buffer"] = np.array(g, copy=True)'
STATE = "state = self.state.setdefault(p, {})"
NESTEROV = "g = g + momentum * buffer if nesterov else buffer"
UPDATE = "                p.data -= lr * g\n"

# Order matters where two mistakes record the same value on a check: the golden file keeps the
# first one's hint. Mistakes that record the same values share a hint.
CATALOGUE = Catalogue("ch2_momentum", "momentum.ipynb", (
    mistake("dampened_first_buffer", "dampens the first momentum buffer",
            "sgd_step", (FIRST, 'buffer = state["momentum_buffer"] = np.array((1 - dampening) * g, copy=True)'),
            loses=DAMPENING_NESTEROV_CELLS, hint=HINT_DAMPENED_FIRST),
    mistake("shared_state_dict", "gives every parameter the same state dict",
            "sgd_step", (STATE, "state = self.state.setdefault(p, self.__dict__.setdefault('shared', {}))"),
            loses=SGD_CELLS - {"test_sgd_step_visible"}, hint=HINT_SHARED_BUFFER),
    mistake("one_buffer_for_the_optimizer", "keeps one state entry for the whole optimizer",
            "sgd_step", (STATE, 'state = self.state.setdefault("momentum", {})'),
            loses=SGD_CELLS, hint=HINT_SHARED_BUFFER),
    mistake("grad_none_not_skipped", "forgets to skip parameters whose grad is None (crashes)",
            "sgd_step", (SKIP, ""),
            loses=SGD_CELLS, hint=HINT_NO_SKIP),
    mistake("grad_none_as_zero", "treats a missing gradient as zero",
            "sgd_step", (SKIP + "                g = p.grad\n",
                         "                g = p.grad if p.grad is not None else np.zeros_like(p.data)\n"),
            loses=SGD_CELLS, hint=HINT_MISSING_GRAD),
    mistake("updates_missing_grads", "fills a missing gradient with zeros and updates the parameter",
            "sgd_step", ("if p.grad is None:\n                    continue",
                         "if p.grad is None:\n                    p.grad = np.zeros_like(p.data)"),
            loses=SGD_CELLS, hint=HINT_MISSING_GRAD, demo=True),
    mistake("sutskever_form", "keeps lr inside the buffer (v = momentum*v + lr*g; theta -= v)",
            "sgd_step", (FIRST, 'buffer = state["momentum_buffer"] = np.array(lr * g, copy=True)'),
            ("buffer += (1 - dampening) * g", "buffer += lr * (1 - dampening) * g"),
            (NESTEROV, "g = lr * g + momentum * buffer if nesterov else buffer"),
            (UPDATE, "                p.data -= g if momentum != 0 else lr * g\n"),
            loses=LR_CHANGE_CELLS, hint=HINT_SUTSKEVER),
    mistake("nesterov_on_buffer", "applies Nesterov to the buffer",
            "sgd_step", (NESTEROV, "g = buffer + momentum * buffer if nesterov else buffer"),
            loses=LR_CHANGE_CELLS, hint=HINT_NESTEROV_ON_BUFFER, demo=True),
    mistake("not_in_place", "rebinds p.data to a new array",
            "sgd_step", (UPDATE, "                p.data = p.data - lr * g\n"),
            loses={"test_sgd_state_hidden"}, hint=HINT_IN_PLACE),
    mistake("beta_not_squared", "forgets to square beta (returns the rate as beta)",
            "optimal_momentum", ("float(rate**2)", "float(rate)"),
            loses=OPTIMAL_CELLS, hint=HINT_BETA_SQUARED),
    mistake("rate_is_beta", "gives beta as the heavy ball's rate",
            "optimal_momentum", ("float(rate**2), float(rate)", "float(rate**2), float(rate**2)"),
            loses=OPTIMAL_CELLS, hint=HINT_RATE_IS_BETA, demo=True),
    mistake("gradient_descent_alpha", "uses gradient descent's optimal step 2/(mu + L)",
            "optimal_momentum", ("alpha = (2.0 / (np.sqrt(L) + np.sqrt(mu))) ** 2", "alpha = 2.0 / (mu + L)"),
            loses=OPTIMAL_CELLS, hint=HINT_GRADIENT_DESCENT_ALPHA),
))
