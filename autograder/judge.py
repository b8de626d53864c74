"""The judge: scores a submission from its records and the golden files, never by running its code.

Trusted inputs only decide *what* is graded: the instructor's source notebooks say which test cells
exist, how many points each is worth and which checks each calls (read from the cell's code as an
AST: the literal first argument of every ``check(...)`` call). The submission supplies only data:
the records its kernel wrote through :func:`autograder.checks.check`, one JSON line each, read with
bounds and decoded without pickle. A test cell earns its points iff every one of its checks has at
least one record and every record of that check matches the golden expectation; a missing record
scores zero. This module imports no student code and runs none.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from . import compare, golden
from .cells import is_test_cell, python_source
from .records import RecordError, decode

MAX_RECORDS_BYTES = 64 * 1024 * 1024  # a whole records file
MAX_RECORD_LINE = 16 * 1024 * 1024  # one record
MAX_NOTES = 20

class PlanError(RuntimeError):
    """The instructor's source notebook cannot be graded as written (an instructor's error)."""


@dataclass(frozen=True)
class TestCell:
    notebook: str
    grade_id: str
    points: float
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What an assignment grades: its test cells, in notebook order."""

    assignment: str
    cells: tuple[TestCell, ...]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.cells))

    def check_names(self) -> set[str]:
        return {name for cell in self.cells for name in cell.checks}


@dataclass
class CheckResult:
    name: str
    passed: bool
    records: int
    message: str = ""
    hint: str = ""
    mistake: int | None = None  # which known mistake (index of the golden file's wrong variant) it matched


@dataclass
class CellResult:
    notebook: str
    grade_id: str
    points: float
    earned: float
    checks: list[CheckResult]
    note: str = ""


@dataclass
class Judgement:
    assignment: str
    cells: list[CellResult]
    notes: list[str] = field(default_factory=list)
    flagged_imports: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(sum(c.earned for c in self.cells))

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.cells))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Judgement":
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("a judgement is a JSON object")
        cells = [CellResult(**{**c, "checks": [CheckResult(**k) for k in c["checks"]]}) for c in raw["cells"]]
        return cls(raw["assignment"], cells, raw.get("notes", []), raw.get("flagged_imports", []))


# -- the plan, from the trusted source notebook ------------------------------------------------------

