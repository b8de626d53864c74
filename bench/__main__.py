"""python -m bench [NAME ...]: run the registered benchmarks (all by default),
print a short table for each, and merge their figures into bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys

# name -> module exposing run() -> dict and format_table(dict) -> str
BENCHMARKS = {
    "autograd_step": "bench.autograd_step",
    "optimizer_step": "bench.optimizer_step",
    "notebook_tests": "bench.notebook_tests",
    "book": "bench.book",
    "class_throughput": "bench.class_throughput",
}

RESULTS = pathlib.Path(__file__).with_name("results.json")


def merge_results(path: pathlib.Path, new: dict) -> dict:
    """Update the sections in ``new``, keeping every other key already in the file."""
    results = {}
    if path.exists():
        try:
            results = json.loads(path.read_text())
        except json.JSONDecodeError:
            print(f"warning: {path.name} was not valid JSON; starting afresh", file=sys.stderr)
        if not isinstance(results, dict):
            results = {}
    results.update(new)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)  # never leave a half-written file behind
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    new = {}
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(BENCHMARKS[name])
        try:
            result = module.run()
        except ModuleNotFoundError as error:
            print(f"bench {name}: {error}", file=sys.stderr)
            return 1
        new[name] = result
        print(module.format_table(result))
        print()
    merge_results(RESULTS, new)
    print(f"figures written to bench/{RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
