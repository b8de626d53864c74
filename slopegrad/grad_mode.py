"""Global switch for graph building: ``no_grad()`` and ``is_grad_enabled()``.

Inside ``with no_grad():`` every operation still computes its result but
records no parents and no backward closure, so nothing can be
differentiated and nothing is kept alive for a later ``backward()``.
Evaluation loops and optimizer updates run this way.

The switch is a single process-wide flag (PyTorch's is per thread); slopegrad
is a teaching package and is not meant to be driven from several threads.
"""

from __future__ import annotations

import functools

__all__ = ["no_grad", "is_grad_enabled"]

# One mutable cell read by every operation; a plain attribute lookup is the
# cheapest check on the hot path.
_enabled = True


def is_grad_enabled() -> bool:
    """Return True when operations record the graph for ``backward()``."""
    return _enabled


class no_grad:
    """Context manager (and decorator) that turns graph building off.

    Nestable: each ``with`` remembers the state it found and restores it on
    exit, also when the block raises.

    >>> with no_grad():
    ...     y = x * 2        # y.requires_grad is False, y has no parents
    """

    def __init__(self) -> None:
        # A stack, not a single slot, so one instance can be re-entered
        # (for example a decorated function that recurses).
        self._saved: list[bool] = []

    def __enter__(self) -> "no_grad":
        global _enabled
        self._saved.append(_enabled)
        _enabled = False
        return self

    def __exit__(self, *exc_info) -> None:
        global _enabled
        _enabled = self._saved.pop()

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return wrapper
