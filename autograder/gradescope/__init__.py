"""Gradescope entry point: grade the one submission in ``/autograder/submission``.

Gradescope runs ``run_autograder`` for each submission, with the autograder zip unpacked in
``/autograder/source`` and the student's files in ``/autograder/submission``; it reads
``/autograder/results/results.json``. Every path is overridable by environment, so a test can run
it in a temporary folder:

- ``AUTOGRADER_ROOT`` (``/autograder``): ``submission/``, ``results/``, ``submission_metadata.json``;
- ``AUTOGRADER_SOURCE`` (``$AUTOGRADER_ROOT/source``): the course repository (this package);
- ``AUTOGRADER_PYTHON`` (``$AUTOGRADER_SOURCE/.venv/bin/python``): the grader's interpreter (``run_autograder``);
- ``AUTOGRADER_COURSE_SOURCE`` (``$AUTOGRADER_SOURCE/source``), ``AUTOGRADER_GOLDEN``
  (``$AUTOGRADER_SOURCE/autograder/golden``): the nbgrader masters and golden files;
- ``AUTOGRADER_ASSIGNMENT``: which assignment (default: the one whose notebook was submitted);
- ``AUTOGRADER_UNSAFE_NO_SANDBOX=1``: the instructor's explicit risk, as ``--unsafe-no-sandbox``.

The receipt time is Gradescope's ``created_at`` from ``submission_metadata.json`` (written by
Gradescope, not by the student), or the grader's clock.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..clock import utcnow
from ..course import Course
from ..execute import ExecuteSettings, SandboxRefused

STUDENT = "gradescope"

# The environment variables that override Gradescope's paths and choices (see the module docstring);
# run_autograder and setup.sh read ROOT_ENV, SOURCE_ENV and PYTHON_ENV themselves.
ROOT_ENV = "AUTOGRADER_ROOT"
SOURCE_ENV = "AUTOGRADER_SOURCE"
PYTHON_ENV = "AUTOGRADER_PYTHON"
COURSE_SOURCE_ENV = "AUTOGRADER_COURSE_SOURCE"
GOLDEN_ENV = "AUTOGRADER_GOLDEN"
ASSIGNMENT_ENV = "AUTOGRADER_ASSIGNMENT"
UNSAFE_ENV = "AUTOGRADER_UNSAFE_NO_SANDBOX"


def _received_at(root: Path) -> datetime:
    try:
        meta = json.loads((root / "submission_metadata.json").read_text())
        moment = datetime.fromisoformat(str(meta["created_at"]).replace("Z", "+00:00"))
        return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) if moment.tzinfo else moment
    except (OSError, ValueError, KeyError, TypeError):
        return utcnow()


def _assignment(course: Course, submission: Path) -> str:
    wanted = os.environ.get(ASSIGNMENT_ENV)
    if wanted:
        return wanted
    submitted = {p.stem for p in submission.rglob("*.ipynb")}
    candidates = [a for a in course.assignments() if set(course.notebook_names(a)) & submitted]
    if len(candidates) != 1:
        raise SystemExit(f"cannot tell the assignment from the submitted notebooks {sorted(submitted)}: set {ASSIGNMENT_ENV}")
    return candidates[0]


def results(course: Course, assignment: str, skipped: list[str] = ()) -> dict:
    """Gradescope's results.json from the recorded judgement: one test per graded cell; ``skipped``:
    the uploaded files that were left out, and why (the student sees it)."""
    from ..judge import Judgement
    from ..reasons import public_phrases, reasons_from_json
    from ..gradebook import engine_for, status_row

    engine = engine_for(course.db_url)
    row = status_row(engine, assignment, STUDENT)
    engine.dispose()
    judgement = Judgement.from_json(row.judgement)
    tests = []
    for cell in judgement.cells:
        lines = []
        for check in cell.checks:
            lines.append(f"{'passed' if check.passed else 'FAILED'}: {check.name}")
            if not check.passed and check.message:
                lines.append(f"    {check.message}")
            if not check.passed and check.hint:
                lines.append(f"    Hint: {check.hint}")
        if cell.note:
            lines.append(cell.note)
        tests.append({"name": f"{cell.notebook}: {cell.grade_id}", "score": cell.earned, "max_score": cell.points,
                      "output": "\n".join(lines), "visibility": "visible"})
    reasons = public_phrases(reasons_from_json(row.reasons))
    output = f"Received {row.received_at.isoformat(sep=' ')} UTC."
    if reasons:
        output += " Your instructor will review this submission: " + "; ".join(reasons) + "."
    if skipped:
        output += " Not graded: " + "; ".join(skipped) + "."
    return {"score": judgement.score, "output": output, "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden"}


def main() -> int:
    from .. import pipeline
    from ..collect import accept_folder

    root = Path(os.environ.get(ROOT_ENV, "/autograder"))
    source = Path(os.environ.get(SOURCE_ENV, root / "source"))
    course = Course(
        root=root / "work" / "course",
        source=Path(os.environ.get(COURSE_SOURCE_ENV, source / "source")),
        golden=Path(os.environ.get(GOLDEN_ENV, source / "autograder" / "golden")),
        course_id="gradescope",
    )
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    submission = root / "submission"
    assignment = _assignment(course, submission)
    settings = ExecuteSettings(unsafe_no_sandbox=os.environ.get(UNSAFE_ENV) == "1")
    skipped: list[str] = []
    try:
        pipeline.prepare(course, [assignment])
        accept_folder(course, assignment, STUDENT, submission, "gradescope", received_at=_received_at(root),
                      note=skipped.append)
        pipeline.grade(course, [assignment], pipeline.Options(settings=settings, progress=False))
    except SandboxRefused as error:
        out.write_text(json.dumps({"score": 0, "output": f"Grading is unavailable: {error}", "tests": []}))
        print(error, file=sys.stderr)
        return 2
    for text in skipped:
        print(f"skipped: {text}", file=sys.stderr)
    out.write_text(json.dumps(results(course, assignment, skipped), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
