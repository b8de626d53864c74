"""Chapter pages: the released notebook, carrying the outputs that the reference solution draws.

This is the only step of the book build that reads ``source/``. For every assignment notebook:

1. the instructor's notebook ``source/<assignment>/<notebook>.ipynb`` is executed once, on a real
   kernel, in a scratch copy of its folder (test cells left out unless a later cell needs them).
   The executed notebook is cached under ``.state/book/executed/`` by a hash of everything that
   can change its outputs (its code cells, the other files of its folder, the course packages it
   imports), so an edit to the narrative or to another chapter runs nothing;
2. the page ``book/chapters/<assignment>/<notebook>.ipynb`` is the *released* notebook with, on
   each narrative or figure cell, the outputs of the matching source cell (matched by cell id, else
   by the position among code cells). Solution cells (the exercise stubs) and test cells keep no
   outputs, so the page shows exactly the code students get;
3. every copied output is checked for solution text: a line that the release strips from the
   source (a solution or hidden-test line) found in an output stops the build.

Pages are written only when their content changes, so Sphinx rebuilds only what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.cells import is_test_cell, nbgrader_meta

# Bump when the way pages are made changes, to invalidate every cached execution.
RENDER_VERSION = "2"
# A line this short, or made of punctuation only, is too generic to identify a solution.
MIN_SECRET_LINE = 12
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
CELL_TIMEOUT = 300
# A stylesheet an output would fetch from outside the site (matplotlib's animation HTML asks for
# FontAwesome 4 from a CDN; the theme's own FontAwesome draws the same button icons).
REMOTE_STYLESHEET = re.compile(r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>\s*", re.I)


class RenderError(RuntimeError):
    """A chapter page cannot be made safely (a source cell failed, or an output carries a secret)."""


@dataclass(frozen=True)
class Layout:
    """Where the book build reads and writes, relative to one course checkout."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def chapters(self) -> Path:
        return self.root / "book" / "chapters"

    @property
    def state(self) -> Path:
        return self.root / ".state" / "book"

    @property
    def executed(self) -> Path:
        return self.state / "executed"

    @property
    def scratch(self) -> Path:
        return self.state / "run"


@dataclass
class Chapter:
    assignment: str
    notebook: str  # file name, e.g. momentum.ipynb
    layout: Layout

    @property
    def source(self) -> Path:
        return self.layout.source / self.assignment / self.notebook

    @property
    def release(self) -> Path:
        return self.layout.release / self.assignment / self.notebook

    @property
    def page(self) -> Path:
        return self.layout.chapters / self.assignment / self.notebook

    @property
    def name(self) -> str:
        return f"{self.assignment}/{self.notebook}"


@dataclass
class Report:
    """What one preparation did, for the build log and the benchmark."""

    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    dropped_stderr: list[str] = field(default_factory=list)
    unreleased: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- cells ---------------------------------------------------------------------------------


def is_secret_cell(cell) -> bool:
    """A solution cell, a test cell, or any cell holding a solution/hidden-test region."""
    meta = nbgrader_meta(cell)
    if meta.get("solution") or (cell.cell_type == "code" and meta.get("grade")):
        return True
    return any(marker in cell.source for marker in MARKERS)


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def secret_lines(source_nb, released_nb) -> set[str]:
    """Lines of the source's secret cells that the release stripped: what must never be shown."""
    released = set()
    for cell in released_nb.cells:
        released.update(line.strip() for line in cell.source.splitlines())
    secrets = set()
    for cell in source_nb.cells:
        if not is_secret_cell(cell):
            continue
        for line in cell.source.splitlines():
            line = line.strip()
            if len(line) >= MIN_SECRET_LINE and re.search(r"\w", line) and line not in released:
                secrets.add(line)
    return secrets


# --- execution, cached ---------------------------------------------------------------------


IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([\w., \t]+))", re.M)


def imported_top_level(code: str) -> set[str]:
    """Top-level names of the modules ``code`` imports (a line scan: fast, and enough for a cache key)."""
    names = set()
    for origin, listed in IMPORT.findall(code):
        if origin:
            names.add(origin)
        for item in listed.split(","):
            words = item.split()
            if words:
                names.add(words[0].split(".")[0])
    return names


