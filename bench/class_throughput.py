"""A class's grading throughput: stock nbgrader against course-grade, on the same class, in one run.

The class: ``BENCH_CLASS_STUDENTS`` (default 40) submissions of ``BENCH_CLASS_ASSIGNMENT`` (default
ch2_momentum) drawn from the demo class (:mod:`autograder.demo.synthetic`, seed 0), collected three
times into three course folders under a scratch folder:

- stock: ``nbgrader autograde`` as a new user would run it (serial, no sandbox, its own checks);
- jobs: ``course-grade grade --jobs 2`` (sandbox and judge on);
- dask: ``course-grade grade --dask local:2`` (the same, on a LocalCluster of 2 worker processes).

Reported: each run's wall time, the ratios to stock, course-grade's time per stage
(:attr:`autograder.pipeline.Report.stages`) and the load average: the machine may be shared, so
compare ratios from one run, never times across runs. The course-grade runs must grade every
submission with no correct one flagged, and agree with each other, or the benchmark fails.
Stock nbgrader runs student code unsandboxed as the current user: the class is checked to hold no
hostile student who attacks the machine (only the in-kernel tricks seed 0 draws).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAFE_UNSANDBOXED = {"eq_always_true", "patches_grader", "input_transformer", "fake_records", "duplicates_cells",
                    "renames_cell", "unknown_schema", "deletes_tests", "edits_tests_and_points", "fake_timestamp",
                    "invalid_json", "missing_notebook"}


def _class(dest: Path, assignment: str, specs: list[dict]):
    from autograder.demo import build_demo

    return build_demo(dest, assignments=[assignment], specs={assignment: specs}).course


def _stock(course, assignment: str) -> float:
    from autograder.tool_path import tool_env

    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force", "--log-level=ERROR"],
                          cwd=course.root, env=tool_env(), capture_output=True, text=True, timeout=7200)
    seconds = time.monotonic() - began
    graded = sorted(p.parent.name for p in (course.root / "autograded").glob(f"*/{assignment}"))
    if not graded:
        raise RuntimeError(f"stock nbgrader graded nothing:\n{done.stderr[-2000:]}")
    return seconds


def run() -> dict:
    from autograder import pipeline
    from autograder.demo import DEMO_CELL_TIMEOUT, DEMO_SUBMISSION_TIMEOUT
    from autograder.demo.synthetic import problems, synthetic_specs
    from autograder.execute import ExecuteSettings
    from autograder.gradebook import dump

    students = int(os.environ.get("BENCH_CLASS_STUDENTS", "40"))
    assignment = os.environ.get("BENCH_CLASS_ASSIGNMENT", "ch2_momentum")
    specs = synthetic_specs(assignment, students, seed=0)
    from autograder.demo.students import HOSTILE

    hostile = {s["student"] for s in HOSTILE}
    unsafe = sorted({s["kind"] for s in specs if s["kind"] in hostile} - SAFE_UNSANDBOXED)
    if unsafe:
        raise RuntimeError(f"the class would run {unsafe} unsandboxed under stock nbgrader: choose another size or seed")
    scratch = Path(tempfile.mkdtemp(prefix="bench-class-"))
    loads = [os.getloadavg()[0]]
    try:
        stock_course = _class(scratch / "stock", assignment, specs)
        stock = _stock(stock_course, assignment)
        loads.append(os.getloadavg()[0])
        runs, pictures = {}, []
        for name, extra in (("jobs_2", {"jobs": 2}), ("dask_local_2", {"dask": "local:2"})):
            course = _class(scratch / name, assignment, specs)
            options = pipeline.Options(settings=ExecuteSettings(cell_timeout=DEMO_CELL_TIMEOUT), progress=False,
                                       submission_timeout=DEMO_SUBMISSION_TIMEOUT, **extra)
            report = pipeline.grade(course, [assignment], options)
            loads.append(os.getloadavg()[0])
            found = problems(course, assignment, specs)
            if found or len(report.graded) != students:
                raise RuntimeError(f"{name}: {len(report.graded)}/{students} graded; problems: {found[:5]}")
            runs[name] = {"seconds": report.seconds, "stages": report.stages}
            picture = dump(course)
            for entry in [*picture["grades"].values(), *picture["statuses"].values()]:
                for key in ("timestamp", "received_at", "inputs_hash"):
                    entry.pop(key, None)
            pictures.append(picture)
        if pictures[0] != pictures[1]:
            raise RuntimeError("--jobs 2 and --dask local:2 wrote different gradebooks")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "assignment": assignment,
        "students": students,
        "cores": os.cpu_count(),
        "stock_nbgrader_seconds": round(stock, 2),
        "runs": runs,
        "speedup_vs_stock": {name: round(stock / run["seconds"], 2) for name, run in runs.items()},
        "target_speedup": 4.0,
        "load_average_1min": [round(x, 2) for x in loads],  # before, and after each run
    }


def format_table(result: dict) -> str:
    lines = [f"class throughput: {result['students']} submissions of {result['assignment']} on {result['cores']} cores "
             f"(load average {', '.join(map(str, result['load_average_1min']))})",
             f"{'run':<16}{'seconds':>10}{'x stock':>10}",
             f"{'stock nbgrader':<16}{result['stock_nbgrader_seconds']:>10.1f}{1.0:>10.2f}"]
    for name, run in result["runs"].items():
        lines.append(f"{name:<16}{run['seconds']:>10.1f}{result['speedup_vs_stock'][name]:>10.2f}")
    for name, run in result["runs"].items():
        lines.append(f"  {name} stages (s): " + ", ".join(f"{k} {v}" for k, v in run["stages"].items()))
    return "\n".join(lines)
