"""Why a submission needs an instructor's review: a kind from one enumeration, plus a detail.

Produced by the stages that find them (integrity, execute, the pipeline), stored as JSON in the
status table, and read back as the same type by the feedback, the summary and the dashboard, so
that no later stage parses a sentence back. The detail is the instructor's sentence; students see
only the kind's public phrase (details can name hidden cells or the grader's limits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum


class ReasonKind(Enum):
    """Each kind: its stored name, the phrase shown to students, the dashboard's group, an integrity flag.

    An integrity flag says the submission tried, or did, something wrong (the dashboard counts them).
    """

    TAMPERED = ("tampered", "tampered cells restored", "tampered cells restored", True)
    SHADOWED_MODULES = ("shadowed_modules", "submission ships files that shadow modules", "sandbox violation", True)
    SANDBOX_VIOLATION = ("sandbox_violation", "sandbox violation", "sandbox violation", True)
    TIMEOUT = ("timeout", "timeout", "timeout", True)
    OPTIMIZER_IMPORT = ("optimizer_import", "imports a library that ships optimizers", "optimizer library imported", True)
    KERNEL_DIED = ("kernel_died", "kernel died", "kernel died", False)
    WORKER_DIED = ("worker_died", "the grading worker died", "kernel died", False)
    INVALID_NOTEBOOK = ("invalid_notebook", "invalid notebook", "invalid notebook", False)
    MISSING_NOTEBOOK = ("missing_notebook", "missing notebook", "missing notebook", False)
    INCOMPLETE = ("incomplete", "execution did not complete", "execution did not complete", False)
    OUTPUT_LOST = ("output_lost", "the output of a cell was lost", "output lost", False)
    NBGRADER_FAILED = ("nbgrader_failed", "nbgrader failed", "nbgrader failed", False)
    GRADER_ERROR = ("grader_error", "grader error", "grader error", False)
    OTHER = ("other", "other", "other", False)  # a reason stored before reasons had kinds

    def __init__(self, key: str, public: str, group: str, flag: bool):
        self.key, self.public, self.group, self.flag = key, public, group, flag

    @classmethod
    def from_key(cls, key: str) -> ReasonKind:
        return next((kind for kind in cls if kind.key == key), cls.OTHER)


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    detail: str  # the instructor's sentence

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict:
        return {"kind": self.kind.key, "detail": self.detail}

    @classmethod
    def from_dict(cls, raw: dict | str) -> Reason:
        if isinstance(raw, str):  # stored before reasons had kinds
            return cls(ReasonKind.OTHER, raw)
        return cls(ReasonKind.from_key(str(raw.get("kind", ""))), str(raw.get("detail", "")))


def reasons_to_json(reasons: list[Reason]) -> str:
    return json.dumps([r.to_dict() for r in reasons])


def reasons_from_json(text: str | None) -> list[Reason]:
    """The reasons stored in a status row; text that is not a JSON list becomes one reason of kind OTHER."""
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        return [Reason(ReasonKind.OTHER, str(text))]
    if not isinstance(raw, list):
        return [Reason(ReasonKind.OTHER, str(text))]
    return [Reason.from_dict(r) if isinstance(r, (dict, str)) else Reason(ReasonKind.OTHER, str(r)) for r in raw]


def public_phrases(reasons: list[Reason]) -> list[str]:
    """What a student is told about these reasons: each kind's phrase, once, sorted."""
    return sorted({r.kind.public for r in reasons})