def local_dependencies(root: Path, code: str, memo: dict[str, list[Path]] | None = None) -> list[Path]:
    """Files of the checkout's own packages that ``code`` imports, directly or not (their .py and .js)."""
    memo = {} if memo is None else memo
    files: set[Path] = set()
    seen: set[str] = set()
    pending = imported_top_level(code)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in memo:
            package, module = root / name, root / f"{name}.py"
            # Python files, and the scripts a package puts into its HTML outputs (courseplots' explorer).
            found = sorted([*package.rglob("*.py"), *package.rglob("*.js")]) if (package / "__init__.py").is_file() else []
            memo[name] = [path for path in found + ([module] if module.is_file() else []) if "__pycache__" not in path.parts]
        for path in memo[name]:
            if path not in files:
                files.add(path)
                if path.suffix == ".py":
                    pending |= imported_top_level(path.read_text(errors="replace")) - seen
    return sorted(files)


def execution_key(chapter: Chapter, source_nb, memo: dict[str, list[Path]] | None = None) -> str:
    """Hash of everything that can change the executed outputs (not the narrative)."""
    root = chapter.layout.root
    digest = hashlib.sha256(f"render {RENDER_VERSION}\n".encode())
    code = ""
    for cell in code_cells(source_nb):
        digest.update(f"cell {cell.get('id', '')}\n{cell.source}\n".encode())
        code += cell.source + "\n"
    folder = chapter.source.parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            digest.update(f"file {path.relative_to(folder)}\n".encode() + path.read_bytes())
    for path in local_dependencies(root, code, memo):
        digest.update(f"dep {path.relative_to(root)}\n".encode() + path.read_bytes())
    return digest.hexdigest()


def kernel_environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The inline backend draws figures into the notebook; a headless Agg default would swallow them.
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


async def _run_cells(client, nb, skip_tests: bool, **kernel_options) -> None:
    """nbclient's ``async_execute``, optionally leaving the test cells out."""
    client.reset_execution_trackers()
    async with client.async_setup_kernel(**kernel_options):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or (skip_tests and is_test_cell(cell)):
                continue
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)


async def _execute(chapter: Chapter, source_nb, gate: asyncio.Semaphore):
    """Execute a copy of the source notebook; return it with its outputs.

    Test cells are left out first: their outputs are never shown and the hidden tests can be slow.
    If a later cell needed something a test cell defined, the whole notebook runs again, tests included.
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    workdir = chapter.layout.scratch / chapter.assignment / Path(chapter.notebook).stem
    async with gate:
        for skip_tests in (True, False):
            nb = copy.deepcopy(source_nb)
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.copytree(chapter.source.parent, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            # Local sockets rather than TCP: nothing else on the machine can talk to the kernel. They
            # live in a short temporary folder (a socket's path is limited to about 100 characters).
            sockets = Path(tempfile.mkdtemp(prefix="book-kernel-")) / "kernel"
            manager = AsyncKernelManager(
                kernel_name="python3", transport="ipc", ip=str(sockets), connection_file=str(sockets) + ".json"
            )
            client = NotebookClient(
                nb, km=manager, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
            )
            try:
                await _run_cells(client, nb, skip_tests, env=kernel_environment(chapter.layout.root), cwd=str(workdir))
                return nb
            except CellExecutionError as exc:
                if not skip_tests:
                    raise RenderError(
                        f"source/{chapter.name} fails when executed with its reference solutions; "
                        f"the book cannot draw its figures:\n{exc}"
                    ) from None
            finally:
                if manager.has_kernel:  # a kernel manager given to nbclient is ours to shut down
                    await manager.shutdown_kernel(now=True)
                shutil.rmtree(workdir, ignore_errors=True)
                shutil.rmtree(sockets.parent, ignore_errors=True)
                with contextlib.suppress(OSError):
                    workdir.parent.rmdir()  # the assignment's folder, once its last notebook is done
    raise AssertionError("unreachable")


def executed_notebooks(chapters: list[Chapter], report: Report, workers: int = 2) -> dict[str, nbformat.NotebookNode]:
    """Each chapter's source notebook with its outputs, from the cache or executed now."""
    results: dict[str, nbformat.NotebookNode] = {}
    todo: list[tuple[Chapter, str, nbformat.NotebookNode]] = []
    keys = set()
    memo: dict[str, list[Path]] = {}
    for chapter in chapters:
        source_nb = nbformat.read(chapter.source, as_version=4)
        key = execution_key(chapter, source_nb, memo)
        keys.add(key)
        cached = chapter.layout.executed / f"{key}.ipynb"
        if cached.is_file():
            results[chapter.name] = nbformat.read(cached, as_version=4)
            report.cached.append(chapter.name)
        else:
            todo.append((chapter, key, source_nb))

    async def run_all():
        gate = asyncio.Semaphore(max(1, workers))
        return await asyncio.gather(*(_execute(chapter, nb, gate) for chapter, _, nb in todo))

    if todo:
        for (chapter, key, _), nb in zip(todo, asyncio.run(run_all())):
            target = chapter.layout.executed / f"{key}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            results[chapter.name] = nb
            report.executed.append(chapter.name)

    if chapters:  # keep the cache to what the current chapters use
        for stale in chapters[0].layout.executed.glob("*.ipynb"):
            if stale.stem not in keys:
                stale.unlink()
    return results


