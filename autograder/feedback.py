"""Feedback: one self-contained HTML page per student and notebook, from the judge's verdict only.

Written from the judge's outcome (as it is recorded in the database), never from the autograded notebook: so it
shows no test-cell source (hidden or visible) and nothing a graded cell printed (the kernel ran the
hidden tests, and their output could echo them). Each test cell: its name, points earned out of
possible, each check's result, the mismatch message and the targeted hint. Inline CSS, no script,
no external URL: it reads offline. Files go where nbgrader's ``release_feedback`` looks for them:
``feedback/<student>/<assignment>/<notebook>.html``.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from .course import Course
from .gradebook import GRADED, Outcome, engine_for, status_row
from .judge import Judgement
from .reasons import Reason, public_phrases, reasons_from_json

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } .meta { color: #555; margin-top: 0; }
.total { font-size: 1.2rem; font-weight: 600; }
.cell { border: 1px solid #ccc; border-radius: 6px; margin: 1rem 0; padding: .6rem 1rem; }
.cell.full { border-left: 6px solid #2e7d32; } .cell.none { border-left: 6px solid #c62828; }
.cell h2 { font-size: 1.05rem; margin: .2rem 0 .5rem; display: flex; justify-content: space-between; }
ul { margin: .2rem 0; padding-left: 1.2rem; } li { margin: .3rem 0; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.message { font-family: ui-monospace, monospace; font-size: .9rem; white-space: pre-wrap; }
.hint { background: #fff8e1; border-radius: 4px; padding: .3rem .5rem; margin-top: .3rem; }
.review { background: #e3f2fd; border-radius: 6px; padding: .5rem 1rem; }
"""


def render(assignment: str, notebook: str, student: str, judgement: Judgement, status: str, reasons: list[Reason],
           received_at: str) -> str:
    cells = [c for c in judgement.cells if c.notebook == notebook]
    earned, possible = sum(c.earned for c in cells), sum(c.points for c in cells)
    e = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {e(assignment)} / {e(notebook)}</title>", f"<style>{STYLE}</style></head><body>",
        f"<h1>{e(assignment)}: {e(notebook)}</h1>",
        f'<p class="meta">Student {e(student)} &middot; received {e(received_at)} UTC</p>',
        f'<p class="total">Score: {earned:g} / {possible:g}</p>',
    ]
    if status != GRADED and reasons:
        shown = public_phrases(reasons)  # the kinds only: details stay with the instructor
        parts.append('<div class="review"><p>Your instructor will look at this submission: '
                     + e("; ".join(shown)) + ".</p></div>")
    for cell in cells:
        kind = "full" if cell.earned >= cell.points and cell.points > 0 else "none" if cell.earned == 0 else ""
        parts.append(f'<div class="cell {kind}"><h2><span>{e(cell.grade_id)}</span>'
                     f"<span>{cell.earned:g} / {cell.points:g} points</span></h2>")
        if cell.note:
            parts.append(f"<p>{e(cell.note)}</p>")
        parts.append("<ul>")
        for check in cell.checks:
            verdict = '<span class="pass">passed</span>' if check.passed else '<span class="fail">failed</span>'
            parts.append(f"<li>{verdict} <code>{e(check.name)}</code>")
            if not check.passed and check.message:
                parts.append(f'<div class="message">{e(check.message)}</div>')
            if not check.passed and check.hint:
                parts.append(f'<div class="hint">Hint: {e(check.hint)}</div>')
            parts.append("</li>")
        parts.append("</ul></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_outcome(course: Course, outcome: Outcome, received_at: datetime) -> list[Path]:
    """Write a student's feedback for one assignment from the outcome just recorded."""
    return _write(course, outcome.assignment, outcome.student, outcome.judgement, outcome.status, outcome.reasons,
                  received_at)


def write(course: Course, assignment: str, student: str, engine=None) -> list[Path]:
    """(Re)write a student's feedback for one assignment from the recorded judgement."""
    own = engine is None
    engine = engine or engine_for(course.db_url)
    try:
        row = status_row(engine, assignment, student)
    finally:
        if own:
            engine.dispose()
    if row is None or not row.judgement:
        return []
    return _write(course, assignment, student, Judgement.from_json(row.judgement), row.status,
                  reasons_from_json(row.reasons), row.received_at)


def _write(course: Course, assignment: str, student: str, judgement: Judgement, status: str, reasons: list[Reason],
           received_at: datetime) -> list[Path]:
    folder = course.feedback(student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in course.notebook_names(assignment):
        path = folder / f"{notebook}.html"
        path.write_text(render(assignment, notebook, student, judgement, status, reasons, received_at.isoformat(sep=" ")))
        written.append(path)
    return written
