"""The demo class, as specs applied to each chapter's released notebook (see :mod:`autograder.demo.build`).

Every spec says what its submission must get (``expect``): ``"full"`` marks, ``"zero"``, or the same
cell scores as another student (``"like:partial"``); whether its status is ``graded`` or
``needs_review``; and a phrase its reasons must contain. Common mistakes (``mistakes.py``) say which
test cells they lose and which hint their feedback shows. Hostile submissions cover every principle
of the grading contract (``principle``); they are spread over the chapters so that each chapter's
class has a dozen or more students and the whole demo grades in a couple of minutes.
"""

from __future__ import annotations

from ..golden import GOLDEN_DIR_ENV
from ..records import RECORDS_ENV, RECORDS_NAME

ORPHAN_MARKER = "autograder-demo-orphan"
STOLEN_MARKER = "STOLEN"

# -- honest students, in every chapter ---------------------------------------------------------------

COMMON = [
    {"student": "correct", "expect": "full", "status": "graded"},
    {"student": "partial", "solve": "first", "expect": "partial", "status": "graded"},
    {
        "student": "noisy_correct",  # principle 8: warnings on stderr, extra prints and cells, another kernel name
        "principle": 8,
        "kernel_display_name": "My Own Python 3",
        "insert_after": [
            {"cell": "@start", "source": "import sys, warnings\nwarnings.warn('this is only a warning')\n"
                                         "print('a note on stderr', file=sys.stderr)\nprint('hello from an extra cell')"},
            {"cell": "@every_solution", "source": "import sys\nprint('debug print', 42)\nsys.stderr.write('more stderr\\n')"},
        ],
        "expect": "full", "status": "graded",
    },
    {"student": "nothing", "solve": "none", "expect": "zero", "status": "graded"},
]

# -- hostile students, one or more per principle of grading-threats.md --------------------------------

ALWAYS_EQUAL = '''
class AlwaysEqual:
    """Equal to everything, callable, indexable: stock assert-based tests would pass it."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __bool__(self): return True
    def __len__(self): return 2
    def __iter__(self): return iter([AlwaysEqual(), AlwaysEqual()])
    def __getitem__(self, key): return AlwaysEqual()
    def __getattr__(self, name): return AlwaysEqual()
    def __call__(self, *args, **kwargs): return AlwaysEqual()
    def __float__(self): return 0.0
    __hash__ = object.__hash__
import numpy as np
for _name, _value in list(globals().items()):
    if not _name.startswith("_") and callable(_value) and getattr(_value, "__module__", "") == "__main__" and _name != "AlwaysEqual":
        globals()[_name] = AlwaysEqual()
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
'''

PATCH_GRADER = '''
import autograder.checks, autograder.compare, autograder.records
autograder.checks.check = lambda name, value, *args, **kwargs: print("passed:", name)
autograder.compare.verdict_for = lambda actual, expectation: autograder.compare.Verdict(expectation.name, True)
autograder.compare.first_mismatch = lambda *args, **kwargs: None
autograder.records.encode = lambda value: 0.0
'''

