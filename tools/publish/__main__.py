"""``python -m tools.publish [--dest DIR] [--solutions CHAPTER ...]``: publish the student repository.

Generates the student repository (default ``_build/student-repo``) from release/, the course
packages and _config.yml, and commits it on top of its own history. Push that repository to the
URL named by ``repository.url`` in _config.yml.
"""

from __future__ import annotations

import argparse
import sys

from .repository import DEFAULT_DEST, ROOT, PublishError, publish
from .settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.publish", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=str(DEFAULT_DEST), help="the student repository's folder (default: %(default)s)")
    parser.add_argument("--solutions", nargs="*", default=[], metavar="CHAPTER",
                        help="also publish these chapters' reference solutions (solution code only)")
    args = parser.parse_args(argv)
    solutions = [name for value in args.solutions for name in value.replace(",", " ").split()]
    try:
        result = publish(args.dest, ROOT, solutions)
    except (PublishError, SettingsError, ValueError) as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    where = result.dest.relative_to(ROOT) if result.dest.is_relative_to(ROOT) else result.dest
    if not result.changed:
        print(f"publish: {where} is up to date (commit {result.commit[:12]}); nothing to commit")
    else:
        kind = "new repository" if result.created else f"on top of {result.previous[:12]}"
        count = f"{len(result.changed)} file{'s' if len(result.changed) != 1 else ''}"
        print(f"publish: {count} changed -> {where}, commit {result.commit[:12]} ({kind})")
    if result.created:
        print(f"publish: {where} starts a new history. If the student repository already exists, clone it "
              f"into {where} instead and publish again: its history must go on, never restart.")
    if result.solutions:
        print(f"publish: solutions published for {', '.join(result.solutions)}")
    print(f"publish: push it to the student repository: git -C {where} push <remote> HEAD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