# --- merging -------------------------------------------------------------------------------


def _clean_output(output, where: str, report: Report):
    if output.output_type == "error":
        raise RenderError(f"{where} raised {output.ename} when executed with the reference solutions")
    if output.output_type == "stream" and output.name == "stderr":
        report.dropped_stderr.append(where)  # warnings are for the instructor's console, not the page
        return None
    output = copy.deepcopy(output)
    if output.output_type == "execute_result":
        output.execution_count = None
    html = output.get("data", {}).get("text/html")
    if html is not None:
        text = html if isinstance(html, str) else "".join(html)
        output.data["text/html"] = REMOTE_STYLESHEET.sub("", text)
    return output


def chapter_page(chapter: Chapter, released_nb, executed_nb, report: Report):
    """The released notebook, with the outputs of the executed source's non-secret cells."""
    page = copy.deepcopy(released_nb)
    sources = code_cells(executed_nb)
    by_id = {cell.id: cell for cell in sources if cell.get("id")}
    released_code = code_cells(page)
    if len(released_code) != len(sources):
        raise RenderError(
            f"release/{chapter.name} has {len(released_code)} code cells but source/ has {len(sources)}: run make release"
        )
    secrets = secret_lines(executed_nb, released_nb)
    for index, cell in enumerate(released_code):
        cell.outputs = []
        cell.execution_count = None
        source_cell = by_id.get(cell.get("id")) or sources[index]
        if is_secret_cell(cell) or is_secret_cell(source_cell):
            continue
        where = f"source/{chapter.name} code cell {index + 1}"
        if source_cell.source != cell.source:
            raise RenderError(f"{where} differs from its released version: run make release")
        for output in source_cell.get("outputs", []):
            cleaned = _clean_output(output, where, report)
            if cleaned is None:
                continue
            text = json.dumps(cleaned)
            leaked = [line for line in secrets if line in text or json.dumps(line)[1:-1] in text]
            leaked += [marker for marker in MARKERS if marker in text]
            if leaked:
                raise RenderError(f"{where}: an output carries solution text ({leaked[0]!r}); it cannot be shown")
            cell.outputs.append(cleaned)
    page.metadata.pop("widgets", None)
    return page


# --- the whole set -------------------------------------------------------------------------


def chapters_of(layout: Layout) -> tuple[list[Chapter], list[str]]:
    """Every released assignment notebook (each must have its instructor's source), and the
    source notebooks not released yet (``make book`` releases them first; they get no page)."""
    chapters = []
    for path in sorted(layout.release.glob("*/*.ipynb")):
        chapter = Chapter(path.parent.name, path.name, layout)
        if not chapter.source.is_file():
            raise RenderError(f"release/{chapter.name} has no source/{chapter.name}")
        chapters.append(chapter)
    unreleased = [
        f"{path.parent.name}/{path.name}"
        for path in sorted(layout.source.glob("*/*.ipynb"))
        if not (layout.release / path.parent.name / path.name).is_file()
    ]
    return chapters, unreleased


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def prepare(root: Path, workers: int = 2) -> Report:
    """Write ``book/chapters/`` for every released notebook; return what was done."""
    started = time.perf_counter()
    layout = Layout(Path(root).resolve())
    report = Report()
    chapters, report.unreleased = chapters_of(layout)
    executed = executed_notebooks(chapters, report, workers=workers)
    wanted = set()
    for chapter in chapters:
        released_nb = nbformat.read(chapter.release, as_version=4)
        page = chapter_page(chapter, released_nb, executed[chapter.name], report)
        nbformat.validate(page)
        wanted.add(chapter.page)
        if _write_if_changed(chapter.page, nbformat.writes(page) + "\n"):
            report.written.append(chapter.name)
        else:
            report.unchanged.append(chapter.name)
    if layout.chapters.is_dir():
        for path in sorted(layout.chapters.rglob("*"), reverse=True):
            if path.is_file() and path not in wanted and path.name != ".gitignore":
                path.unlink()
                report.removed.append(str(path.relative_to(layout.chapters)))
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    report.seconds = time.perf_counter() - started
    return report


if __name__ == "__main__":  # pragma: no cover - python -m tools.book is the entry point
    print(prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]))