READ_SECRETS = '''
import os, time
stolen, started, seen = [], time.monotonic(), 0
def _try(path):
    try:
        with open(path, "rb") as handle:
            handle.read(64)
        stolen.append(path)
    except OSError:
        pass
import autograder
here = os.path.realpath(os.getcwd())
import glob
ancestors = set()
for start in (os.getcwd(), os.path.dirname(autograder.__file__), os.path.expanduser("~")):
    folder = os.path.abspath(start)
    while True:
        ancestors.add(folder)
        if folder == "/":
            break
        folder = os.path.dirname(folder)
for folder in sorted(ancestors):
    for pattern in ("gradebook.db", "golden/*.json", "*/golden/*.json", "autograder/golden/*.json", "source/*/*.ipynb",
                    "submitted/*/*/*.ipynb", "autograded/*/*/*.ipynb", "*/gradebook.db", "*/source/*/*.ipynb"):
        for path in glob.glob(os.path.join(folder, pattern))[:5]:
            if not os.path.realpath(path).startswith(here + os.sep):
                _try(path)
for top in ["..", "../..", "../../..", os.path.dirname(autograder.__file__), "/"]:
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(folder, d)) not in ("/proc", "/sys", "/dev", "/usr")]
        seen += 1
        if seen > 20000 or time.monotonic() - started > 5:
            break
        for name in files:
            path = os.path.join(folder, name)
            try:
                real = os.path.realpath(path)
            except OSError:
                continue
            if real.startswith(here + os.sep):
                continue  # the submission's own files
            if name == "gradebook.db" or name.endswith((".ipynb", ".jsonl")) or "/golden/" in real and name.endswith(".json"):
                _try(real)
''' + f'''for name in ({GOLDEN_DIR_ENV!r}, "NBGRADER_DB_URL"):
    if os.environ.get(name):
        stolen.append(name + "=" + os.environ[name])
print("%s %r" % ("STOLEN", sorted(set(stolen))[:20]))
'''

INPUT_TRANSFORMER = f'''
_records_variable = {RECORDS_ENV!r}
''' + '''import re
def _fake_tests(lines):
    text = "".join(lines)
    names = re.findall(r'check\\(\\s*"([^"]+)"', text)
    if not names:
        return lines
    return ["import json, os\\n", "_path = os.environ.get(%r)\\n" % _records_variable, "if _path:\\n",
            "    with open(_path, 'a') as _f:\\n",
            "        for _n in %r: _f.write(json.dumps({'check': _n, 'value': 1.0}) + '\\\\n')\\n" % (names,),
            "print('all tests passed')\\n"]
get_ipython().input_transformers_cleanup.append(_fake_tests)
import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())
'''

FAKE_RECORDS = f'''
import json, os
path = os.environ.get({RECORDS_ENV!r}, {RECORDS_NAME!r})
''' + '''with open(path, "a") as records:
    records.write("this is not json\\n")
    records.write(json.dumps({"check": 12, "value": 1}) + "\\n")
    records.write(json.dumps({"check": "other_course.some_check", "value": 1.0}) + "\\n")
    records.write(json.dumps({"check": "x", "value": {"__ndarray__": True, "dtype": "object", "shape": [1], "data": [1]}}) + "\\n")
    records.write("[" * 100000 + "\\n")
'''

SWALLOW_INTERRUPT = '''
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
'''

ORPHANS = f'''
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(240)", "{ORPHAN_MARKER}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(240)", "{ORPHAN_MARKER}"])
    os._exit(0)
'''

FAKE_AUTOGRADER = '''"""A look-alike of the course's check API that reports success and records nothing."""
def check(name, value, expected=None, **kwargs):
    print("passed:", name)
'''

