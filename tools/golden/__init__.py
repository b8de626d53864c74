"""Record the golden expectations of every chapter from PyTorch: ``python -m tools.golden``.

Each chapter module exposes ``ASSIGNMENT`` and ``record() -> dict[check name, spec]``: a table of
:class:`tools.golden.table.Check` rows. Expected values come from ``torch.optim`` (or a closed
form); the variants are what the reference solution computes with one of the chapter's common
mistakes made (:mod:`autograder.mistakes`), each with that mistake's hint, so a failing check can
name the mistake.
"""
