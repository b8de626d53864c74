"""Fixtures shared by several test modules (pytest finds them here by name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nbtools import ROOT


@pytest.fixture(scope="session")
def site() -> Path:
    """The built book (``_build/html``)."""
    # Build once for the whole session: the second test worker finds the site up to date.
    result = subprocess.run([sys.executable, "-m", "tools.book", "build", "--if-stale"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"the book does not build:\n{result.stdout}\n{result.stderr}"
    return ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def demo_course() -> Path:
    """One chapter of the demo class, graded in the sandbox, with its dashboard (see test_dashboard_data)."""
    from test_dashboard_data import graded_demo

    return graded_demo()


@pytest.fixture(scope="module")
def reference(request):
    """The reference notebook of the test module's chapter (its ``CHAPTER``), run once per process."""
    from chapters import reference_run

    return reference_run(request.module.CHAPTER)


@pytest.fixture(scope="module")
def ns(reference) -> dict:
    """What the reference notebook defines."""
    return reference.namespace
