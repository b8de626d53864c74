"""The grader's clock: receipt and grading times are the server's, never a file a student can edit."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The grader's clock, as naive UTC (the gradebook's convention)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
