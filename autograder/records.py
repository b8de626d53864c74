"""Values as plain JSON, both ways, with a size bound.

A check's value travels from student code to whoever judges it. It is encoded as JSON
(never pickle), so decoding cannot run code, and bounded, so a hostile value cannot
exhaust the judge. Supported: ``None``, bools, ints, floats (including nan/inf), strings,
NumPy arrays and scalars, and lists, tuples and string-keyed dicts of these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Where records go: the grader sets RECORDS_ENV, for the kernel, to a file of this name in the
# submission's working directory; ``autograder.checks.check`` appends one JSON line per check to it.
# Once the kernel is gone the sandbox copies that file into its report (``sandbox.collected_records``)
# and the execute stage keeps it, out of the student's reach, for the judge (``Course.kept_records``).
RECORDS_ENV = "AUTOGRADER_RECORDS"
RECORDS_NAME = ".autograder-records.jsonl"

MAX_NUMBERS = 2_000_000  # numbers in one encoded value: far above any check's need
MAX_DEPTH = 32

ARRAY_TAG = "__ndarray__"
TUPLE_TAG = "__tuple__"
_ALLOWED_DTYPES = {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"}


class RecordError(ValueError):
    """A value that cannot be encoded or decoded safely."""


def encode(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data (see the module docstring for what is supported)."""
    budget = [MAX_NUMBERS]
    return _encode(value, budget, 0)


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`; raises :class:`RecordError` on anything malformed."""
    budget = [MAX_NUMBERS]
    return _decode(data, budget, 0)


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise RecordError(f"value too large: more than {MAX_NUMBERS} numbers")


def _encode(value: Any, budget: list[int], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise RecordError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        _spend(budget, 1)
        return value
    if isinstance(value, np.generic):
        return _encode(value.item(), budget, depth)
    if hasattr(value, "data") and isinstance(getattr(value, "data"), np.ndarray):
        value = value.data  # a slopegrad Tensor or Parameter: its numbers
    if isinstance(value, np.ndarray):
        if value.dtype.name not in _ALLOWED_DTYPES:
            raise RecordError(f"arrays of dtype {value.dtype} cannot be recorded")
        _spend(budget, value.size)
        return {ARRAY_TAG: True, "dtype": value.dtype.name, "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, tuple):
        return {TUPLE_TAG: [_encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_encode(v, budget, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise RecordError("only dicts with string keys can be recorded")
        return {k: _encode(v, budget, depth + 1) for k, v in value.items()}
    raise RecordError(f"values of type {type(value).__name__} cannot be recorded")


def _decode(data: Any, budget: list[int], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise RecordError(f"record nested deeper than {MAX_DEPTH} levels")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, (int, float)):
        _spend(budget, 1)
        return data
    if isinstance(data, list):
        return [_decode(v, budget, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise RecordError(f"unexpected {type(data).__name__} in a record")
    if data.get(ARRAY_TAG) is True:
        return _decode_array(data, budget)
    if TUPLE_TAG in data:
        if set(data) != {TUPLE_TAG} or not isinstance(data[TUPLE_TAG], list):
            raise RecordError("malformed tuple in a record")
        return tuple(_decode(v, budget, depth + 1) for v in data[TUPLE_TAG])
    return {str(k): _decode(v, budget, depth + 1) for k, v in data.items()}


def _decode_array(data: dict, budget: list[int]) -> np.ndarray:
    dtype, shape, flat = data.get("dtype"), data.get("shape"), data.get("data")
    if dtype not in _ALLOWED_DTYPES or not isinstance(shape, list) or not isinstance(flat, list):
        raise RecordError("malformed array in a record")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise RecordError("malformed array shape in a record")
    if math.prod(shape) != len(flat):
        raise RecordError(f"array of shape {tuple(shape)} cannot hold {len(flat)} numbers")
    _spend(budget, len(flat))
    if not all(isinstance(x, (int, float)) for x in flat):
        raise RecordError("non-numeric entry in a recorded array")
    return np.array(flat, dtype=dtype).reshape(shape)
