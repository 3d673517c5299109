"""Result codes of the executor's actions: one enum for Pick, Place and PickAndPlace.

Mirrors the constants of action/Pick.action, action/Place.action and action/PickAndPlace.action
(a test keeps them equal), as SelectErrorCode mirrors srv/SelectGrasp.srv.
"""

from __future__ import annotations

import enum


class TaskErrorCode(enum.IntEnum):
    NONE = 0
    INVALID_GOAL = 1
    SELECTION_FAILED = 2
    NO_REACHABLE_CANDIDATE = 3
    PLANNING_FAILED = 4
    EXECUTION_FAILED = 5
    GRASP_FAILED = 6
    STALE_STATE = 7
    CANCELED = 8
    SERVER_UNAVAILABLE = 9
    INTERNAL = 10
    WRONG_OBJECT = 11
    NOT_HOLDING = 12
    PLACE_FAILED = 13


class TaskError(Exception):
    """A task that ends with a failure code; the message says what to fix."""

    def __init__(self, code: TaskErrorCode, message: str, select_error_code: int = 0) -> None:
        if code is TaskErrorCode.NONE:
            raise ValueError("TaskError needs a failure code, not NONE")
        super().__init__(message)
        self.code = code
        self.message = message
        self.select_error_code = select_error_code

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class CanceledError(Exception):
    """The caller asked to stop; the arm has been stopped."""


class ExecutionError(Exception):
    """A controller did not do what was asked in time; the message says what and where."""
