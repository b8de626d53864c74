"""How long the book takes to build: cold, and again after touching one chapter.

Everything runs in a scratch copy of the checkout (its source/, release/, book/, tools/ and course
packages), so the real _build/ and caches are left alone. The pinned MathJax is copied from this
checkout's .state/ when it is already installed there (an installation step, like the virtual
environment, timed separately when it has to run).

- cold: ``python -m tools.book build`` with no _build/, no executed notebooks and no chapter pages;
- no change: the same command again;
- touch: the chapter's source and released notebooks get a new modification time (what
  ``make release`` does to every notebook) and nothing else;
- narrative edit: a sentence added to a markdown cell of one chapter (in source/ and release/);
- code edit: a comment added to a code cell of one chapter that is neither an exercise nor a test,
  so that chapter is executed again;
- release: ``nbgrader generate_assignment`` for every assignment, the part of ``make book`` that is
  ``make release`` (one call per assignment, as the Makefile does, and one call for all of them).

Targets on the 2-core reference machine: cold at most 60 s, a rebuild after touching one chapter
at most 10 s.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COLD_TARGET_S = 60.0
REBUILD_TARGET_S = 10.0
NOT_COPIED = {".git", ".state", "_build", "node_modules", ".pytest_cache", ".hypothesis", "course"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    here = Path(folder)
    ignored = {n for n in names if n in NOT_COPIED or n.startswith(".venv") or n == "__pycache__"}
    if here == ROOT / "book":
        ignored.add("chapters")
    if here == ROOT / "bench":
        ignored.add("results.json")
    return ignored


def _environment(scratch: Path) -> dict[str, str]:
    state = scratch / ".state"
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(state / "jupyter" / "config"),
        JUPYTER_DATA_DIR=str(state / "jupyter" / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "jupyter" / "runtime"),
        IPYTHONDIR=str(state / "ipython"),
        MPLCONFIGDIR=str(state / "matplotlib"),
        PYTHONDONTWRITEBYTECODE="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


CPU = {}  # measurement -> CPU seconds of the build and everything it started (kernels, Sphinx)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _build(scratch: Path, env: dict[str, str], name: str) -> tuple[float, str]:
    cpu, started = _children_cpu(), time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tools.book", "build"], cwd=scratch, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    CPU[name] = round(_children_cpu() - cpu, 2)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed in the benchmark:\n{result.stdout}\n{result.stderr}")
    line = next((out for out in result.stdout.splitlines() if out.startswith("book:")), "")
    return seconds, line


def _chapter(scratch: Path) -> tuple[Path, Path]:
    released = sorted((scratch / "release").glob("*/*.ipynb"))
    if not released:
        raise RuntimeError("release/ has no notebooks: nothing to build")
    notebook = next((p for p in released if "momentum" in p.parent.name), released[0])
    return scratch / "source" / notebook.parent.name / notebook.name, notebook


def _edit(paths: tuple[Path, Path], pick, change) -> None:
    """Apply the same change to the same cell of the source and the released notebook."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if pick(c))
        cell.source = change(cell.source)
        nbformat.write(nb, path)


