"""``course-grade``: the instructor's grading command, a thin layer over the pipeline's stages.

    course-grade --course DIR --source SRC [--golden G] [--db-url URL] init
    course-grade --course DIR collect exchange ASSIGNMENT [--exchange ROOT]
    course-grade --course DIR collect zip ASSIGNMENT FILE.zip (--mapping MAP.csv | --pattern REGEX)
    course-grade --course DIR collect folder ASSIGNMENT STUDENT FOLDER
    course-grade --course DIR collect homes ASSIGNMENT PATTERN [--student S ...]
    course-grade --course DIR grade [ASSIGNMENT...] [--jobs N | --dask ADDRESS|local:N] [--unsafe-no-sandbox] [--regrade]
    course-grade --course DIR status [ASSIGNMENT...]
    course-grade --course DIR feedback [ASSIGNMENT...]
    course-grade --course DIR release-feedback [ASSIGNMENT...] [--exchange-root ROOT]
    course-grade --course DIR export [--nbgrader-csv F] [--canvas-csv F] [--roster R] [--canvas-id A=ID]
    course-grade demo [--dest .state/demo-course] [--jobs N] [--unsafe-no-sandbox]

The course's settings (source folder, golden folder, gradebook URL, due dates) are given once
(``init`` or the first command) and kept in ``<course>/.autograder/course.json``.
Exit status: 0 done, 1 an instructor-side error (message on stderr), 2 the sandbox is unavailable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from .course import Course, CourseError, default_golden
from .course_settings import load_settings, save_settings
from .execute import ExecuteSettings, SandboxRefused
from .judge import PlanError


def _parse_due(text: str) -> tuple[str, datetime]:
    name, _, when = text.partition("=")
    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return name, moment


def load_course(args) -> Course:
    root = Path(args.course).resolve()
    saved = load_settings(root)
    source = args.source or saved.get("source")
    if not source:
        raise CourseError(f"{root}: no source folder known: pass --source")
    duedates = {k: datetime.fromisoformat(v) for k, v in saved.get("duedates", {}).items()}
    duedates.update(dict(_parse_due(d) for d in args.duedate or []))
    course = Course(
        root=root, source=Path(source), golden=Path(args.golden or saved.get("golden") or default_golden()),
        db_url=args.db_url or saved.get("db_url", ""), course_id=args.course_id or saved.get("course_id", "course"),
        exchange=Path(args.exchange_root or saved["exchange"]) if (args.exchange_root or saved.get("exchange")) else None,
        duedates=duedates,
    )
    save_settings(course)
    return course


def _settings(args) -> ExecuteSettings:
    return ExecuteSettings(unsafe_no_sandbox=args.unsafe_no_sandbox, cell_timeout=args.cell_timeout)


def _assignments(course: Course, names: list[str]) -> list[str]:
    return names or course.assignments()


def cmd_init(args) -> int:
    from .pipeline import prepare

    course = load_course(args)
    prepare(course, _assignments(course, args.assignments))
    print(f"course folder ready: {course.root}")
    return 0


def cmd_collect(args) -> int:
    from . import collect

    course = load_course(args)
    from .pipeline import prepare

    prepare(course, [args.assignment])
    if args.origin == "exchange":
        result = collect.collect_exchange(course, args.assignment)
    elif args.origin == "zip":
        result = collect.collect_zip(course, args.assignment, Path(args.file), Path(args.mapping) if args.mapping else None,
                                     args.pattern or collect.CANVAS_NAME)
    elif args.origin == "homes":
        result = collect.collect_homes(course, args.assignment, args.pattern, args.student)
    else:
        result = collect.Collected()
        result.receipts.append(collect.accept_folder(course, args.assignment, args.student, Path(args.folder),
                                                     note=result.skipped.append))
    for receipt in result.receipts:
        state = "new" if receipt.new else "unchanged"
        print(f"{receipt.student}\t{receipt.assignment}\treceived {receipt.received_at.isoformat(sep=' ')} UTC\t{state}")
    for skipped in result.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    for collision in result.collisions:
        print(f"collision: {collision}", file=sys.stderr)
    return 0


def cmd_grade(args) -> int:
    from . import pipeline, summary
    from .dashboard import build_dashboard

    course = load_course(args)
    assignments = _assignments(course, args.assignments)
    options = pipeline.Options(settings=_settings(args), jobs=args.jobs, submission_timeout=args.submission_timeout,
                               regrade=args.regrade, students=args.student or None, progress=not args.no_progress,
                               dask=args.dask)
    report = pipeline.grade(course, assignments, options)
    graded = report.graded
    per = sum(r.seconds for r in graded) / len(graded) if graded else 0.0
    print(summary.format_table(course, assignments))
    print(f"\n{len(graded)} graded, {len(report.rows) - len(graded)} unchanged (skipped) in {report.seconds:.1f} s"
          + (f"; {per:.2f} s of execution per submission" if graded else ""))
    if graded:
        print("time per stage (s): " + ", ".join(f"{stage} {seconds:g}" for stage, seconds in report.stages.items()))
    print(f"class dashboard: {build_dashboard(course.db_url, course.root)}")
    return 0


def cmd_status(args) -> int:
    from . import summary

    from .gradebook import engine_for, status_rows

    course = load_course(args)
    engine = engine_for(course.db_url)
    present = {row.assignment for row in status_rows(engine)}
    engine.dispose()
    print(summary.format_table(course, args.assignments or [a for a in _assignments(course, []) if a in present]))
    return 0


def cmd_feedback(args) -> int:
    from . import feedback
    from .gradebook import engine_for, status_rows

    course = load_course(args)
    engine = engine_for(course.db_url)
    count = 0
    for assignment in _assignments(course, args.assignments):
        for row in status_rows(engine, assignment):
            count += len(feedback.write(course, assignment, row.student, engine))
    print(f"{count} feedback file(s) written under {course.root / 'feedback'}")
    return 0


def cmd_release_feedback(args) -> int:
    from .release_feedback import release_feedback

    course = load_course(args)
    for assignment in _assignments(course, args.assignments):
        result = release_feedback(course, assignment)
        print(f"{assignment}: {len(result.pages)} feedback page(s) released to the exchange")
        for skipped in result.skipped:
            print(f"skipped: {skipped}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from . import export

    course = load_course(args)
    if args.nbgrader_csv:
        print(f"nbgrader CSV: {export.nbgrader_csv(course, Path(args.nbgrader_csv))}")
    if args.canvas_csv:
        ids = dict(item.split("=", 1) for item in args.canvas_id or [])
        path = export.canvas_csv(course, Path(args.canvas_csv), args.assignments or None,
                                 Path(args.roster) if args.roster else None, ids)
        print(f"Canvas CSV: {path}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    from .demo import DEMO_CELL_TIMEOUT, DEMO_SUBMISSION_TIMEOUT

    settings = ExecuteSettings(args.unsafe_no_sandbox, args.cell_timeout or DEMO_CELL_TIMEOUT)
    return run_demo(Path(args.dest), settings, jobs=args.jobs, progress=not args.no_progress,
                    submission_timeout=args.submission_timeout or DEMO_SUBMISSION_TIMEOUT)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="course-grade", description=__doc__.split("\n\n")[0])
    main.add_argument("--course", default=".", help="the class's course folder (default: here)")
    main.add_argument("--source", help="the instructor's source/ folder (nbgrader masters)")
    main.add_argument("--golden", help="the instructor's golden folder (default: autograder/golden)")
    main.add_argument("--db-url", help="gradebook: any SQLAlchemy URL nbgrader accepts (default: SQLite in the course folder)")
    main.add_argument("--course-id", help="nbgrader course id")
    main.add_argument("--exchange-root", help="nbgrader exchange folder")
    main.add_argument("--duedate", action="append", metavar="ASSIGNMENT=ISO-TIME", help="due date (UTC unless stated)")
    commands = main.add_subparsers(dest="command", required=True)

    def execution(sub, demo=False):
        sub.add_argument("--jobs", type=int, default=2 if demo else 1, help="worker processes (disjoint students)")
        sub.add_argument("--unsafe-no-sandbox", action="store_true",
                         help="RISK: run student code unconfined, as you, if the sandbox is unavailable")
        sub.add_argument("--cell-timeout", type=int, default=None if demo else 30, help="seconds per cell")
        sub.add_argument("--submission-timeout", type=float, default=None if demo else 600.0, help="seconds per submission")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")

    sub = commands.add_parser("init", help="set up the course folder and gradebook")
    sub.add_argument("assignments", nargs="*")
    sub.set_defaults(run=cmd_init)

    sub = commands.add_parser("collect", help="collect submissions, recording receipt times")
    origins = sub.add_subparsers(dest="origin", required=True)
    ex = origins.add_parser("exchange", help="nbgrader collect from the exchange")
    ex.add_argument("assignment")
    zp = origins.add_parser("zip", help="an LMS zip download")
    zp.add_argument("assignment")
    zp.add_argument("file")
    zp.add_argument("--mapping", help="CSV: student_id and lms_id (or name)")
    zp.add_argument("--pattern", help="regex on file names, with groups filename and student or lms_id")
    fo = origins.add_parser("folder", help="one student's folder")
    fo.add_argument("assignment")
    fo.add_argument("student")
    fo.add_argument("folder")
    ho = origins.add_parser("homes", help="each student's notebooks from their home folder (a hub's deadline snapshot)")
    ho.add_argument("assignment")
    ho.add_argument("pattern", help="folder with {student} (and optionally {assignment}), e.g. /srv/homes/{student}/course/release/{assignment}")
    ho.add_argument("--student", action="append", help="only these students (default: every folder that matches)")
    sub.set_defaults(run=cmd_collect)

    sub = commands.add_parser("grade", help="grade collected submissions (skips those already graded)")
    sub.add_argument("assignments", nargs="*")
    sub.add_argument("--student", action="append", help="only this student (repeatable)")
    sub.add_argument("--regrade", action="store_true", help="grade again even if the inputs are unchanged")
    sub.add_argument("--dask", metavar="SCHEDULER_ADDRESS",
                     help="execute on Dask workers (e.g. tcp://grader1:8786), or local:N for N local worker processes")
    execution(sub)
    sub.set_defaults(run=cmd_grade)

    for name, run, text in (("status", cmd_status, "print the summary table"),
                            ("feedback", cmd_feedback, "rewrite the HTML feedback from the recorded verdicts")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("assignments", nargs="*")
        sub.set_defaults(run=run)

    sub = commands.add_parser("release-feedback", help="write the feedback and release it to the nbgrader exchange")
    sub.add_argument("assignments", nargs="*")
    sub.set_defaults(run=cmd_release_feedback)

    sub = commands.add_parser("export", help="nbgrader CSV and Canvas CSV")
    sub.add_argument("assignments", nargs="*")
    sub.add_argument("--nbgrader-csv")
    sub.add_argument("--canvas-csv")
    sub.add_argument("--roster", help="CSV: student_id, name, lms_id, sis_user_id, sis_login_id, section")
    sub.add_argument("--canvas-id", action="append", metavar="ASSIGNMENT=ID")
    sub.set_defaults(run=cmd_export)

    sub = commands.add_parser("demo", help="build and grade the bundled demo class")
    sub.add_argument("--dest", default=".state/demo-course")
    execution(sub, demo=True)
    sub.set_defaults(run=cmd_demo)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except SandboxRefused as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    except (CourseError, PlanError, ValueError, OSError) as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
