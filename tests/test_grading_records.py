"""The records decoder's bounds: values (autograder.records) and records files (autograder.judge)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder import judge, records
from autograder.records import MAX_DEPTH, MAX_NUMBERS, RecordError, decode, encode


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_values_round_trip_through_json():
    value = {"a": (1, 2.5, None), "b": np.arange(6, dtype=np.float32).reshape(2, 3), "c": [True, "x", float("inf")]}
    back = decode(json.loads(json.dumps(encode(value))))
    assert back["a"] == (1, 2.5, None) and back["c"][:2] == [True, "x"] and back["c"][2] == float("inf")
    assert back["b"].dtype == np.float32 and np.array_equal(back["b"], value["b"])


def test_depth_limit_both_ways():
    decode(nested(MAX_DEPTH))
    encode(nested(MAX_DEPTH))
    with pytest.raises(RecordError, match="deeper"):
        decode(nested(MAX_DEPTH + 1))
    with pytest.raises(RecordError, match="deeper"):
        encode(nested(MAX_DEPTH + 1))


def test_size_limit_counts_every_number_of_a_value():
    decode([0.0] * MAX_NUMBERS)
    with pytest.raises(RecordError, match="too large"):
        decode([0.0] * (MAX_NUMBERS + 1))
    half = MAX_NUMBERS // 2 + 1
    array = {records.ARRAY_TAG: True, "dtype": "float64", "shape": [half], "data": [0.0] * half}
    with pytest.raises(RecordError, match="too large"):  # two arrays share one budget
        decode([array, array])
    with pytest.raises(RecordError, match="too large"):
        encode(np.zeros(MAX_NUMBERS + 1))


@pytest.mark.parametrize("array", [
    {"dtype": "object", "shape": [1], "data": [0]},
    {"dtype": "float64", "shape": [2], "data": [0.0]},
    {"dtype": "float64", "shape": [-1], "data": []},
    {"dtype": "float64", "shape": [1], "data": ["x"]},
])
def test_malformed_arrays_are_refused(array):
    with pytest.raises(RecordError):
        decode({records.ARRAY_TAG: True, **array})


def write(path, lines):
    path.write_bytes(b"".join(lines))


def line(name: str, value) -> bytes:
    return (json.dumps({"check": name, "value": encode(value)}) + "\n").encode()


def test_a_records_file_is_read_within_its_byte_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(judge, "MAX_RECORDS_BYTES", 200)
    path = tmp_path / "records.jsonl"
    write(path, [line("a.x", i) for i in range(40)])
    found = judge.read_records(path, {"a.x"})
    assert 0 < len(found.values["a.x"]) < 40
    assert any("only the first 200" in n for n in found.notes)


def test_an_overlong_line_is_skipped_and_the_next_one_read(tmp_path, monkeypatch):
    monkeypatch.setattr(judge, "MAX_RECORD_LINE", 100)
    path = tmp_path / "records.jsonl"
    write(path, [line("a.x", [0.0] * 200), line("a.x", 1)])
    found = judge.read_records(path, {"a.x"})
    assert found.values == {"a.x": [1]}
    assert any("line 1 is longer than 100 bytes" in n for n in found.notes)


def test_bad_lines_are_noted_within_a_bounded_number_of_notes(tmp_path):
    path = tmp_path / "records.jsonl"
    deep = json.dumps({"check": "a.x", "value": nested(MAX_DEPTH + 5)}).encode() + b"\n"
    write(path, [b"not json\n"] * (judge.MAX_NOTES + 5) + [deep, line("a.other", 1), line("a.x", 2)])
    found = judge.read_records(path, {"a.x"})
    assert found.values == {"a.x": [2]}
    assert len(found.notes) == judge.MAX_NOTES


def test_a_missing_or_symlinked_records_file_counts_as_no_records(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    write(target, [line("a.x", 1)])
    link = tmp_path / "records.jsonl"
    link.symlink_to(target)
    assert judge.read_records(link, {"a.x"}).values == {}
    assert judge.read_records(tmp_path / "absent.jsonl", {"a.x"}).notes == ["no records were written"]
