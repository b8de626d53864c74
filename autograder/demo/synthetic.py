"""A synthetic class, as big as wanted, drawn from the demo's students: for throughput runs.

``python -m autograder.demo.synthetic --dest DIR --students 1000 [--assignment ch2_momentum]
[--jobs N | --dask ADDRESS|local:N]`` builds the class, grades it, checks that nothing was lost and
no correct submission was flagged, rebuilds the dashboard and prints the whole class's time.

The mix (weights below) follows a large course: most students correct or nearly so, a fifth partly
done, the chapter's common mistakes, some who did nothing, and a few hostile submissions (every
hostile demo student in turn). Each student is named after their kind (``s0042-partial``) and keeps
the demo spec's expectations, so :func:`problems` can check the result.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

MIX = {"correct": 0.50, "partial": 0.20, "mistake": 0.17, "nothing": 0.08, "hostile": 0.05}
CORRECT_KINDS = {"correct", "noisy_correct", "correct_twice"}
PARTIAL_KINDS = {"partial", "solves_last_only", "solves_all_but_first"}
NOTHING_KINDS = {"nothing", "late_starter"}


def synthetic_specs(assignment: str, students: int, seed: int = 0) -> list[dict]:
    """``students`` demo specs for ``assignment`` in the proportions of :data:`MIX` (deterministic)."""
    from . import mistakes as chapter_mistakes
    from .students import COMMON, HOSTILE, PADDING

    honest = [*COMMON, *PADDING]
    pools = {
        "correct": [s for s in honest if s["student"] in CORRECT_KINDS],
        "partial": [s for s in honest if s["student"] in PARTIAL_KINDS],
        "mistake": chapter_mistakes.mistake_specs(demo_only=False).get(assignment, []),
        "nothing": [s for s in honest if s["student"] in NOTHING_KINDS],
        "hostile": HOSTILE,
    }
    kinds = [k for k in MIX if pools[k]]
    rng = random.Random(seed)
    picked = rng.choices(kinds, weights=[MIX[k] for k in kinds], k=students)
    turns = {k: 0 for k in kinds}
    specs = []
    for number, kind in enumerate(picked, start=1):
        pool = pools[kind]
        spec = dict(pool[turns[kind] % len(pool)])  # every hostile student in turn, not at random
        turns[kind] += 1
        spec["kind"] = spec["student"]
        spec["student"] = f"s{number:04d}-{spec['student'].replace('_', '-')}"
        specs.append(spec)
    return specs


def problems(course, assignment: str, specs: list[dict]) -> list[str]:
    """What went wrong: a submission not graded, or a correct one flagged or not given full marks."""
    from ..gradebook import COLLECTED, GRADED, engine_for, status_rows

    engine = engine_for(course.db_url)
    try:
        rows = {row.student: row for row in status_rows(engine, assignment)}
    finally:
        engine.dispose()
    found = []
    for spec in specs:
        row = rows.get(spec["student"])
        if row is None or row.status == COLLECTED:
            found.append(f"{spec['student']}: not graded")
        elif spec.get("expect") == "full" and spec.get("status") == GRADED and (row.status != GRADED or row.score != row.max_score):
            found.append(f"{spec['student']}: correct but {row.status} with {row.score}/{row.max_score}: {row.reasons}")
    return found


def main(argv: list[str] | None = None) -> int:
    from .. import pipeline
    from ..execute import ExecuteSettings
    from . import DEMO_CELL_TIMEOUT, DEMO_SUBMISSION_TIMEOUT, build_demo

    parser = argparse.ArgumentParser(prog="python -m autograder.demo.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", required=True, help="the class's course folder (made afresh)")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--assignment", default="ch2_momentum")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask", help="a Dask scheduler's address, or local:N")
    parser.add_argument("--db-url", default="")
    args = parser.parse_args(argv)
    specs = synthetic_specs(args.assignment, args.students, args.seed)
    started = time.monotonic()
    demo = build_demo(Path(args.dest), db_url=args.db_url, assignments=[args.assignment], specs={args.assignment: specs})
    built = time.monotonic() - started
    options = pipeline.Options(settings=ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT), jobs=args.jobs, dask=args.dask,
                               submission_timeout=DEMO_SUBMISSION_TIMEOUT)
    report = pipeline.grade(demo.course, [args.assignment], options)
    from ..dashboard import build_dashboard

    found = problems(demo.course, args.assignment, specs)
    kinds: dict[str, int] = {}
    for spec in specs:
        kinds[spec["kind"]] = kinds.get(spec["kind"], 0) + 1
    print(f"synthetic class: {len(specs)} students of {args.assignment} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(f"built in {built:.1f} s; {len(report.graded)} graded in {report.seconds:.1f} s "
          f"({report.seconds / max(1, len(report.graded)):.2f} s per submission) with "
          f"{'Dask ' + args.dask if args.dask else f'{args.jobs} local worker(s)'}")
    print("stages (s): " + ", ".join(f"{k} {v}" for k, v in report.stages.items()))
    print(f"class dashboard: {build_dashboard(demo.course.db_url, demo.course.root)}")
    for problem in found:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
