"""Build the site: chapter pages, the local MathJax, Jupyter Book with warnings as errors, checks.

``build()`` is what ``make book`` and the book tests run. It takes a lock, so two test workers
never build into the same folder at once, and it is incremental: cached executions, pages
rewritten only when they change, and Sphinx re-reading only changed pages.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .render import Layout, Report, local_dependencies, prepare

ROOT = Path(__file__).resolve().parents[2]
# What the pages need from the MathJax package (tex-mml-chtml and what it loads on demand).
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "output/chtml.js", "ui", "a11y", "sre", "adaptors")
# Tags whose URL the browser fetches by itself: none of them may leave the site.
FETCHING_TAG = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(src|href|srcset|data|poster)\s*=\s*"
    r"[\"']\s*((?:https?:)?//[^\"'\s>]+)",
    re.I,
)
CSS_REMOTE = re.compile(r"(?:@import\s+|url\(\s*)[\"']?((?:https?:)?//[^\"')\s]+)", re.I)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|class=\"[^\"]*\b(?:output error|traceback)\b")


class BuildError(RuntimeError):
    pass


@dataclass
class Timing:
    prepare: Report
    sphinx_seconds: float
    total_seconds: float


def html_dir(root: Path = ROOT) -> Path:
    return Path(root) / "_build" / "html"


@contextmanager
def build_lock(root: Path):
    lock = Layout(root).state / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_mathjax(root: Path) -> Path:
    """Install the pinned MathJax (npm ci, into .state) and stage the parts the site serves."""
    layout = Layout(root)
    manifest = (root / "package.json", root / "package-lock.json")
    wanted = _sha(*manifest)
    npm_dir = layout.state / "npm"
    package = npm_dir / "node_modules" / "mathjax"
    installed_stamp = npm_dir / "installed.sha256"
    if not (package / "es5" / "tex-mml-chtml.js").is_file() or not installed_stamp.is_file() or installed_stamp.read_text() != wanted:
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError("npm is needed once to install the pinned MathJax (package-lock.json)")
        npm_dir.mkdir(parents=True, exist_ok=True)
        for path in manifest:
            shutil.copy2(path, npm_dir / path.name)
        subprocess.run(
            [npm, "ci", "--prefix", str(npm_dir), "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            check=True,
        )
        installed_stamp.write_text(wanted)
    staged = layout.state / "static" / "mathjax"
    staged_stamp = layout.state / "static.sha256"
    if not staged_stamp.is_file() or staged_stamp.read_text() != wanted or not staged.is_dir():
        shutil.rmtree(staged, ignore_errors=True)
        for part in MATHJAX_PARTS:
            origin = package / "es5" / part
            target = staged / part
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, target)
            elif origin.is_file():
                shutil.copy2(origin, target)
        shutil.copy2(package / "LICENSE", staged / "LICENSE")
        staged_stamp.write_text(wanted)
    return staged


def check_site(outdir: Path) -> list[str]:
    """Problems a reader would meet: a traceback on a page, an asset fetched from outside the site."""
    problems = []
    for page in sorted(outdir.rglob("*.html")):
        text = page.read_text(errors="replace")
        where = page.relative_to(outdir)
        if TRACEBACK.search(text):
            problems.append(f"{where}: shows a traceback")
        for match in FETCHING_TAG.finditer(text):
            problems.append(f"{where}: <{match.group(1)}> fetches {match.group(3)}")
    for sheet in sorted(outdir.rglob("*.css")):
        for match in CSS_REMOTE.finditer(sheet.read_text(errors="replace")):
            problems.append(f"{sheet.relative_to(outdir)}: loads {match.group(1)}")
    return problems


def jupyter_book() -> list[str]:
    """The ``jupyter-book`` command, minus a 1.5 s import that it never needs (see render.py)."""
    return [
        sys.executable,
        "-c",
        "import sys; sys.modules['rfc3987_syntax'] = None; from jupyter_book.cli.main import main; sys.exit(main())",
    ]


# What the site is made from, besides the course packages the notebooks import.
INPUTS = ("source", "release", "book", "tools/book", "tools/publish/links.py", "_config.yml", "_toc.yml", "package.json",
          "package-lock.json")


def inputs_fingerprint(root: Path) -> str:
    """Names, sizes and modification times of every input of the site: cheap, and changes with any edit."""
    files: set[Path] = set()
    for name in INPUTS:
        path = root / name
        if path.is_file():
            files.add(path)
        elif path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file())
    code = "".join(cell.source + "\n" for nb in sorted((root / "source").glob("*/*.ipynb"))
                   for cell in nbformat.read(nb, as_version=4).cells if cell.cell_type == "code")
    files.update(local_dependencies(root, code))
    digest = hashlib.sha256()
    for path in sorted(files):
        relative = path.relative_to(root)
        if relative.parts[:2] == ("book", "chapters") or "__pycache__" in relative.parts:
            continue
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def navigation(root: Path) -> str:
    """What every page's sidebar shows: the table of contents and each page's title.

    Sphinx rewrites only the pages whose own content changed, so a chapter that appears, goes or
    is renamed would leave the other pages' sidebars stale: when this changes, every page is written.
    """
    heading = re.compile(r"^#\s+(.+)$", re.M)
    titles = {}
    pages = [*sorted((root / "book").glob("*.md")), *sorted((root / "book" / "chapters").glob("*/*.ipynb"))]
    for page in pages:
        if page.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(page, as_version=4).cells if c.cell_type == "markdown")
        else:
            text = page.read_text()
        match = heading.search(text)
        titles[str(page.relative_to(root))] = match.group(1).strip() if match else ""
    toc = (root / "_toc.yml").read_text() if (root / "_toc.yml").is_file() else ""
    return json.dumps({"toc": toc, "titles": titles}, sort_keys=True)


def build(root: Path = ROOT, rebuild_all: bool = False, quiet: bool = True, workers: int = 2,
          if_stale: bool = False) -> Timing | None:
    """Prepare the chapter pages and build ``_build/html`` with warnings as errors; check the result.

    With ``if_stale``, do nothing (return None) when no input changed since the last successful
    build: test workers share one site and must not rewrite it under each other's feet.
    """
    root = Path(root).resolve()
    started = time.perf_counter()
    stamp = Layout(root).state / "built.sha256"
    with build_lock(root):
        fingerprint = inputs_fingerprint(root)
        if if_stale and stamp.is_file() and stamp.read_text() == fingerprint and (html_dir(root) / "index.html").is_file():
            return None
        stamp.unlink(missing_ok=True)
        ensure_mathjax(root)
        report = prepare(root, workers=workers)
        nav, nav_stamp = navigation(root), Layout(root).state / "navigation.json"
        if not nav_stamp.is_file() or nav_stamp.read_text() != nav:
            rebuild_all = True
        nav_stamp.unlink(missing_ok=True)
        sphinx_started = time.perf_counter()
        command = [*jupyter_book(), "build", str(root), "--builder", "html", "-W", "--keep-going"]
        if rebuild_all:
            command.append("--all")
        if quiet:
            command.append("-q")
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
        sphinx_seconds = time.perf_counter() - sphinx_started
        if result.returncode != 0:
            raise BuildError(f"jupyter-book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
        problems = check_site(html_dir(root))
        if problems:
            raise BuildError("the built site has problems:\n" + "\n".join(problems[:50]))
        nav_stamp.write_text(nav)
        stamp.write_text(fingerprint)
    return Timing(report, sphinx_seconds, time.perf_counter() - started)
