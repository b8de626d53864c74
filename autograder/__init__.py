"""The course's grading system.

Student-facing (imported by the notebooks' test cells):
    :mod:`autograder.checks`  -- ``check(name, value)``: hand a result to a named check.
    :mod:`autograder.problems` -- the fixed problems that graded cells run students' code on.

Instructor-side only:
    :mod:`autograder.golden`  -- expectations recorded from PyTorch, in ``autograder/golden/``.
    :mod:`autograder.compare` -- the one comparison used in the notebook and by the judge.

This package never imports torch: golden data is recorded by ``tools/golden`` in the
development environment and read from JSON here.
"""
