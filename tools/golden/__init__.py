"""Record the golden expectations of every chapter from PyTorch: ``python -m tools.golden``.

Each chapter module exposes ``ASSIGNMENT`` and ``record() -> dict[check name, spec]``, where a
spec comes from :func:`tools.golden.store.spec`. Expected values come from ``torch.optim``
(or a closed form); the ``variants`` are the same problems run through deliberately wrong
implementations, kept beside each chapter's recorder, so a failing check can name the mistake.
"""