def _plain_code(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and not meta.get("solution") and not meta.get("grade") and "BEGIN" not in cell.source


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        scratch = Path(tmp) / "course"
        shutil.copytree(ROOT, scratch, ignore=_ignore, symlinks=True)
        env = _environment(scratch)
        installed = ROOT / ".state" / "book"
        mathjax_install_s = 0.0
        if (installed / "npm").is_dir() and (installed / "static").is_dir():
            for part in ("npm", "static", "static.sha256"):
                origin, target = installed / part, scratch / ".state" / "book" / part
                target.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if origin.is_dir() else shutil.copy2)(origin, target)
        else:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "from tools.book.build import ensure_mathjax, ROOT; ensure_mathjax(ROOT)"],
                           cwd=scratch, env=env, check=True)
            mathjax_install_s = time.perf_counter() - started

        chapters = len(list((scratch / "release").glob("*/*.ipynb")))
        cold_s, cold_line = _build(scratch, env, "cold")
        noop_s, _ = _build(scratch, env, "no_change")
        paths = _chapter(scratch)
        for path in paths:
            path.touch()
        touch_s, _ = _build(scratch, env, "touch_one_chapter")
        _edit(paths, lambda c: c.cell_type == "markdown", lambda s: s + "\n\nA sentence added by the benchmark.")
        narrative_s, _ = _build(scratch, env, "narrative_edit_one_chapter")
        _edit(paths, _plain_code, lambda s: s + "\n# a comment added by the benchmark")
        code_s, code_line = _build(scratch, env, "code_edit_one_chapter")

        started = time.perf_counter()
        for assignment in sorted(p.name for p in (scratch / "source").iterdir() if any(p.glob("*.ipynb"))):
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                            "--log-level=ERROR"], cwd=scratch, env=env, check=True, capture_output=True)
        release_s = time.perf_counter() - started
        started = time.perf_counter()  # the same notebooks from one nbgrader process (a glob for the id)
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--force", "--log-level=ERROR"],
                       cwd=scratch, env=env, check=True, capture_output=True)
        release_one_call_s = time.perf_counter() - started

    rebuild_s = max(touch_s, narrative_s, code_s)
    return {
        # Other work on the machine stretches wall times: the load average and the CPU seconds tell.
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_after": round(os.getloadavg()[0], 2)},
        "cpu_s": dict(CPU),
        "chapters": chapters,
        "cold_s": round(cold_s, 2),
        "cold_breakdown": cold_line,
        "no_change_s": round(noop_s, 2),
        "touch_one_chapter_s": round(touch_s, 2),
        "narrative_edit_one_chapter_s": round(narrative_s, 2),
        "code_edit_one_chapter_s": round(code_s, 2),
        "code_edit_breakdown": code_line,
        "release_all_assignments_s": round(release_s, 2),
        "release_one_nbgrader_call_s": round(release_one_call_s, 2),
        "mathjax_install_s": round(mathjax_install_s, 2),
        "targets": {"cold_s": COLD_TARGET_S, "rebuild_s": REBUILD_TARGET_S},
        "meets_targets": cold_s <= COLD_TARGET_S and rebuild_s <= REBUILD_TARGET_S,
    }


def format_table(result: dict) -> str:
    cpu, rebuild = result["cpu_s"], f"<= {result['targets']['rebuild_s']:.0f}"
    rows = [
        ("cold build (whole book)", result["cold_s"], cpu.get("cold"), f"<= {result['targets']['cold_s']:.0f}"),
        ("rebuild, nothing changed", result["no_change_s"], cpu.get("no_change"), ""),
        ("rebuild, one chapter touched", result["touch_one_chapter_s"], cpu.get("touch_one_chapter"), rebuild),
        ("rebuild, one chapter's narrative edited", result["narrative_edit_one_chapter_s"],
         cpu.get("narrative_edit_one_chapter"), rebuild),
        ("rebuild, one chapter's code edited", result["code_edit_one_chapter_s"], cpu.get("code_edit_one_chapter"), rebuild),
        ("make release part (nbgrader, one call per assignment)", result["release_all_assignments_s"], None, ""),
        ("  the same, one nbgrader call for all ('*')", result["release_one_nbgrader_call_s"], None, ""),
    ]
    width = max(len(name) for name, _, _, _ in rows)
    lines = [f"book build, {result['chapters']} chapter(s), {result['machine']['cpus']} CPUs, "
             f"load average {result['machine']['load_average_1min_after']} after the run",
             f"{'':{width}}  seconds  CPU s  target"]
    lines += [f"{name:{width}}  {seconds:7.2f}  {'' if used is None else f'{used:5.1f}':>5}  {target}"
              for name, seconds, used, target in rows]
    if result["mathjax_install_s"]:
        lines.append(f"{'(MathJax installed first, npm ci)':{width}}  {result['mathjax_install_s']:7.2f}")
    lines.append(f"cold: {re.sub(r'^book: ', '', result['cold_breakdown'])}")
    lines.append("meets the targets" if result["meets_targets"] else "MISSES a target")
    return "\n".join(lines)


if __name__ == "__main__":
    import json

    outcome = run()
    print(format_table(outcome))
    print(json.dumps(outcome, indent=2))
