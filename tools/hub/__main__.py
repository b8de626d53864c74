"""``python -m tools.hub`` (``make hub``): the course hub on 127.0.0.1 with demo accounts; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
from pathlib import Path

from autograder.course import CourseError

from .course import prepare_homes, pull_link, release, serve_repository
from .run import HubError, ensure_proxy, prepare, start
from .settings import ROOT, HubSettings

DEMO = "course-demo"


def demo_settings(state: Path, port: int, password: str, course_id: str) -> HubSettings:
    return HubSettings(
        course_id=course_id, instructors=(f"{DEMO}-instructor",), students=(f"{DEMO}-student1", f"{DEMO}-student2"),
        grader=f"{DEMO}-grader", state_dir=state / "hub", homes_dir=state / "homes", exchange_root=state / "exchange",
        course_dir=state / "course", assignment_dir="student-repo/release", proxy_command=ensure_proxy(state / "npm"),
        port=port, hub_port=port + 81, proxy_api_port=port + 1, service_port=port + 2, demo_password=password,
    )


def _interrupt(*_):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make hub", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--state", default=str(ROOT / ".state" / "course-hub"))
    parser.add_argument("--course-id", default="optimizers")
    parser.add_argument("--student-repo", default=str(ROOT / "_build" / "student-repo"),
                        help="the published student repository (make publish)")
    args = parser.parse_args(argv)
    password = secrets.token_urlsafe(9)
    try:
        settings = demo_settings(Path(args.state).resolve(), args.port, password, args.course_id)
        prepare(settings)
        assignments = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
        release(settings, assignments)
        repository = serve_repository(Path(args.student_repo), Path(args.state).resolve() / "repos" / "student-repo")
        prepare_homes(settings, repository)
        hub = start(settings)
    except (HubError, CourseError, OSError) as error:
        print(f"make hub: {error}", file=sys.stderr)
        return 1
    print(f"\nThe course hub is running at {settings.url}/ (127.0.0.1 only). Ctrl-C stops it.\n")
    print(f"Logins (password for all: {password}):")
    for user in settings.students:
        print(f"  student     {user}")
    for user in settings.instructors:
        print(f"  instructor  {user}   (formgrader: {settings.url}/services/{settings.course_id}/)")
    print(f"\nChapter 1 for students (nbgitpuller): {pull_link(settings, repository, 'release/ch1_gradient_descent/gradient_descent.ipynb')}")
    print(f"Grade:  .venv/bin/course-grade --course {settings.course_dir} collect exchange ch1_gradient_descent")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        hub.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping the hub ...")
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
