"""The instructor's class dashboard: one static, self-contained HTML page built from the gradebook.

    python -m autograder.dashboard --course .state/demo-course     # or: make dashboards

:func:`build_dashboard` reads a class's gradebook (nbgrader's tables and the grader's status table,
any SQLAlchemy URL nbgrader accepts) and writes ``<course>/dashboard/index.html``: score
distributions, each test's pass rate and the hints that fired, a sortable and filterable table of
students linking to their feedback, submissions that need review, integrity flags and lateness.
The page is for the instructor only: it lives in the course folder, beside the gradebook, never in
the book, ``release/`` or a student's feedback folder.

Stages, one module each: :mod:`.data` (gradebook → dataclasses), :mod:`.figures` (matplotlib →
embedded PNG), :mod:`.html` (the page), :mod:`.build` (the three together, written atomically).
"""

from .build import DashboardError, build_dashboard, default_output

__all__ = ["DashboardError", "build_dashboard", "default_output"]
