"""The autograd_step benchmark runs end to end (tiny step counts) and results.json merging keeps other sections."""

import json

import pytest

pytestmark = pytest.mark.torch


def test_autograd_step_runs_and_reports_every_figure():
    from bench import autograd_step

    # one thread only: on a busy 2-core machine multi-threaded PyTorch can stall for seconds
    result = autograd_step.run(steps=2, repeats=1, micro_steps=1, thread_counts=[1])
    rows = result["results"]
    assert [(r["dtype"], r["threads"]) for r in rows] == [("float32", 1), ("float64", 1)]
    for r in rows:
        assert r["slopegrad_us"] > 0 and r["pytorch_us"] > 0 and r["numpy_only_us"] > 0
        assert r["ratio"] == pytest.approx(r["slopegrad_us"] / r["pytorch_us"])
    assert result["parity_one_step"]["float64"]["max_abs_gradient_difference"] < 1e-10
    assert result["micrograd"]["scalar_parameters"] == 8 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert "slopegrad" in result["notes"] and json.dumps(result)
    table = autograd_step.format_table(result)
    assert "float32" in table and "micrograd" in table


def test_results_are_merged_not_overwritten(tmp_path):
    from bench.__main__ import merge_results

    path = tmp_path / "results.json"
    path.write_text(json.dumps({"other_benchmark": {"x": 1}, "autograd_step": {"old": True}}))
    merged = merge_results(path, {"autograd_step": {"new": True}})
    assert merged == json.loads(path.read_text())
    assert merged == {"other_benchmark": {"x": 1}, "autograd_step": {"new": True}}
