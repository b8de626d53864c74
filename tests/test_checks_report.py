"""Every check of a cell reports: :func:`autograder.checks.reported_together` and the notebook cells it wraps.

A failed check inside a block prints ``FAILED: <name>``, records its value and lets the cell go on;
the block ends with one ``CheckFailed`` that lists every check's result, with each failure's message
and hint. Outside a block a failed check raises at once, as before. In a real IPython kernel every
cell that calls ``check`` runs inside a block without saying so.
"""

from __future__ import annotations

import ast
import json

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import judge as judge_module
from autograder.golden import GOLDEN_DIR_ENV, SCHEMA
from autograder.checks import CheckFailed, ReportCellChecksTogether, calls_check, check, reported_together
from autograder.records import RECORDS_ENV
from nbtools import as_in_a_kernel


@pytest.fixture
def records(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(path))
    monkeypatch.setenv(GOLDEN_DIR_ENV, str(tmp_path / "no-golden-here"))
    return path


def recorded(path) -> list[tuple[str, object]]:
    return [(r["check"], r["value"]) for r in map(json.loads, path.read_text().splitlines())]


def test_outside_a_block_a_failed_check_raises_at_once(records, capsys):
    check("ps1.right", 2.0, expected=2.0)
    with pytest.raises(CheckFailed) as failed:
        check("ps1.wrong", 3.0, expected=2.0)
    assert str(failed.value).startswith("check 'ps1.wrong' failed: ")
    assert capsys.readouterr().out == "passed: ps1.right\n"
    assert recorded(records) == [("ps1.right", 2.0), ("ps1.wrong", 3.0)]


def test_in_a_block_every_check_runs_reports_and_is_recorded(records, capsys):
    with pytest.raises(CheckFailed) as failed:
        with reported_together():
            check("ps1.first", 1.5, expected=1.0)
            check("ps1.second", [1.0, 2.0], expected=[1.0, 2.0])
            check("ps1.third", {"a": 1.0}, expected={"a": 4.0})
    assert isinstance(failed.value, AssertionError)
    message = str(failed.value)
    lines = message.splitlines()
    assert lines[0] == "2 of 3 checks failed:"
    assert lines[1].startswith("FAILED: check 'ps1.first' failed: ")
    assert "passed: ps1.second" in lines
    assert any(line.startswith("FAILED: check 'ps1.third' failed: ") for line in lines)
    assert message.index("ps1.first") < message.index("ps1.second") < message.index("ps1.third")
    assert capsys.readouterr().out.splitlines() == [
        "FAILED: ps1.first (the reason follows at the end)", "passed: ps1.second",
        "FAILED: ps1.third (the reason follows at the end)"]
    assert [name for name, _ in recorded(records)] == ["ps1.first", "ps1.second", "ps1.third"]


def test_one_failed_check_in_a_block_reads_as_it_always_did(records):
    with pytest.raises(CheckFailed) as alone:
        check("ps1.only", 3.0, expected=2.0)
    with pytest.raises(CheckFailed) as in_block:
        with reported_together():
            check("ps1.only", 3.0, expected=2.0)
    assert str(in_block.value) == str(alone.value)


def test_hints_of_golden_checks_reach_the_summary(tmp_path, monkeypatch, records):
    folder = tmp_path / "golden"
    folder.mkdir()
    (folder / "ps2.json").write_text(json.dumps({"schema": SCHEMA, "checks": {
        "ps2.a": {"expected": 1.0, "hint": "start the counter at one", "variants": []},
        "ps2.b": {"expected": 2.0, "hint": "add eps outside the root", "variants": []},
    }}))
    monkeypatch.setenv(GOLDEN_DIR_ENV, str(folder))
    with pytest.raises(CheckFailed) as failed:
        with reported_together():
            check("ps2.a", 0.0)
            check("ps2.b", 0.0)
    assert "Hint: start the counter at one" in str(failed.value) and "Hint: add eps outside the root" in str(failed.value)


def test_a_block_that_passes_or_only_records_raises_nothing(records, capsys):
    with reported_together():
        check("ps1.fine", 1.0, expected=1.0)
        check("ps1.judged_later", 5.0)  # no expectation here: recorded, for the judge
    assert capsys.readouterr().out == "passed: ps1.fine\n"
    assert len(recorded(records)) == 2


