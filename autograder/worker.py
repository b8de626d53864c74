"""A grading worker: a long-lived subprocess that executes submissions one at a time.

The pipeline talks to it over pipes, one JSON object a line: it sends
``{"course": {...}, "settings": {...}, "assignment": ..., "student": ...}`` on stdin and reads one
:class:`autograder.execute.Execution` per task from the worker's result stream (the original
stdout; everything nbgrader or a kernel prints goes to stderr). A worker that exceeds a
submission's time limit is killed with its whole process group by the pipeline, which starts
another: a submission can hang its worker, never the batch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .course import Course
from .execute import ExecuteSettings, execute, nbgrader_config


def course_from(data: dict) -> Course:
    return Course(
        root=Path(data["root"]), source=Path(data["source"]), golden=Path(data["golden"]), db_url=data["db_url"],
        course_id=data["course_id"],
    )


def course_to(course: Course) -> dict:
    return {"root": str(course.root), "source": str(course.source), "golden": str(course.golden),
            "db_url": course.db_url, "course_id": course.course_id}


def main() -> int:
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    sys.stdout = sys.stderr
    configs: dict[str, object] = {}
    for line in sys.stdin:
        task = json.loads(line)
        course = course_from(task["course"])
        settings = ExecuteSettings(**task["settings"])
        key = json.dumps([task["course"], task["settings"]], sort_keys=True)
        if key not in configs:
            configs[key] = nbgrader_config(course, settings)
        execution = execute(course, task["assignment"], task["student"], settings, configs[key])
        results.write(json.dumps(execution.to_dict()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
