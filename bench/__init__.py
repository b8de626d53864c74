"""Benchmarks, run with ``python -m bench`` from the repository root.

Each benchmark is a module here exposing ``run() -> dict`` (its figures,
JSON-serialisable) and ``format_table(result) -> str`` (a short summary), and
is registered in ``bench/__main__.py``. All figures are merged into
``bench/results.json``, one top-level key per benchmark.
"""
