"""``python -m tools.book [build|prepare|check] [--all] [--if-stale] [--verbose]``: the book's build steps.

build    prepare the chapter pages, then build _build/html with warnings as errors, then check it (default)
prepare  only write book/chapters/ (executes changed source notebooks)
check    only check an existing _build/html (no tracebacks, no asset fetched from outside the site)
"""

from __future__ import annotations

import argparse
import sys

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed, which compiles a grammar
# for about 1.5 s on every start; no notebook schema uses the formats it checks. (The Sphinx
# subprocess is started the same way: tools/book/build.py.)
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from .build import ROOT, BuildError, build, check_site, html_dir  # noqa: E402
from .render import RenderError, prepare  # noqa: E402


def _summary(report) -> str:
    parts = [f"{len(report.executed)} executed", f"{len(report.cached)} cached", f"{len(report.written)} pages written"]
    if report.removed:
        parts.append(f"{len(report.removed)} stale pages removed")
    if report.unreleased:
        parts.append(f"not released yet, so not in the book: {', '.join(report.unreleased)} (make release)")
    if report.dropped_stderr:
        parts.append(f"stderr dropped from {len(report.dropped_stderr)} cells")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.book", description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", default="build", choices=("build", "prepare", "check"))
    parser.add_argument("--all", action="store_true", help="rebuild every page, not only changed ones")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    parser.add_argument("--if-stale", action="store_true", help="build only if an input changed since the last build")
    args = parser.parse_args(argv)
    try:
        if args.step == "prepare":
            print(f"book: chapters: {_summary(prepare(ROOT))}")
        elif args.step == "check":
            problems = check_site(html_dir())
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1 if problems else 0
        else:
            timing = build(ROOT, rebuild_all=args.all, quiet=not args.verbose, if_stale=args.if_stale)
            if timing is None:
                print("book: up to date")
                return 0
            print(
                f"book: chapters: {_summary(timing.prepare)} ({timing.prepare.seconds:.1f} s); "
                f"site: {timing.sphinx_seconds:.1f} s; total {timing.total_seconds:.1f} s -> {html_dir().relative_to(ROOT)}/index.html"
            )
    except (BuildError, RenderError) as exc:
        print(f"book: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
