"""The course on the hub: its grading folder, its assignments released to the exchange, the student repository.

The instructor's side of the term: the course folder is an ``autograder`` course (``course-grade``
works in it), each chapter is released to the exchange (nbgrader's assignment list submits only
assignments that are released), and students pull the student repository with nbgitpuller.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from autograder.course import Course, CourseError, default_golden
from autograder.course_settings import save_settings
from autograder.pipeline import prepare
from autograder.tool_path import tool_env

from .settings import ROOT, HubSettings


def grading_course(settings: HubSettings, source: Path = ROOT / "source") -> Course:
    return Course(root=settings.course_dir, source=source, golden=default_golden(), course_id=settings.course_id,
                  exchange=settings.exchange_root)


def release(settings: HubSettings, assignments: list[str]) -> Course:
    """Prepare the course folder and release ``assignments`` to the exchange (``nbgrader release_assignment``)."""
    course = grading_course(settings)
    prepare(course, assignments)
    save_settings(course)
    for assignment in assignments:
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "release_assignment", assignment, "--force", "--log-level=ERROR",
             f"--Exchange.root={settings.exchange_root}", f"--CourseDirectory.course_id={settings.course_id}"],
            cwd=course.root, env=tool_env(), capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise CourseError(f"nbgrader release_assignment {assignment} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return course


def serve_repository(published: Path, where: Path) -> Path:
    """A clone of the published student repository that every account can read (what nbgitpuller pulls).

    Students' git refuses a repository owned by another account unless it is a ``safe.directory``
    of theirs: :func:`prepare_homes` writes that into each home's ``.gitconfig``.
    """
    if not (published / ".git").exists():
        raise CourseError(f"{published} is not a git repository: publish the student repository first")
    shutil.rmtree(where, ignore_errors=True)  # ours alone, never edited: a fresh clone of what was published
    where.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["git", "clone", "--quiet", str(published), str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        raise CourseError(f"could not clone {published}: {done.stderr.strip()}")
    subprocess.run(["chmod", "-R", "a+rX", str(where)], check=True)
    return where


def prepare_homes(settings: HubSettings, repository: Path) -> None:
    """Each user's home on the hub (theirs alone, 0700), trusting the served student repository."""
    for user in settings.users:
        account = pwd.getpwnam(user)
        home = settings.homes_dir / user
        home.mkdir(exist_ok=True)
        os.chown(home, account.pw_uid, account.pw_gid)
        home.chmod(0o700)
        config = home / ".gitconfig"
        config.write_text(f"[safe]\n\tdirectory = {repository}\n\tdirectory = {repository}/.git\n"
                          "[user]\n\tname = Course student\n\temail = student@localhost\n")
        os.chown(config, account.pw_uid, account.pw_gid)


def pull_link(settings: HubSettings, repository: Path, notebook: str, branch: str = "main") -> str:
    """The nbgitpuller link that clones (or merges) the student repository and opens ``notebook`` in JupyterLab."""
    query = urlencode({"repo": str(repository), "branch": branch, "urlpath": f"lab/tree/{repository.name}/{notebook}"},
                      safe="/")
    return f"{settings.url}/hub/user-redirect/git-pull?{query}"
