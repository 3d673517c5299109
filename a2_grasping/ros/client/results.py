"""What the behaviour-tree client's calls end with: frozen results a tick can read without a lock.

Filled from the messages by `ros/task_conversions.py`; imports only the message packages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeVar

from a2_grasping.msg import GraspCandidate, GraspTarget


class Outcome(enum.Enum):
    """How a call ended (PENDING until then)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"  # the server answered with error code NONE
    FAILED = "failed"  # the server answered with an error code, or rejected the goal
    CANCELED = "canceled"  # cancel() before an answer (a pick: the executor confirmed the stop)
    TIMEOUT = "timeout"  # no answer within the call's timeout_s (a pick goal is then cancelled)
    UNAVAILABLE = "unavailable"  # no server appeared within server_timeout_s; nothing was sent


@dataclass(frozen=True)
class SelectResult:
    """The answer of /select_grasp. Codes and names are SelectGrasp.Response constants."""

    outcome: Outcome
    message: str
    error_code: int | None = None  # None: no response was received
    error_name: str = ""
    candidates: tuple[GraspCandidate, ...] = ()
    selected_index: int = -1
    mode: str = ""
    target: GraspTarget | None = None  # the object the grasps are on (None: none reported)
    scene_stamp_s: float = 0.0
    scene_age_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def selected(self) -> GraspCandidate | None:
        """The grasp the policy selected (base frame), or None unless the call succeeded."""
        if self.ok and 0 <= self.selected_index < len(self.candidates):
            return self.candidates[self.selected_index]
        return None


@dataclass(frozen=True)
class PickResult:
    """The result of /pick. Codes and names are Pick.Result (and SelectGrasp) constants."""

    outcome: Outcome
    message: str
    error_code: int | None = None  # None: no result was received
    error_name: str = ""
    select_error_name: str = ""  # set when error_name is SELECTION_FAILED
    object_held: bool = False
    gripper_width_m: float = 0.0
    executed_grasp: GraspCandidate | None = None
    target: GraspTarget | None = None  # what the pick was meant to lift (None: no target)
    target_verified: bool = False  # a scene after the lift showed the target's place empty
    stages: tuple[str, ...] = ()  # feedback stages in the order they were first reported
    dry_run: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED


@dataclass(frozen=True)
class PlaceResult:
    """The result of /place or /pick_and_place (Place.Result / PickAndPlace.Result constants)."""

    outcome: Outcome
    message: str
    error_code: int | None = None  # None: no result was received
    error_name: str = ""
    select_error_name: str = ""  # the refusing service's code name when SELECTION_FAILED
    released: bool = False
    placement_verified: bool = False
    placed_at_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    reference: GraspTarget | None = None  # the object the place was relative to
    target: GraspTarget | None = None  # pick-and-place: the object picked
    target_verified: bool = False  # pick-and-place: the lift was verified
    stages: tuple[str, ...] = ()
    dry_run: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED


ResultT = TypeVar("ResultT", SelectResult, PickResult, PlaceResult)
