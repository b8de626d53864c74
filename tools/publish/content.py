"""What the student repository holds, as files in memory: built, checked, then written.

Only what students need: the released notebooks, the published solutions, the packages graded
cells import (the same selection the grading sandbox shows students' code,
:mod:`autograder.sandbox.packages`), the grader's pins and ``binder/``, a README and a license.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import nbformat

from autograder.sandbox.packages import AUTOGRADER_PARTS, PACKAGES

from .links import clone_commands, colab_install_line, launch_links
from .settings import StudentRepository
from .solutions import solution_notebook

TEMPLATES = Path(__file__).with_name("student")
RELEASE = "release"
SOLUTIONS = "solutions"
PINS = "binder/requirements.txt"
# Never part of what is copied: caches, editor and hidden files.
SKIPPED = re.compile(r"(^|/)(__pycache__|\.[^/]*)(/|$)|\.pyc$")


@dataclass(frozen=True)
class StudentFile:
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class Chapter:
    assignment: str
    notebook: str  # file name in release/<assignment>/
    title: str

    @property
    def path(self) -> str:
        return f"{RELEASE}/{self.assignment}/{self.notebook}"


class ContentError(ValueError):
    """The instructor's checkout lacks something the student repository needs."""


def _tree(folder: Path, prefix: str) -> dict[str, StudentFile]:
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not SKIPPED.search(relative):
            files[f"{prefix}/{relative}"] = StudentFile(path.read_bytes(), bool(path.stat().st_mode & 0o111))
    return files


def _title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def released_chapters(root: Path) -> list[Chapter]:
    chapters = []
    for path in sorted((Path(root) / RELEASE).glob("*/*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts:
            chapters.append(Chapter(path.parent.name, path.name, _title(nbformat.read(path, as_version=4), path.stem)))
    if not chapters:
        raise ContentError("release/ holds no notebook: run make release")
    return chapters


def packages(root: Path) -> dict[str, StudentFile]:
    """slopegrad, courseplots and, of autograder, the check API and the problems."""
    files = {}
    for name in PACKAGES:
        files.update(_tree(Path(root) / name, name))
    for part in AUTOGRADER_PARTS:
        path = Path(root) / "autograder" / part
        if path.is_dir():
            files.update(_tree(path, f"autograder/{part}"))
        else:
            files[f"autograder/{part}"] = StudentFile(path.read_bytes())
    return files


def solutions(root: Path, chapters: set[str]) -> dict[str, StudentFile]:
    files = {}
    for assignment in sorted(chapters):
        released = sorted((Path(root) / RELEASE / assignment).glob("*.ipynb"))
        if not released:
            raise ContentError(f"no released notebook for {assignment!r}: cannot publish its solutions")
        for path in released:
            source = Path(root) / "source" / assignment / path.name
            if not source.is_file():
                raise ContentError(f"source/{assignment}/{path.name} is missing: cannot publish its solution")
            notebook = solution_notebook(nbformat.read(source, as_version=4), nbformat.read(path, as_version=4))
            buffer = io.StringIO()
            nbformat.write(notebook, buffer)
            files[f"{SOLUTIONS}/{assignment}/{path.name}"] = StudentFile(buffer.getvalue().encode())
    return files


def pins(root: Path) -> str:
    """The grader's exact versions (requirements/student.txt), without the instructor's notes."""
    lines = [line.strip() for line in (Path(root) / "requirements" / "student.txt").read_text().splitlines()]
    wanted = [line for line in lines if line and not line.startswith("#")]
    header = ("# The versions the course's grader runs your notebooks with (NumPy, matplotlib, the Jupyter kernel).\n"
              "# Binder and the course's hub image install these, then this repository's packages (postBuild).\n")
    return header + "\n".join(wanted) + "\n"


def _render(name: str, **values: str) -> bytes:
    return Template((TEMPLATES / name).read_text()).substitute(values).encode()


def _chapter_row(repo: StudentRepository, chapter: Chapter) -> str:
    links = launch_links(repo, chapter.path)
    opened = [f"[{label}]({url})" for label, url in (("JupyterHub", links.jupyterhub), ("Binder", links.binder),
                                                        ("Colab", links.colab)) if url]
    return f"| {chapter.title} | [`{chapter.path}`]({chapter.path}) | {' · '.join(opened)} |"


def front_matter(root: Path, repo: StudentRepository, version: str) -> dict[str, StudentFile]:
    """README, LICENSE, the packaging files and binder/."""
    chapters = released_chapters(root)
    return {
        "README.md": StudentFile(_render(
            "README.md", title=repo.title or repo.name, url=repo.url,
            chapter_rows="\n".join(_chapter_row(repo, chapter) for chapter in chapters),
            colab_install=colab_install_line(repo), clone_commands="\n".join(clone_commands(repo)),
            license_name="MIT",
        )),
        "LICENSE": StudentFile(_render("LICENSE", year=repo.year, author=repo.author or repo.title)),
        "pyproject.toml": StudentFile(_render("pyproject.toml", package_name=repo.name, version=version)),
        "requirements.txt": StudentFile(
            b"# Everything the notebooks need, at the grader's versions, then this repository's packages.\n"
            b"-r binder/requirements.txt\n-e .\n"),
        PINS: StudentFile(pins(root).encode()),
        "binder/postBuild": StudentFile((TEMPLATES / "binder" / "postBuild").read_bytes(), executable=True),
        "binder/runtime.txt": StudentFile((TEMPLATES / "binder" / "runtime.txt").read_bytes()),  # requires-python
        ".gitignore": StudentFile((TEMPLATES / "gitignore").read_bytes()),
    }


def student_files(root: Path, repo: StudentRepository, solution_chapters: set[str], version: str) -> dict[str, StudentFile]:
    """Every file of the student repository, by path relative to its root."""
    root = Path(root)
    files = {}
    for chapter in sorted({c.assignment for c in released_chapters(root)}):
        files.update(_tree(root / RELEASE / chapter, f"{RELEASE}/{chapter}"))
    files.update(solutions(root, solution_chapters))
    files.update(packages(root))
    files.update(front_matter(root, repo, version))
    return files
