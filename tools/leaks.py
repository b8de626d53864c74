"""What counts as a leak: the one definition shared by every check of what students see.

A *secret line* is a line inside a solution or hidden-test region of an instructor's notebook
(``### BEGIN SOLUTION`` ... ``### END SOLUTION``, ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN
TESTS``) that is not trivial and does not also appear in the public part of some source notebook.
``release/``, the built book and the student repository are all searched for these lines and for
the region markers themselves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

SOLUTION = "SOLUTION"
HIDDEN_TESTS = "HIDDEN TESTS"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
# Lines too generic to identify a solution (blank, lone brackets, "return", "pass", ...).
TRIVIAL = re.compile(r"^[\s\W]*$|^\s*(return|pass|else:|continue|break|try:|finally:)\s*$")
MARKERS = ("BEGIN SOLUTION", "HIDDEN TESTS")


def split_regions(text: str, kinds: tuple[str, ...] = (SOLUTION, HIDDEN_TESTS)) -> tuple[list[str], str]:
    """The stripped lines inside the regions of ``kinds`` in ``text``, and the text outside them."""
    regions = [m for m in REGION.finditer(text) if m.group(1) in kinds]
    inside = [line.strip() for m in regions for line in m.group(2).splitlines()]
    outside, end = [], 0
    for m in regions:
        outside.append(text[end:m.start()])
        end = m.end()
    outside.append(text[end:])
    return inside, "".join(outside)


def secret_lines(texts: list[str], public_solutions: list[str] | None = None, public: list[str] | None = None) -> set[str]:
    """Lines that only the instructor's regions contain.

    A line inside a solution or hidden-test region of ``texts`` is secret unless it is trivial
    (``return``, a lone bracket) or also appears in the public part of some source notebook
    (narrative, provided code, visible tests), where students see it anyway. ``public_solutions``
    are texts whose solution regions have been published (their hidden tests stay secret);
    ``public`` are other texts students are given (the course packages' code).
    """
    regions, public_parts = [], list(public or [])
    for text in texts:
        inside, outside = split_regions(text)
        regions += inside
        public_parts.append(outside)
    for text in public_solutions or []:
        inside, outside = split_regions(text, (HIDDEN_TESTS,))
        regions += inside
        public_parts.append(outside)
    public_text = "\n".join(public_parts)
    return {line for line in regions if not TRIVIAL.match(line) and line not in public_text}


def notebook_texts(paths) -> list[str]:
    """Each cell's source of the notebooks at ``paths`` (one text per cell)."""
    return [cell.source + "\n" for path in paths for cell in nbformat.read(path, as_version=4).cells]


def course_secret_lines(source: Path, solutions_published: tuple[str, ...] = (), public: list[str] | None = None) -> set[str]:
    """The secret lines of every notebook in ``source/<assignment>/``, less the published solutions
    and any line of the ``public`` texts."""
    notebooks = sorted(Path(source).glob("*/*.ipynb"))
    private = [path for path in notebooks if path.parent.name not in solutions_published]
    published = [path for path in notebooks if path.parent.name in solutions_published]
    return secret_lines(notebook_texts(private), notebook_texts(published), public)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


def searchable(text: str) -> str:
    """``text``, and for a JSON file (a notebook) its strings unescaped: ``x["a"]`` is ``x[\\"a\\"]`` in the file."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return text + "\n" + "\n".join(_strings(json.loads(text)))
        except ValueError:
            pass
    return text


def text_leaks(where: str, text: str, secrets: set[str]) -> list[str]:
    """``"<where>: <line>"`` for each secret line in ``text``, ``"<where>: marker"`` for each region marker."""
    text = searchable(text)
    hits = [f"{where}: {line}" for line in secrets if line in text]
    hits += [f"{where}: marker" for marker in MARKERS if marker in text]
    return hits


def find_leaks(folder: Path, secrets: set[str]) -> list[str]:
    """Every secret line and region marker found in any file under ``folder``."""
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            hits += text_leaks(str(path.relative_to(folder)), path.read_text(errors="replace"), secrets)
    return hits
