"""Publish the course to students: a generated student repository, never the instructor's.

The instructor's repository holds every solution (``source/``) and every expected value
(``autograder/golden/``). Students get a separate repository, generated here into
``_build/student-repo/`` (``make publish``): the released notebooks, the packages they import
(slopegrad, courseplots, the check API and the problems graded cells call), the student pins and
``binder/``, a README and a license, and the reference solutions of the chapters whose solutions
have been released. Each publish adds one commit on top of the last, so students' nbgitpuller
merges and ``git pull`` keep working. Nothing is committed when a leak is found.
"""

from .repository import Publication, PublishError, publish
from .settings import StudentRepository, load_settings

__all__ = ["publish", "Publication", "PublishError", "StudentRepository", "load_settings"]
