"""Write the student files into the student repository and commit them on top of its history.

History is only ever appended to: one commit per publish that changes something, never an amend,
a rebase or a new root on an existing repository, so students' clones and nbgitpuller merges go
on working. Before anything is written, every file is searched for leaks (:mod:`tools.leaks`);
a publish that fails leaves the repository as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox.packages import AUTOGRADER_PARTS, PACKAGES
from tools.leaks import course_secret_lines, text_leaks

from .content import SOLUTIONS, StudentFile, released_chapters, student_files
from .settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEST = Path("_build") / "student-repo"
# Instructor-only paths that must never be in the student repository, whatever else changes.
FORBIDDEN = ("source/", "autograder/golden/", "autograder/golden.json", "autograder/mistakes/", "tests/", "tools/")


class PublishError(RuntimeError):
    """Publishing stopped before committing anything; the message says why."""


@dataclass(frozen=True)
class Publication:
    dest: Path
    commit: str  # the branch's head after publishing
    previous: str | None  # the head before (None for a new repository)
    changed: tuple[str, ...]  # paths added, modified or deleted by this publish (empty: nothing to publish)
    solutions: tuple[str, ...]  # chapters whose solutions the repository holds

    @property
    def created(self) -> bool:
        return self.previous is None


def _git_env() -> dict[str, str]:
    # A GIT_DIR or GIT_INDEX_FILE from the caller (a hook, another repository) must not redirect us.
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git(dest: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-C", str(dest), *args], capture_output=True, text=True, env=_git_env())
    if check and result.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed in {dest}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _open(dest: Path, branch: str) -> str | None:
    """The student repository's head (None when new); refuses a folder that is not one, or has local changes."""
    if not dest.exists() or (dest.is_dir() and not any(dest.iterdir())):
        dest.mkdir(parents=True, exist_ok=True)
        git(dest, "init", "--quiet", f"--initial-branch={branch}")
        return None
    if not (dest / ".git").exists():
        raise PublishError(f"{dest} exists and is not a git repository: move it away, or clone the student repository there")
    current = git(dest, "symbolic-ref", "--short", "HEAD").stdout.strip()
    if current != branch:
        raise PublishError(f"{dest} is on branch {current!r}, not {branch!r} (repository.branch in _config.yml)")
    status = git(dest, "status", "--porcelain", "--untracked-files=all").stdout
    if status.strip():
        raise PublishError(f"{dest} has changes that were not published by this tool; commit or remove them first:\n{status}")
    head = git(dest, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
    return head.stdout.strip() if head.returncode == 0 else None


def published_solutions(dest: Path, head: str | None) -> set[str]:
    """Chapters whose solutions the repository already holds: once published, they stay."""
    if head is None:
        return set()
    listing = git(dest, "ls-tree", "--name-only", head, f"{SOLUTIONS}/").stdout.split()
    return {Path(name).name for name in listing}


def student_secret_lines(root: Path, files: dict[str, StudentFile], solution_chapters) -> set[str]:
    """The secret lines (:mod:`tools.leaks`) for the student repository.

    The course packages' code is public: students' code can already read every line of it in the
    grading sandbox. Published solutions are public too; hidden tests never are.
    """
    packages = tuple(f"{name}/" for name in PACKAGES) + tuple(f"autograder/{part}" for part in AUTOGRADER_PARTS)
    code = [file.data.decode("utf-8", errors="replace") for path, file in files.items()
            if path.endswith(".py") and path.startswith(packages)]
    return course_secret_lines(Path(root) / "source", tuple(sorted(solution_chapters)), code)


def leaks(files: dict[str, StudentFile], secrets: set[str]) -> list[str]:
    """Every secret line, region marker or instructor-only path among ``files``."""
    hits = [f"{path}: instructor-only path" for path in files if path.startswith(FORBIDDEN)]
    for path, file in sorted(files.items()):
        hits += text_leaks(path, file.data.decode("utf-8", errors="replace"), secrets)
    return hits


def _write(dest: Path, files: dict[str, StudentFile]) -> None:
    tracked = git(dest, "ls-files", "-z").stdout.split("\0")
    for path in tracked:
        if path and path not in files:
            (dest / path).unlink(missing_ok=True)
    for path, file in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.data)
        target.chmod(0o755 if file.executable else 0o644)
    for folder in sorted((p for p in dest.rglob("*") if p.is_dir() and ".git" not in p.relative_to(dest).parts),
                         key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def _undo(dest: Path, head: str | None, existed: bool) -> None:
    """Back to the state before this publish (the work tree was clean then, so nothing else is lost)."""
    if head is not None:
        git(dest, "reset", "--quiet", "--hard", head, check=False)
        git(dest, "clean", "--quiet", "-fd", check=False)
    elif not existed:
        shutil.rmtree(dest, ignore_errors=True)


def _message(changed: list[tuple[str, str]], solutions_added: set[str], today: dt.date) -> str:
    chapters = sorted({path.split("/")[1] for _, path in changed if path.startswith("release/")})
    parts = []
    if chapters:
        parts.append("chapters " + ", ".join(chapters))
    if solutions_added:
        parts.append("solutions of " + ", ".join(sorted(solutions_added)))
    if any(not path.startswith(("release/", f"{SOLUTIONS}/")) for _, path in changed):
        parts.append("course packages and setup")
    lines = [f"Publish {today.isoformat()}: " + "; ".join(parts), ""]
    lines += [f"{status} {path}" for status, path in changed]
    return "\n".join(lines) + "\n"


def _identity(dest: Path, repo) -> list[str]:
    """The instructor's git identity where one is set, else the course's author."""
    if git(dest, "config", "user.email", check=False).stdout.strip():
        return []
    host = repo.url.split("://", 1)[-1].split("/", 1)[0]
    return ["-c", f"user.name={repo.author or repo.name}", "-c", f"user.email=noreply@{host}"]


def publish(dest: Path | str = DEFAULT_DEST, root: Path | str = ROOT, solutions: tuple[str, ...] | list[str] = (),
            today: dt.date | None = None) -> Publication:
    """Generate the student repository in ``dest`` and commit it on top of its history.

    ``solutions`` adds those chapters' reference solutions (solution code only), as do the dates in
    ``publish.solutions`` of ``_config.yml`` that have come by ``today``; chapters whose solutions
    were published before keep them. ``dest`` is relative to ``root`` unless absolute.
    """
    root = Path(root).resolve()
    dest = (root / dest).resolve()
    today = today or dt.date.today()
    repo = load_settings(root)
    released = {chapter.assignment for chapter in released_chapters(root)}
    wanted = set(solutions) | repo.solutions_due(today)
    unknown = sorted((set(solutions) | set(repo.solution_dates)) - released)
    if unknown:
        raise PublishError(f"no released chapter named {', '.join(unknown)} (SOLUTIONS, or publish.solutions in "
                           f"_config.yml); released: {', '.join(sorted(released))}")
    existed = dest.exists()
    head = _open(dest, repo.branch)
    try:
        before = published_solutions(dest, head)
        chapters = before | wanted
        version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
        files = student_files(root, repo, chapters, version)
        found = leaks(files, student_secret_lines(root, files, chapters))
        if found:
            raise PublishError("nothing published: these files would leak what students must not see:\n" + "\n".join(found[:50]))
        _write(dest, files)
        git(dest, "add", "--all")
        status = git(dest, "diff", "--cached", "--name-status", "--no-renames").stdout.splitlines()
        changed = [tuple(line.split("\t", 1)) for line in status if line.strip()]
        if changed:
            message = _message(changed, chapters - before, today)
            git(dest, *_identity(dest, repo), "commit", "--quiet", "--no-verify", "-m", message)
    except BaseException:
        _undo(dest, head, existed)
        raise
    commit = git(dest, "rev-parse", "HEAD").stdout.strip()
    return Publication(dest, commit, head, tuple(path for _, path in changed), tuple(sorted(chapters)))
