"""The demo class's common-mistake students, as specs derived from :mod:`autograder.mistakes`.

``loses``: the test cells the mistake must lose (all others keep their points); ``hint``: the
targeted hint its feedback must show. An edit whose text no longer appears in the chapter's
solution makes the demo fail to build: update the catalogue with the chapter.
"""

from __future__ import annotations

from ..mistakes import Mistake, catalogues


def as_spec(mistake: Mistake) -> dict:
    """A mistake as a demo student's spec (see :mod:`autograder.demo.build`)."""
    return {
        "student": mistake.name,
        "mistake": mistake.what,
        "edits": [{"cell": e.cell, "replace": [e.old, e.new]} for e in mistake.edits],
        "loses": sorted(mistake.loses),
        "hint": mistake.hint,
    }


def mistake_specs(demo_only: bool = True) -> dict[str, list[dict]]:
    """Each chapter's mistake students: those marked for the demo class, or (synthetic classes) all."""
    return {c.assignment: [as_spec(m) for m in c.mistakes if m.demo or not demo_only] for c in catalogues()}


MISTAKES = mistake_specs()
