"""py_trees behaviours for grasping: SelectGrasp -> Pick -> ReportPick.

Each behaviour starts its call in initialise() and polls the GraspClient handle in update(), so no
update() waits on the network: the client does the ROS work on its own executor thread (see
a2_grasping.ros.client.grasp_client). A tick therefore costs microseconds to a millisecond
whatever the servers do; the tests measure it.

Blackboard (namespace /a2, shared by all three):
- grasp_candidate: the GraspCandidate SelectGrasp selected (base frame), read by Pick;
- select_result / pick_result: the SelectResult / PickResult of the last call, set on any end;
- pick_report: the summary dict ReportPick builds (pick_report() below), also logged.

Stopping a RUNNING behaviour (terminate(INVALID): a higher-priority branch took over, or the tree
was stopped) cancels its call; for Pick that sends the cancel request that stops the arm.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import py_trees
from py_trees.common import Access, Status

from a2_grasping.msg import GraspCandidate
from a2_grasping.ros import conversions
from a2_grasping.ros.client.grasp_client import GraspClient
from a2_grasping.ros.client.pending import PendingPick, PendingPlace, PendingSelect
from a2_grasping.ros.client.results import Outcome, PickResult, PlaceResult, SelectResult

NAMESPACE = "a2"
CANDIDATE_KEY = "grasp_candidate"
TARGET_KEY = "grasp_target"
SELECT_RESULT_KEY = "select_result"
PICK_RESULT_KEY = "pick_result"
PLACE_RESULT_KEY = "place_result"
REPORT_KEY = "pick_report"

_log = logging.getLogger(__name__)


class SelectGrasp(py_trees.behaviour.Behaviour):
    """Calls /select_grasp; SUCCESS with the selected candidate on the blackboard, FAILURE (with
    the error name and message as feedback_message) on any other end: error code, timeout,
    no server. 0 for max_candidates / max_input_age_s = the server's default."""

    def __init__(
        self,
        name: str,
        client: GraspClient,
        instruction: str,
        *,
        max_candidates: int = 0,
        max_input_age_s: float = 0.0,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(name)
        self._client = client
        self._instruction = instruction
        self._max_candidates = max_candidates
        self._max_input_age_s = max_input_age_s
        self._timeout_s = timeout_s
        self._pending: PendingSelect | None = None
        self.blackboard = self.attach_blackboard_client(namespace=NAMESPACE)
        self.blackboard.register_key(CANDIDATE_KEY, access=Access.WRITE)
        self.blackboard.register_key(TARGET_KEY, access=Access.WRITE)
        self.blackboard.register_key(SELECT_RESULT_KEY, access=Access.WRITE)

    def initialise(self) -> None:
        self._pending = self._client.select(
            self._instruction,
            max_candidates=self._max_candidates,
            max_input_age_s=self._max_input_age_s,
            timeout_s=self._timeout_s,
        )
        self.feedback_message = "selecting"

    def update(self) -> Status:
        if self._pending is None:  # update() without initialise(): not through a tick
            self.feedback_message = "not started"
            return Status.FAILURE
        result = self._pending.result()
        if result is None:
            return Status.RUNNING
        self.blackboard.set(SELECT_RESULT_KEY, result)
        selected = result.selected
        if selected is None:
            self.feedback_message = f"selection {result.outcome.value}: {result.message}"
            return Status.FAILURE
        self.blackboard.set(CANDIDATE_KEY, selected)
        self.blackboard.set(TARGET_KEY, result.target)
        self.feedback_message = (
            f"selected candidate {result.selected_index} of {len(result.candidates)} "
            f"(score {selected.score:.3f}, mode {result.mode})"
        )
        return Status.SUCCESS

    def terminate(self, new_status: Status) -> None:
        if new_status == Status.INVALID and self._pending is not None:
            self._pending.cancel()
        self._pending = None


class Pick(py_trees.behaviour.Behaviour):
    """Runs /pick: RUNNING while the goal runs (feedback_message names the stage), SUCCESS only
    when the result code is NONE and the gripper holds the object (a dry run holds nothing and
    needs only NONE), FAILURE otherwise with the reason as feedback_message.

    instruction None: pick the candidate on the blackboard (from SelectGrasp); a string: the
    executor selects for it itself.
    """

    def __init__(
        self,
        name: str,
        client: GraspClient,
        instruction: str | None = None,
        *,
        dry_run: bool = False,
        velocity_scaling: float = 0.0,
        timeout_s: float = 120.0,
    ) -> None:
        super().__init__(name)
        self._client = client
        self._instruction = instruction
        self._dry_run = dry_run
        self._velocity_scaling = velocity_scaling
        self._timeout_s = timeout_s
        self._pending: PendingPick | None = None
        self.blackboard = self.attach_blackboard_client(namespace=NAMESPACE)
        if instruction is None:
            self.blackboard.register_key(CANDIDATE_KEY, access=Access.READ)
            self.blackboard.register_key(TARGET_KEY, access=Access.READ)
        self.blackboard.register_key(PICK_RESULT_KEY, access=Access.WRITE)

    def initialise(self) -> None:
        self._pending = None
        if self._instruction is None:
            candidate: GraspCandidate | None = _get_or_none(self.blackboard, CANDIDATE_KEY)
            if candidate is None:
                self.feedback_message = f"no candidate at /{NAMESPACE}/{CANDIDATE_KEY}"
                return
            pending = self._client.pick(
                candidate=candidate,
                target=_get_or_none(self.blackboard, TARGET_KEY),
                dry_run=self._dry_run,
                velocity_scaling=self._velocity_scaling,
                timeout_s=self._timeout_s,
            )
        else:
            pending = self._client.pick(
                self._instruction,
                dry_run=self._dry_run,
                velocity_scaling=self._velocity_scaling,
                timeout_s=self._timeout_s,
            )
        self._pending = pending
        self.feedback_message = "goal sent"

    def update(self) -> Status:
        if self._pending is None:  # no candidate (message set in initialise)
            return Status.FAILURE
        result = self._pending.result()
        if result is None:
            self.feedback_message = f"stage: {self._pending.stage or 'waiting for acceptance'}"
            return Status.RUNNING
        self.blackboard.set(PICK_RESULT_KEY, result)
        if result.outcome is not Outcome.SUCCEEDED:
            self.feedback_message = f"pick {result.outcome.value}: {result.message}"
            return Status.FAILURE
        if not (result.object_held or result.dry_run):
            self.feedback_message = "pick reported NONE but the gripper holds nothing"
            return Status.FAILURE
        self.feedback_message = "dry run planned" if result.dry_run else "object held"
        return Status.SUCCESS

    def terminate(self, new_status: Status) -> None:
        if new_status == Status.INVALID and self._pending is not None:
            self._pending.cancel()
        self._pending = None


class PlaceTask(py_trees.behaviour.Behaviour):
    """Runs /place (kind "place": put down what is held) or /pick_and_place (kind
    "pick_and_place": one sentence naming both): RUNNING while the goal runs, SUCCESS only when
    the result code is NONE and the placement was verified (a dry run: NONE), FAILURE otherwise
    with the reason as feedback_message. The result goes to /a2/place_result."""

    def __init__(
        self,
        name: str,
        client: GraspClient,
        instruction: str,
        *,
        kind: str = "place",
        dry_run: bool = False,
        velocity_scaling: float = 0.0,
        timeout_s: float = 180.0,
    ) -> None:
        super().__init__(name)
        if kind not in ("place", "pick_and_place"):
            raise ValueError(f"kind must be 'place' or 'pick_and_place', got {kind!r}")
        self._client = client
        self._instruction = instruction
        self._kind = kind
        self._dry_run = dry_run
        self._velocity_scaling = velocity_scaling
        self._timeout_s = timeout_s
        self._pending: PendingPlace | None = None
        self.blackboard = self.attach_blackboard_client(namespace=NAMESPACE)
        self.blackboard.register_key(PLACE_RESULT_KEY, access=Access.WRITE)

    def initialise(self) -> None:
        start = self._client.place if self._kind == "place" else self._client.pick_and_place
        self._pending = start(
            self._instruction,
            dry_run=self._dry_run,
            velocity_scaling=self._velocity_scaling,
            timeout_s=self._timeout_s,
        )
        self.feedback_message = "goal sent"

    def update(self) -> Status:
        if self._pending is None:  # update() without initialise(): not through a tick
            self.feedback_message = "not started"
            return Status.FAILURE
        result = self._pending.result()
        if result is None:
            self.feedback_message = f"stage: {self._pending.stage or 'waiting for acceptance'}"
            return Status.RUNNING
        self.blackboard.set(PLACE_RESULT_KEY, result)
        if result.outcome is not Outcome.SUCCEEDED:
            self.feedback_message = f"{self._kind} {result.outcome.value}: {result.message}"
            return Status.FAILURE
        if not (result.placement_verified or result.dry_run):
            self.feedback_message = f"{self._kind} reported NONE but no placement was verified"
            return Status.FAILURE
        self.feedback_message = "dry run planned" if result.dry_run else "placed and verified"
        return Status.SUCCESS

    def terminate(self, new_status: Status) -> None:
        if new_status == Status.INVALID and self._pending is not None:
            self._pending.cancel()
        self._pending = None


class NothingLeft(py_trees.behaviour.Behaviour):
    """SUCCESS when the last place task failed only because its selection found nothing that
    fits (TARGET_NOT_FOUND): the end of a "do it for every X" loop. FAILURE otherwise."""

    def __init__(self, name: str = "NothingLeft") -> None:
        super().__init__(name)
        self.blackboard = self.attach_blackboard_client(namespace=NAMESPACE)
        self.blackboard.register_key(PLACE_RESULT_KEY, access=Access.READ)

    def update(self) -> Status:
        result: PlaceResult | None = _get_or_none(self.blackboard, PLACE_RESULT_KEY)
        if result is not None and result.select_error_name == "TARGET_NOT_FOUND":
            self.feedback_message = "nothing fitting is left"
            return Status.SUCCESS
        self.feedback_message = f"stopped: {result.message if result else 'no place result'}"
        return Status.FAILURE


class ReportPick(py_trees.behaviour.Behaviour):
    """Writes pick_report(...) of the blackboard's results to pick_report and logs it; FAILURE
    only when there is no pick result to report."""

    def __init__(self, name: str = "ReportPick", instruction: str = "") -> None:
        super().__init__(name)
        self._instruction = instruction
        self.blackboard = self.attach_blackboard_client(namespace=NAMESPACE)
        self.blackboard.register_key(SELECT_RESULT_KEY, access=Access.READ)
        self.blackboard.register_key(PICK_RESULT_KEY, access=Access.READ)
        self.blackboard.register_key(REPORT_KEY, access=Access.WRITE)

    def update(self) -> Status:
        pick: PickResult | None = _get_or_none(self.blackboard, PICK_RESULT_KEY)
        if pick is None:
            self.feedback_message = f"nothing to report: no /{NAMESPACE}/{PICK_RESULT_KEY}"
            return Status.FAILURE
        select: SelectResult | None = _get_or_none(self.blackboard, SELECT_RESULT_KEY)
        report = pick_report(pick, select, self._instruction)
        self.blackboard.set(REPORT_KEY, report)
        _log.info("pick report: %s", report)
        self.feedback_message = f"reported: {report['outcome']}, held {report['object_held']}"
        return Status.SUCCESS


def pick_report(
    pick: PickResult, select: SelectResult | None = None, instruction: str = ""
) -> dict[str, Any]:
    """A JSON-ready summary of one select/pick round: outcome, codes, stages, the executed grasp
    position in the base frame (m), timings (s)."""
    report: dict[str, Any] = {
        "instruction": instruction,
        "outcome": pick.outcome.value,
        "error_name": pick.error_name,
        "message": pick.message,
        "object_held": pick.object_held,
        "gripper_width_m": round(pick.gripper_width_m, 4),
        "stages": list(pick.stages),
        "dry_run": pick.dry_run,
        "pick_s": round(pick.elapsed_s, 3),
        "grasp_position_m": None,
        "grasp_frame": "",
        "target": pick.target.description if pick.target is not None else "",
        "target_verified": pick.target_verified,
    }
    if pick.executed_grasp is not None:
        try:
            pose = conversions.pose_to_matrix(pick.executed_grasp.pose.pose)
        except ValueError:  # no valid pose was chosen (e.g. selection failed)
            pass
        else:
            report["grasp_position_m"] = np.round(pose[:3, 3], 4).tolist()
            report["grasp_frame"] = pick.executed_grasp.pose.header.frame_id
    if select is not None:
        selected = select.selected
        report["selection"] = {
            "outcome": select.outcome.value,
            "error_name": select.error_name,
            "mode": select.mode,
            "target": select.target.description if select.target is not None else "",
            "candidates": len(select.candidates),
            "selected_index": select.selected_index,
            "score": None if selected is None else round(float(selected.score), 4),
            "scene_age_s": round(select.scene_age_s, 3),
            "select_s": round(select.elapsed_s, 3),
        }
    return report


def _get_or_none(blackboard: py_trees.blackboard.Client, key: str) -> Any:
    try:
        return blackboard.get(key)
    except KeyError:  # never written in this run
        return None
