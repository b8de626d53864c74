"""Chapter 1's common mistakes (gradient descent), as edits of the reference solution."""

from __future__ import annotations

from . import Catalogue, mistake

STEP_CELLS = {"test_step_visible", "test_step_hidden"}
DESCENT_CELLS = {"test_descent_visible", "test_descent_hidden"}
ANALYSIS_CELLS = {"test_analysis_visible", "test_analysis_hidden"}

HINT_SKIP = (
    "your step crashed on a parameter whose .grad is None. A parameter that took no part in the "
    "loss has no gradient (and zero_grad() sets every grad to None): start with "
    "`if parameter.grad is None: return` before updating, as torch.optim does."
)
HINT_REBIND = (
    "`parameter.data = parameter.data - learning_rate * parameter.grad` builds a NEW array and "
    "rebinds the attribute: anyone still holding the old array (a model, a view, another "
    "reference) never sees the update. Update the existing array in place: "
    "`parameter.data -= learning_rate * parameter.grad`."
)
HINT_NO_ZERO = (
    "gradients accumulate: backward() ADDS into .grad. Without `parameter.grad = None` at the start "
    "of every step, each step uses the sum of all gradients so far. Zero the gradient first, as "
    "`optimizer.zero_grad()` does in PyTorch."
)
HINT_ZERO_LATE = (
    "the first step used a gradient that was already in .grad before your loop started. Zero the "
    "gradient at the START of every step (before computing the loss), not after the step."
)
HINT_NO_COPY = (
    "every row of your path is the final position: you stored `parameter.data` itself, and the "
    "in-place updates then changed every stored row. Store a copy: `parameter.data.copy()`."
)
HINT_NO_START = (
    "the path must start with the initial position: shape (steps + 1, *parameter.shape), row 0 "
    "before any step, row k after k steps."
)
HINT_TWO_OVER_MU = (
    "2/mu is the bound of the FLATTEST direction; the steepest one breaks first. Every factor "
    "|1 - alpha*lambda| must stay below 1, which needs alpha < 2/L with L the LARGEST eigenvalue."
)
HINT_ONE_OVER_L = (
    "1/L is a safe step but not the bound: |1 - alpha*L| < 1 holds for every alpha in (0, 2/L). "
    "The stable range is (0, 2/L)."
)
HINT_ONE_OVER_SUM = (
    "the optimal step balances the two extreme factors, 1 - alpha*mu = -(1 - alpha*L), which gives "
    "alpha = 2/(mu + L), not 1/(mu + L)."
)
HINT_RATE_ONE_OVER_L = (
    "1 - 1/kappa is the rate at alpha = 1/L. At the optimal step 2/(mu + L) the rate is "
    "(kappa - 1)/(kappa + 1)."
)
HINT_INVERTED_KAPPA = "kappa = L/mu (largest over smallest eigenvalue), so kappa >= 1 and the rate is in [0, 1)."
HINT_REJECT = (
    "raise ValueError (with a message saying what is wrong) when the matrix is not square, not "
    "symmetric (np.allclose(H, H.T)), or not positive definite (smallest eigenvalue <= 0)."
)

IN_PLACE = "parameter.data -= learning_rate * gradient"
ZEROING = "        parameter.grad = None  # forget the previous step's gradient before computing a new one\n"
STEP = "        gradient_descent_step(parameter, learning_rate)  # Exercise 1\n"
START = "positions = [parameter.data.copy()]"
RECORD = "positions.append(parameter.data.copy())"
STABLE = '"stable": (0.0, 2.0 / largest)'
OPTIMAL = '"optimal": 2.0 / (smallest + largest)'
RATE = '"rate": (condition - 1.0) / (condition + 1.0)'

CATALOGUE = Catalogue("ch1_gradient_descent", "gradient_descent.ipynb", (
    mistake("no_skip", "updates a parameter whose grad is None",
            "gradient_descent_step", ("    if gradient is None:  # no gradient: nothing to do\n        return\n", ""),
            loses=STEP_CELLS, hint=HINT_SKIP),
    mistake("rebinds_data", "updates parameter.data with a new array (breaks aliasing)",
            "gradient_descent_step", (IN_PLACE, "parameter.data = parameter.data - learning_rate * gradient"),
            loses=STEP_CELLS, hint=HINT_REBIND, demo=True),
    mistake("no_zero_grad", "never resets the gradient between steps",
            "gradient_descent", (ZEROING, ""),
            loses=DESCENT_CELLS, hint=HINT_NO_ZERO, demo=True),
    mistake("zero_after_step", "resets the gradient after the step instead of before",
            "gradient_descent", (ZEROING, ""), (STEP, STEP + "        parameter.grad = None\n"),
            loses={"test_descent_hidden"}, hint=HINT_ZERO_LATE),
    mistake("no_copy", "records parameter.data itself, not a copy",
            "gradient_descent", (START, "positions = [parameter.data]"), (RECORD, "positions.append(parameter.data)"),
            loses=DESCENT_CELLS, hint=HINT_NO_COPY),
    mistake("no_start", "leaves the starting point out of the path",
            "gradient_descent", (START, "positions = []"),
            loses=DESCENT_CELLS, hint=HINT_NO_START),
    mistake("two_over_mu", "bounds the stable range by 2/mu",
            "step_size_analysis", (STABLE, '"stable": (0.0, 2.0 / smallest)'),
            loses=ANALYSIS_CELLS, hint=HINT_TWO_OVER_MU),
    mistake("one_over_l", "gives 1/L as the stability bound",
            "step_size_analysis", (STABLE, '"stable": (0.0, 1.0 / largest)'),
            loses=ANALYSIS_CELLS, hint=HINT_ONE_OVER_L),
    mistake("half_optimal_step", "optimal step 1/(mu + L)",
            "step_size_analysis", (OPTIMAL, '"optimal": 1.0 / (smallest + largest)'),
            loses=ANALYSIS_CELLS, hint=HINT_ONE_OVER_SUM, demo=True),
    mistake("rate_at_one_over_l", "gives the rate of the step 1/L",
            "step_size_analysis", (RATE, '"rate": 1.0 - 1.0 / condition'),
            loses=ANALYSIS_CELLS, hint=HINT_RATE_ONE_OVER_L),
    mistake("inverted_kappa", "takes kappa = mu/L",
            "step_size_analysis", ("condition = largest / smallest", "condition = smallest / largest"),
            loses=ANALYSIS_CELLS, hint=HINT_INVERTED_KAPPA),
    mistake("no_validation", "accepts matrices that are not symmetric positive definite",
            "step_size_analysis", ("    if not np.allclose(matrix, matrix.T):\n", "    if False:\n"),
            ("    if smallest <= 0.0:\n", "    if False:\n"),
            loses={"test_analysis_hidden"}, hint=HINT_REJECT),
))
