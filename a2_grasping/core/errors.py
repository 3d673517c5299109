"""Typed failures of selection (grasp and place), one per error code of the SelectGrasp contract
(SelectPlace shares the numbering)."""

from __future__ import annotations

import enum


class SelectErrorCode(enum.IntEnum):
    """Mirrors the constants of srv/SelectGrasp.srv (a test keeps the two equal)."""

    NONE = 0
    INVALID_REQUEST = 1
    NO_SCENE = 2
    STALE_SCENE = 3
    EMPTY_WORKSPACE = 4
    NO_CANDIDATES = 5
    NO_REACHABLE_CANDIDATE = 6
    MODEL_NOT_READY = 7
    BUSY = 8
    TIMEOUT = 9
    INTERNAL = 10
    TARGET_NOT_FOUND = 11
    AMBIGUOUS_TARGET = 12


class SelectionError(Exception):
    """A refusal with its code; the message must say what to fix, not only what went wrong."""

    def __init__(self, code: SelectErrorCode, message: str) -> None:
        if code is SelectErrorCode.NONE:
            raise ValueError("SelectionError needs a failure code, not NONE")
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"
