"""Sphinx extension for the course book: chapter buttons point at the released notebooks.

A chapter page is built from ``book/chapters/<assignment>/<notebook>.ipynb``, a generated file
that is not in the repository. Readers launching or downloading a chapter must get the notebook
they work on, ``release/<assignment>/<notebook>.ipynb``, so this extension

* rewrites the launch buttons (JupyterHub through nbgitpuller, Binder, Colab) of chapter pages to
  that path in the repository;
* offers ``{{ repository }}``, a link to the student repository, and ``{{ colab_install }}`` and
  ``{{ clone_commands }}``, the commands that install the course from it, to every page (the URL
  is written once, in ``_config.yml``; the commands are those of the student README,
  :mod:`tools.publish.links`);
* serves a copy of every released notebook at ``notebooks/<assignment>/<notebook>.ipynb`` and points
  each chapter's download button at it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # Sphinx loads this file by path; tools.publish lives at the root
    sys.path.insert(0, str(ROOT))

from tools.publish.links import clone_commands, colab_install_line  # noqa: E402
from tools.publish.settings import StudentRepository  # noqa: E402

CHAPTERS = "book/chapters/"
NOTEBOOKS = "notebooks"


def _chapter(pagename: str) -> str | None:
    """``<assignment>/<notebook>.ipynb`` for a chapter page, else None."""
    return pagename[len(CHAPTERS):] + ".ipynb" if pagename.startswith(CHAPTERS) else None


def _walk(buttons):
    for button in buttons:
        yield button
        yield from _walk(button.get("buttons", []))


def point_buttons_at_release(app, pagename, templatename, context, doctree):
    chapter = _chapter(pagename)
    if chapter is None:
        return
    generated = f"{CHAPTERS}{chapter}"
    released = f"{app.config.course_release_dir}/{chapter}"
    for button in _walk(context.get("header_buttons", [])):
        url = button.get("url")
        if not url:
            continue
        if button.get("label") == "download-source-button":
            button["url"] = f"{context['pathto'](NOTEBOOKS, 1)}/{chapter}"
            button["tooltip"] = "Download the exercise notebook"
        elif generated in url:
            button["url"] = url.replace(generated, released)


def copy_released_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    srcdir, outdir = Path(app.srcdir), Path(app.outdir)
    target = outdir / NOTEBOOKS
    wanted = set()
    for docname in sorted(app.env.found_docs):
        chapter = _chapter(docname)
        if chapter is None:
            continue
        released, copy = srcdir / app.config.course_release_dir / chapter, target / chapter
        wanted.add(copy)
        if not copy.is_file() or copy.read_bytes() != released.read_bytes():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(released, copy.with_name(copy.name + ".tmp"))
            copy.with_name(copy.name + ".tmp").replace(copy)  # never a half-written download
    for stale in sorted(target.rglob("*"), reverse=True) if target.is_dir() else []:
        if stale.is_file() and stale not in wanted:
            stale.unlink()
        elif stale.is_dir() and not any(stale.iterdir()):
            stale.rmdir()


def add_repository_substitution(app, config):
    """``{{ repository }}``, ``{{ colab_install }}``, ``{{ clone_commands }}`` in any page, from the
    student repository named once, in _config.yml."""
    url = (config.html_theme_options or {}).get("repository_url", "")
    if url:
        label = url.split("://", 1)[-1].rstrip("/")
        repo = StudentRepository(url=url.rstrip("/"))
        config.myst_substitutions = {
            **(config.myst_substitutions or {}),
            "repository": f"[{label}]({url})",
            "colab_install": f"```\n{colab_install_line(repo)}\n```",
            "clone_commands": "```bash\n" + "\n".join(clone_commands(repo)) + "\n```",
        }


def setup(app):
    app.add_config_value("course_release_dir", "release", "html")
    app.connect("config-inited", add_repository_substitution)
    # After the theme has made its buttons (priority 501).
    app.connect("html-page-context", point_buttons_at_release, priority=900)
    app.connect("build-finished", copy_released_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
