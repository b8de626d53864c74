"""Running a student's code inside a problem: a crash becomes data for the check, not a lost cell.

A check must still receive a value when the student's code raises, so the judge can score it
(zero) and, where a crash is the signature of a common mistake (a ``None`` gradient that was not
skipped raises ``TypeError``), give that mistake's hint. ``NotImplementedError`` is never caught:
an unfinished stub fails as a stub.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

ERROR_PREFIX = "error: "


class Raised:
    """What a call that raised leaves behind: its record, ``"error: <ExceptionName>"``."""

    def __init__(self, record: str) -> None:
        self.record = record


def describe(error: BaseException, quiet: bool = False) -> str:
    """Show the student where their code raised (unless ``quiet``) and return the record for it."""
    if not quiet:
        frames = traceback.extract_tb(error.__traceback__)
        where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames and frames[-1].line else ""
        print(f"your code raised {type(error).__name__}: {error}{where}")
    return ERROR_PREFIX + type(error).__name__


def attempt(function: Callable[..., Any], *args: Any, quiet: bool = False) -> Any:
    """``function(*args)``, or a :class:`Raised` describing the exception it raised."""
    try:
        return function(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, then judged
        return Raised(describe(error, quiet))
