"""The nbgrader exchange of a course, with permissions that keep students out of each other's work.

    <root>/                 root, 1777: everyone may create (nbgrader checks that it is writable), but
                            the sticky bit stops a student renaming or replacing the course's folder
    <root>/<course>/        the grader account, 0755
        outbound/           the grader, 0755: released assignments, read-only for students
        inbound/            the grader, 2733: students drop submissions in, nobody but the grader
                            lists them (a submission's folder name ends in a random string)
        feedback/           the grader, 0711: a student reads only the page whose name is derived
                            from the secret of their own submission (nbgrader's submission secret)
"""

from __future__ import annotations

import os
from pathlib import Path


def prepare_exchange(root: Path, course_id: str, owner_uid: int, owner_gid: int) -> Path:
    """Create (or repair) the exchange folders of ``course_id`` under ``root``; returns the course folder."""
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    root.chmod(0o1777)
    course = root / course_id
    modes = {course: 0o755, course / "outbound": 0o755, course / "inbound": 0o2733, course / "feedback": 0o711}
    for folder, mode in modes.items():
        folder.mkdir(exist_ok=True)
        os.chown(folder, owner_uid, owner_gid)
        folder.chmod(mode)
    return course
