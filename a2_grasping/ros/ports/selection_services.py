"""Grasps and places for the runner from /select_grasp and /select_place; each keeps the last
answer's messages so an action result can return the executed candidate and the object as
received."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.client import Client
from rclpy.clock import Clock

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.selection.place_regions import HeldObject
from a2_grasping.core.task.codes import CanceledError, TaskError, TaskErrorCode
from a2_grasping.core.task.ports import Choice, FloatArray, PlaceChoice
from a2_grasping.msg import GraspCandidate
from a2_grasping.ros import conversions
from a2_grasping.ros.service_call import CallCanceledError, CallUnansweredError, call_with_deadline

# A retry asks for a scene captured after the arm came back; the request reaches the server a
# little later than it is sent (loopback DDS: milliseconds), so its age limit allows this much.
# A scene this much older still shows the arm at rest within goal tolerance of the start.
REQUEST_TRANSIT_S = 0.25


def _call(client: Client, request: Any, timeout_s: float, canceled: Callable[[], bool]) -> Any:
    """The response, or the runner's errors: SERVER_UNAVAILABLE, a refusal with its code
    (NO_REACHABLE_CANDIDATE kept as such, the rest SELECTION_FAILED), CanceledError."""
    try:
        response = call_with_deadline(client, request, timeout_s=timeout_s, canceled=canceled)
    except CallCanceledError as error:
        raise CanceledError(str(error)) from None
    except CallUnansweredError as error:
        raise TaskError(TaskErrorCode.SERVER_UNAVAILABLE, str(error)) from None
    if response.error_code != SelectErrorCode.NONE:
        code = (
            TaskErrorCode.NO_REACHABLE_CANDIDATE
            if response.error_code == SelectErrorCode.NO_REACHABLE_CANDIDATE
            else TaskErrorCode.SELECTION_FAILED
        )
        name = SelectErrorCode(response.error_code).name
        raise TaskError(
            code, f"{client.srv_name}: {name}: {response.error_message}", response.error_code
        )
    return response


def _max_input_age_s(clock: Clock, newer_than_s: float | None) -> float:
    """The age limit that admits exactly the scenes captured after `newer_than_s` (0: the
    server's own limit): the server judges a scene's age when the request arrives, a little
    after now."""
    if newer_than_s is None:
        return 0.0
    return max(0.0, conversions.clock_seconds(clock) - newer_than_s) + REQUEST_TRANSIT_S


class GraspService:
    """/select_grasp as the runner's grasp source."""

    def __init__(self, client: Client, timeout_s: float, clock: Clock) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock
        self.last_candidates: list[GraspCandidate] = []
        self.last_target_msg = conversions.grasp_target_to_msg(None)

    def forget(self) -> None:
        self.last_candidates = []
        self.last_target_msg = conversions.grasp_target_to_msg(None)

    def choose(
        self, instruction: str, canceled: Callable[[], bool], newer_than_s: float | None = None
    ) -> Choice:
        request = conversions.select_request_to_msg(
            instruction, max_input_age_s=_max_input_age_s(self._clock, newer_than_s)
        )
        response = _call(self._client, request, self._timeout_s, canceled)
        self.last_candidates = list(response.candidates)
        self.last_target_msg = response.target
        try:
            poses = np.stack([conversions.pose_to_matrix(c.pose.pose) for c in response.candidates])
            target = conversions.object_box_from_msg(response.target)
        except ValueError as error:
            raise TaskError(
                TaskErrorCode.SELECTION_FAILED,
                f"{self._client.srv_name} answered malformed: {error}",
            ) from None
        return Choice(poses, target)


class PlaceService:
    """/select_place as the runner's place source."""

    def __init__(self, client: Client, timeout_s: float, clock: Clock) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock
        self.last_releases: list[PoseStamped] = []
        self.last_reference_msg = conversions.grasp_target_to_msg(None)

    def forget(self) -> None:
        self.last_releases = []
        self.last_reference_msg = conversions.grasp_target_to_msg(None)

    def choose_place(
        self,
        instruction: str,
        held: HeldObject,
        canceled: Callable[[], bool],
        moving_xy_m: FloatArray | None = None,
        newer_than_s: float | None = None,
    ) -> PlaceChoice:
        request = conversions.place_request_to_msg(
            instruction, held, moving_xy_m, _max_input_age_s(self._clock, newer_than_s)
        )
        response = _call(self._client, request, self._timeout_s, canceled)
        self.last_releases = list(response.releases)
        self.last_reference_msg = response.reference
        try:
            releases = np.stack([conversions.pose_to_matrix(r.pose) for r in response.releases])
            reference = conversions.object_box_from_msg(response.reference)
        except ValueError as error:
            raise TaskError(
                TaskErrorCode.SELECTION_FAILED,
                f"{self._client.srv_name} answered malformed: {error}",
            ) from None
        return PlaceChoice(releases, reference, conversions.place_region_from_msg(response))
