"""``python -m autograder.dashboard --course DIR``: (re)build a class's dashboard from its gradebook.

    python -m autograder.dashboard --course .state/demo-course
    python -m autograder.dashboard --course grading/fall --db-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import DashboardError, build_dashboard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", default=".", help="the class's course folder (default: here)")
    parser.add_argument("--db-url", help="gradebook URL (default: the course's, from its nbgrader_config.py)")
    parser.add_argument("--out", help="the page to write (default: <course>/dashboard/index.html)")
    parser.add_argument("--course-id", help="only this nbgrader course's assignments")
    args = parser.parse_args(argv)
    try:
        path = build_dashboard(args.db_url, Path(args.course), args.out, course_id=args.course_id)
    except (DashboardError, OSError) as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 1
    print(f"dashboard: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
