"""Fixed, deterministic problems on which graded cells run students' code.

Each function here runs the student's code and returns plain data (arrays, numbers) for
:func:`autograder.checks.check`. The same functions, run on PyTorch through
``tools/golden``, produce the golden expectations, so inputs never drift apart.
The inputs are not secret; the expected outputs are.
"""