HOSTILE = [
    {"student": "eq_always_true", "principle": 1, "solve": "none",
     "insert_after": [{"cell": "@every_solution", "source": ALWAYS_EQUAL}], "expect": "zero"},
    {"student": "patches_grader", "principle": 1, "solve": "none",
     "insert_after": [{"cell": "@start", "source": PATCH_GRADER}], "expect": "zero"},
    {"student": "input_transformer", "principle": 1, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": INPUT_TRANSFORMER}], "expect": "zero"},
    {"student": "shadows_modules", "principle": 1, "solve": "none",
     "files": {"numpy.py": "raise ImportError('shadowed numpy')\n", "autograder/__init__.py": "",
               "autograder/checks.py": FAKE_AUTOGRADER},
     "expect": "zero", "status": "needs_review", "reason": "shadow"},
    {"student": "reads_secrets", "principle": 2, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": READ_SECRETS}], "expect": "zero"},
    {"student": "leaves_processes", "principle": 2, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": ORPHANS}], "expect": "zero"},
    {"student": "imports_torch", "principle": 2, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": "import torch\noptimizer = torch.optim.SGD"}],
     "expect": "zero", "status": "needs_review", "reason": "ships optimizers"},
    {"student": "infinite_loop", "principle": 4, "solve": "first",
     "insert_after": [{"cell": "@first_solution", "source": "while True:\n    pass"}],
     "expect": "partial", "status": "needs_review", "reason": "longer than"},
    {"student": "swallows_interrupt", "principle": 4, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": SWALLOW_INTERRUPT}],
     "expect": "zero", "status": "needs_review", "reason": "longer than"},
    {"student": "kills_kernel", "principle": 4, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}],
     "expect": "zero", "status": "needs_review", "reason": "kernel"},
    {"student": "invalid_json", "principle": 4, "notebook": "invalid",
     "expect": "zero", "status": "needs_review", "reason": "invalid notebook"},
    {"student": "missing_notebook", "principle": 4, "notebook": "missing", "files": {"notes.txt": "I forgot the notebook\n"},
     "expect": "zero", "status": "needs_review", "reason": "missing notebook"},
    {"student": "duplicates_cells", "principle": 4, "duplicate": ["@first_test", "@first_solution"],
     "expect": "full", "status": "needs_review", "reason": "duplicated"},
    {"student": "renames_cell", "principle": 4, "metadata": [{"cell": "@first_test", "set": {"grade_id": "my_own_test"}}],
     "expect": "full", "status": "needs_review", "reason": "deleted or renamed"},
    {"student": "unknown_schema", "principle": 4,
     "metadata": [{"cell": "@every_test", "set": {"schema_version": 99}}, {"cell": "@every_solution", "set": {"schema_version": 99}}],
     "expect": "full", "status": "needs_review", "reason": "schema"},
    {"student": "fake_records", "principle": 5, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": FAKE_RECORDS}], "expect": "zero"},
    {"student": "deletes_tests", "principle": 6, "delete": ["@every_test"],
     "expect": "full", "status": "needs_review", "reason": "deleted"},
    {"student": "edits_tests_and_points", "principle": 6, "solve": "first",
     "metadata": [{"cell": "@every_test", "set": {"points": 1000}}, {"cell": "@last_test", "set": {"solution": True, "locked": False}}],
     "edits": [{"cell": "@every_test", "source": "print('tests are for other people')"}],
     "expect": "partial", "status": "needs_review", "reason": "tampered"},
    {"student": "huge_output", "principle": 7, "solve": "none",
     "insert_after": [{"cell": "@first_solution", "source": "import sys\nfor _ in range(60):\n    print('x' * 1_000_000)\n"
                                                           "sys.stderr.write('y' * 20_000_000)"}],
     "expect": "zero"},
    {"student": "fake_timestamp", "principle": 9, "files": {"timestamp.txt": "2000-01-01 00:00:00.000000 UTC\n"},
     "expect": "full", "status": "graded"},
]


def specs_for(assignments: list[str], mistakes: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each assignment's specs: the common ones, its mistakes, and its share of the hostile ones (each
    hostile spec goes to the chapter with the fewest students so far, so the classes even out)."""
    result = {a: [dict(s) for s in COMMON] + [dict(m) for m in mistakes.get(a, [])] for a in assignments}
    for spec in HOSTILE:
        if assignments:
            smallest = min(assignments, key=lambda a: (len(result[a]), assignments.index(a)))
            result[smallest].append(dict(spec))
    for assignment in assignments:  # a chapter without mistakes yet: more honest partial solutions
        for spec in PADDING[: max(0, PER_CHAPTER - len(result[assignment]))]:
            result[assignment].append(dict(spec))
    return result


PER_CHAPTER = 12
PADDING = [
    {"student": "solves_last_only", "solve": "last", "status": "graded"},
    {"student": "solves_all_but_first", "solve": "all_but_first", "status": "graded"},
    {"student": "late_starter", "solve": "none", "kernel_display_name": "Python 3", "expect": "zero", "status": "graded"},
    {"student": "correct_twice", "expect": "full", "status": "graded",
     "insert_after": [{"cell": "@every_solution", "source": "print('checked my work')"}]},
]
