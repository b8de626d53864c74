"""Build the course's book (Jupyter Book 1) from ``release/``.

The book reads the released notebooks. It reaches the instructor's notebooks in ``source/`` only
through one step, :mod:`tools.book.render`, which executes them to draw the figures that need a
working solution and copies the outputs of narrative and figure cells (never of a solution or test
cell) onto the released notebook. ``python -m tools.book`` prepares the pages and builds the site.
"""
