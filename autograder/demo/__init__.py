"""The bundled demo class: built from specs against the chapters' released notebooks, then graded.

``make grade-demo`` (part of ``make course``) runs :func:`run_demo`: it builds the course folder
``.state/demo-course/`` (gradebook, release), collects every demo submission (receipt times recorded
once: a rerun with unchanged submissions grades nothing again), grades them with a progress bar and
prints the summary table. Specs: :mod:`autograder.demo.students` (honest and hostile students, for
every chapter) and :mod:`autograder.demo.mistakes` (each chapter's common mistakes).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..course import Course
from ..course_settings import save_settings
from ..execute import ExecuteSettings

REPO = Path(__file__).resolve().parents[2]
DEMO_CELL_TIMEOUT = 10
DEMO_SUBMISSION_TIMEOUT = 60.0


@dataclass
class Demo:
    course: Course
    assignments: list[str]
    specs: dict[str, list[dict]]  # assignment -> its students' specs


def build_demo(dest: Path, source: Path | None = None, golden: Path | None = None, mistakes: dict | None = None,
          db_url: str = "", assignments: list[str] | None = None, specs: dict[str, list[dict]] | None = None) -> Demo:
    """Course folder at ``dest`` with every demo submission collected (``specs``: instead of the demo's students)."""
    from .. import collect, pipeline
    from . import mistakes as chapter_mistakes
    from .build import build_submission
    from .students import specs_for

    source = source or REPO / "source"
    golden = golden or REPO / "autograder" / "golden"
    course = Course(root=dest, source=source, golden=golden, db_url=db_url, course_id="demo")
    names = assignments or course.assignments()
    specs = specs or specs_for(names, chapter_mistakes.MISTAKES if mistakes is None else mistakes)
    # (Submissions are rebuilt from the current release at every run: after a chapter edit their
    # contents change, so they get a new receipt and are graded again; unchanged ones are skipped.)
    fingerprint = hashlib.sha256(json.dumps([names, specs, db_url], sort_keys=True).encode()).hexdigest()
    stamp = course.state / "demo-specs.sha256"
    if course.root.exists() and not (stamp.is_file() and stamp.read_text() == fingerprint):
        shutil.rmtree(course.root)  # another set of students: start the class afresh
    pipeline.prepare(course, names)
    stamp.write_text(fingerprint)
    save_settings(course)
    from ..gradebook import engine_for

    engine = engine_for(course.db_url)
    try:
        for assignment in names:
            for spec in specs[assignment]:
                files = build_submission(course.release(assignment), course.source / assignment, spec)
                collect.accept(course, assignment, spec["student"], files, "folder", engine=engine)
    finally:
        engine.dispose()
    return Demo(course, names, specs)


def run_demo(dest: Path, settings: ExecuteSettings | None = None, jobs: int = 2, progress: bool = True,
             submission_timeout: float = DEMO_SUBMISSION_TIMEOUT) -> int:
    from .. import pipeline, summary
    from ..dashboard import build_dashboard

    settings = settings or ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT)
    started = time.monotonic()
    demo = build_demo(Path(dest))
    if not demo.assignments:
        print("demo: no chapter has both a source notebook and a golden file yet; nothing to grade")
        return 0
    built = time.monotonic() - started
    options = pipeline.Options(settings=settings, jobs=jobs, submission_timeout=submission_timeout, progress=progress)
    report = pipeline.grade(demo.course, demo.assignments, options)
    print(summary.format_table(demo.course, demo.assignments))
    graded = report.graded
    print(f"\ndemo class: {sum(len(s) for s in demo.specs.values())} submissions in {len(demo.assignments)} assignment(s); "
          f"built in {built:.1f} s; {len(graded)} graded in {report.seconds:.1f} s with {jobs} worker(s)"
          + (f" ({sum(r.seconds for r in graded) / len(graded):.1f} s of execution per submission)" if graded else "")
          + f"; feedback in {demo.course.root / 'feedback'}", file=sys.stdout)
    print(f"class dashboard: {build_dashboard(demo.course.db_url, demo.course.root)}")
    return 0
