"""A PostgreSQL gradebook (a real server, started for the test) gives the same results as SQLite."""

from __future__ import annotations

import pytest

from grading_fixture import ASSIGNMENT, TOY_SPECS, ensure_state_env, toy_course
from postgres import postgres_server

from autograder import pipeline
from autograder.execute import ExecuteSettings
from autograder.gradebook import dump

pytestmark = pytest.mark.slow
ensure_state_env()
SPECS = [s for s in TOY_SPECS if s["student"] in ("correct", "mistake_sign", "deletes_tests")]


def test_postgres_gradebook_equals_sqlite(tmp_path):
    options = pipeline.Options(settings=ExecuteSettings(cell_timeout=10), jobs=2, progress=False)
    sqlite = toy_course(tmp_path / "sqlite", specs=SPECS)
    pipeline.grade(sqlite, [ASSIGNMENT], options)
    with postgres_server() as url:
        course = toy_course(tmp_path / "postgres", db_url=url, specs=SPECS)
        assert course.db_url.startswith("postgresql")
        pipeline.grade(course, [ASSIGNMENT], options)
        on_postgres = dump(course)
        again = pipeline.grade(course, [ASSIGNMENT], options)
        assert again.graded == [], "a rerun on PostgreSQL regraded"
    expected = dump(sqlite)
    # Receipt times differ (each class was collected at its own moment); everything else must not.
    for picture in (expected, on_postgres):
        for entry in [*picture["grades"].values(), *picture["statuses"].values()]:
            entry.pop("timestamp", None)
            entry.pop("received_at", None)
            entry.pop("inputs_hash", None)
    assert on_postgres == expected
    assert expected["statuses"][f"correct/{ASSIGNMENT}"]["score"] == 6.0