def test_an_error_of_the_code_itself(records):
    with pytest.raises(ZeroDivisionError):  # no check failed: the error goes on unchanged
        with reported_together():
            check("ps1.fine", 1.0, expected=1.0)
            1 / 0
    with pytest.raises(CheckFailed) as failed:  # after a failed check: the summary, caused by the error
        with reported_together():
            check("ps1.wrong", 3.0, expected=2.0)
            1 / 0
    assert isinstance(failed.value.__cause__, ZeroDivisionError)
    assert "then the code stopped with ZeroDivisionError" in str(failed.value)


def test_blocks_nest_and_close(records):
    with pytest.raises(CheckFailed):
        with reported_together():
            with pytest.raises(CheckFailed) as inner:
                with reported_together():
                    check("ps1.inner", 0.0, expected=1.0)
            assert "ps1.inner" in str(inner.value)
            check("ps1.outer", 0.0, expected=1.0)
    with pytest.raises(CheckFailed):  # every block was closed: a failure raises at once again
        check("ps1.after", 0.0, expected=1.0)


def test_the_transformer_wraps_only_cells_that_call_check():
    untouched = "x = 1\nprint(x)\n"
    assert ast.dump(as_in_a_kernel(untouched)) == ast.dump(ast.parse(untouched))
    assert not calls_check(ast.parse("checked = 1\ncheck\n"))
    for source in ('check("ps1.a", 1)', 'import autograder.checks as c\nc.check("ps1.a", 1)'):
        tree = as_in_a_kernel(source)
        assert calls_check(ast.parse(source))
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.With)
        assert "reported_together" in ast.unparse(tree.body[0].items[0])
    assert ReportCellChecksTogether().visit(ast.parse("")).body == []


def test_the_judge_scores_a_cell_exactly_as_before(tmp_path):
    """The judge reads the records: a cell earns its points iff every one of its checks passed. A block
    records the checks after a failure too, which changes the feedback, never the score."""
    folder = tmp_path / "golden"
    folder.mkdir()
    (folder / "ps1.json").write_text(json.dumps({"schema": SCHEMA, "checks": {
        name: {"expected": 1.0, "hint": f"about {name}", "variants": []} for name in ("ps1.a", "ps1.b", "ps1.c")}}))
    plan = judge_module.Plan("ps1", (judge_module.TestCell("nb.ipynb", "cell", 5.0, ("ps1.a", "ps1.b", "ps1.c")),))

    def score(values):
        cell = judge_module.judge(plan, judge_module.Records(values, []), folder).cells[0]
        return cell.earned, [(r.name, r.passed, r.records) for r in cell.checks]

    stopped_at_first = {"ps1.a": [0.0]}  # a cell that stopped at its first failed check
    all_reported = {"ps1.a": [0.0], "ps1.b": [1.0], "ps1.c": [0.0]}
    assert score(stopped_at_first) == (0.0, [("ps1.a", False, 1), ("ps1.b", False, 0), ("ps1.c", False, 0)])
    assert score(all_reported) == (0.0, [("ps1.a", False, 1), ("ps1.b", True, 1), ("ps1.c", False, 1)])
    assert score({"ps1.a": [1.0], "ps1.b": [1.0], "ps1.c": [1.0]})[0] == 5.0


@pytest.mark.slow
def test_a_real_kernel_reports_every_check_of_a_cell(tmp_path):
    records = tmp_path / "records.jsonl"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import os\nos.environ[{RECORDS_ENV!r}] = {str(records)!r}\n"
                                  f"os.environ[{GOLDEN_DIR_ENV!r}] = {str(tmp_path)!r}\n"
                                  "from autograder.checks import check"),
        nbformat.v4.new_code_cell('print("a visible test")\ncheck("ps1.first", 3.0, expected=2.0)\n'
                                  'check("ps1.second", 2.0, expected=2.0)\ncheck("ps1.third", [0.0], expected=[1.0])'),
        nbformat.v4.new_code_cell("value = 41\nvalue + 1"),  # an ordinary cell keeps its displayed value
    ]
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[1].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert printed.splitlines() == ["a visible test", "FAILED: ps1.first (the reason follows at the end)",
                                    "passed: ps1.second", "FAILED: ps1.third (the reason follows at the end)"]
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "CheckFailed"
    assert errors[0].evalue.splitlines()[0] == "2 of 3 checks failed:"
    assert "passed: ps1.second" in errors[0].evalue and "check 'ps1.third' failed" in errors[0].evalue
    assert [json.loads(line)["check"] for line in records.read_text().splitlines()] == ["ps1.first", "ps1.second", "ps1.third"]
    assert notebook.cells[2].outputs[0].data["text/plain"] == "42"