def check_calls(source: str, where: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The checks a test cell calls: literal names, in order, and computed names as patterns.

    A literal first argument of ``check(...)`` is taken as is. A computed one (``"ch3_adam." +
    check_name("adam", options)``) becomes a pattern ``(prefix, word)``: its leading literal text and
    the first other string literal in it; :func:`plan` matches it against the golden names.
    """
    tree = ast.parse(python_source(source), filename=where)
    aliases = {"check"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("checks"):
            aliases |= {a.asname or a.name for a in node.names if a.name == "check"}
    names: list[str] = []
    patterns: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called not in aliases:
            continue
        first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if first.value not in names:
                names.append(first.value)
            continue
        pattern = _name_pattern(first)
        if pattern is None:
            raise PlanError(f"{where}: check() needs a literal check name, or one that starts with literal text (line {node.lineno})")
        if pattern not in patterns:
            patterns.append(pattern)
    return tuple(names), tuple(patterns)


def _name_pattern(node) -> tuple[str, str] | None:
    leading = node
    while isinstance(leading, ast.BinOp) and isinstance(leading.op, ast.Add):
        leading = leading.left
    if isinstance(leading, ast.JoinedStr) and leading.values and isinstance(leading.values[0], ast.Constant):
        leading = leading.values[0]
    if not (isinstance(leading, ast.Constant) and isinstance(leading.value, str) and "." in leading.value):
        return None
    words = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str) and n is not leading]
    return leading.value, (words[0] if words else "")


def _matches(name: str, pattern: tuple[str, str]) -> bool:
    prefix, word = pattern
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix):]
    return not word or (rest.startswith(word) and not (rest[len(word):len(word) + 1].isalnum() or rest[len(word):len(word) + 1] == "_"))


def plan(source_notebooks: list[Path], assignment: str, golden_folder: Path | None) -> Plan:
    """Read the test cells of an assignment's source notebooks; verify every check has a golden value."""
    if golden_folder is None or not (golden_folder / f"{assignment}.json").is_file():
        raise PlanError(f"no golden file for {assignment!r} in {golden_folder}: run `python -m tools.golden`")
    found = []
    for path in source_notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if not is_test_cell(cell):
                continue
            meta = cell.metadata["nbgrader"]
            names, patterns = check_calls(cell.source, f"{path.name}:{meta['grade_id']}")
            found.append((path.stem, meta["grade_id"], float(meta.get("points", 0) or 0), names, patterns))
    golden_names = set(golden.load_assignment(golden_folder, assignment))
    literal = {name for *_, names, _ in found for name in names}
    cells = []
    for notebook, grade_id, points, names, patterns in found:
        computed: list[str] = []
        for pattern in patterns:
            matched = sorted(n for n in golden_names - literal if _matches(n, pattern))
            if not matched:
                raise PlanError(f"{notebook}:{grade_id}: no golden check matches the computed name {pattern[0]!r}+{pattern[1]!r}...")
            computed += [n for n in matched if n not in computed and n not in names]
        cells.append(TestCell(notebook, grade_id, points, tuple(names) + tuple(computed)))
    owner: dict[str, str] = {}
    for cell in cells:
        for name in cell.checks:
            if name not in literal and owner.setdefault(name, cell.grade_id) != cell.grade_id:
                raise PlanError(f"computed check name {name!r} matches two cells: {owner[name]} and {cell.grade_id}")
    result = Plan(assignment, tuple(cells))
    for name in sorted(result.check_names()):
        if golden.assignment_of(name) != assignment:
            raise PlanError(f"check {name!r} does not belong to assignment {assignment!r}")
        golden.expectation(name, golden_folder)  # raises GoldenMissing for a check without golden value
    return result


# -- records, from the untrusted submission ----------------------------------------------------------

@dataclass
class Records:
    values: dict[str, list[Any]]
    notes: list[str]


def read_records(path: Path | None, known: set[str]) -> Records:
    """Records of known checks, read with bounds; malformed lines are ignored and noted."""
    values: dict[str, list[Any]] = {}
    notes: list[str] = []

    def note(text: str) -> None:
        if len(notes) < MAX_NOTES:
            notes.append(text)

    if path is None or not path.is_file() or path.is_symlink():
        return Records(values, ["no records were written"])
    size = path.stat().st_size
    if size > MAX_RECORDS_BYTES:
        note(f"records file is {size} bytes: only the first {MAX_RECORDS_BYTES} were read")
    read = 0
    unknown = 0
    with path.open("rb") as handle:
        lineno = 0
        while read < MAX_RECORDS_BYTES:
            line = handle.readline(MAX_RECORD_LINE + 1)
            if not line:
                break
            lineno += 1
            read += len(line)
            if len(line) > MAX_RECORD_LINE:
                note(f"record line {lineno} is longer than {MAX_RECORD_LINE} bytes: ignored")
                while line and not line.endswith(b"\n") and read < MAX_RECORDS_BYTES:
                    line = handle.readline(MAX_RECORD_LINE + 1)
                    read += len(line)
                continue
            try:
                entry = json.loads(line)
                name, raw = entry["check"], entry["value"]
                if not isinstance(name, str):
                    raise TypeError("check name is not a string")
            except (ValueError, KeyError, TypeError, RecursionError):
                note(f"record line {lineno} is not a valid record: ignored")
                continue
            if name not in known:
                unknown += 1
                continue
            try:
                value = decode(raw)
            except (RecordError, RecursionError, ValueError, TypeError, OverflowError):
                note(f"record line {lineno} ({name}) holds an undecodable value: ignored")
                continue
            values.setdefault(name, []).append(value)
    if unknown:
        note(f"{unknown} record(s) of checks this assignment does not have: ignored")
    return Records(values, notes)


# -- the verdict -------------------------------------------------------------------------------------

def judge(the_plan: Plan, records: Records, golden_folder: Path) -> Judgement:
    """Score every test cell of ``the_plan`` from ``records``."""
    cells = []
    for cell in the_plan.cells:
        results = [_judge_check(name, records.values.get(name, []), golden_folder) for name in cell.checks]
        if not cell.checks:
            cells.append(CellResult(cell.notebook, cell.grade_id, cell.points, 0.0, [], "this cell reports no check: graded by hand"))
            continue
        earned = cell.points if all(r.passed for r in results) else 0.0
        cells.append(CellResult(cell.notebook, cell.grade_id, cell.points, earned, results))
    return Judgement(the_plan.assignment, cells, list(records.notes))


def _judge_check(name: str, values: list[Any], golden_folder: Path) -> CheckResult:
    if not values:
        return CheckResult(name, False, 0, "no result was reported for this check (the cell failed before reaching it)")
    expectation = golden.expectation(name, golden_folder)
    for value in values:
        try:
            verdict = compare.verdict_for(value, expectation)
        except Exception as error:  # noqa: BLE001 - a value the comparison cannot handle fails
            verdict = compare.Verdict(name, False, f"value could not be compared ({type(error).__name__})")
        if not verdict.passed:
            return CheckResult(name, False, len(values), verdict.message, verdict.hint, verdict.variant)
    return CheckResult(name, True, len(values))
