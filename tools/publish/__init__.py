"""Publish the course to students: a generated student repository, never the instructor's.

The instructor's repository holds every solution (``source/``) and every expected value
(``autograder/golden/``). Students get a separate repository, generated here into
``_build/student-repo/`` (``make publish``): the released notebooks, the packages they import
(slopegrad, courseplots, the check API and the problems graded cells call), the student pins and
``binder/``, a README and a license, and the reference solutions of the chapters whose solutions
have been released. Each publish adds one commit on top of the last, so students' nbgitpuller
merges and ``git pull`` keep working. Nothing is committed when a leak is found.

``from tools.publish import publish; publish(dest)`` does it from Python.
"""

from __future__ import annotations

import importlib

__all__ = ["publish", "Publication", "PublishError", "StudentRepository", "load_settings"]
_HOME = {"publish": "repository", "Publication": "repository", "PublishError": "repository",
         "StudentRepository": "settings", "load_settings": "settings"}


def __getattr__(name: str):
    # Imported on use: the book build needs only .links and .settings, not the grading packages.
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(name)
