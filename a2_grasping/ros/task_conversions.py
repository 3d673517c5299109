"""The executor's actions at the message boundary: Pick, Place and PickAndPlace goals into the
runner's requests (every field checked before anything moves), the runner's reports into results;
and on the client side, the answers read into the behaviour-tree client's results.

Beside `conversions.py` (sensor, geometry and selection messages), which it builds on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geometry_msgs.msg import PoseStamped

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.core.task.codes import TaskError, TaskErrorCode
from a2_grasping.core.task.goals import check_candidate
from a2_grasping.core.task.placing import HeldRecord
from a2_grasping.core.task.ports import Choice, Observation
from a2_grasping.core.task.runner import PickRequest, PlaceGoal, TaskReport
from a2_grasping.msg import GraspCandidate, GraspTarget
from a2_grasping.ros import conversions
from a2_grasping.ros.client.results import Outcome, PickResult, PlaceResult, SelectResult
from a2_grasping.srv import SelectGrasp


def pick_request_from_goal(
    goal: Pick.Goal,
    *,
    velocity_scaling: float,
    scene: Observation | None,
    now_s: float,
    max_age_s: float,
    max_width_m: float,
) -> tuple[PickRequest, list[GraspCandidate]]:
    """The runner's request and the explicit candidate (if any) a Pick goal carries.

    An explicit candidate is checked against the newest scene (`scene`; its frame) and the
    gripper (`max_width_m`). Raises TaskError INVALID_GOAL / STALE_STATE naming the field.
    """
    if not goal.use_candidate:
        if not goal.instruction.strip():
            raise TaskError(
                TaskErrorCode.INVALID_GOAL, "instruction is empty (and use_candidate false)"
            )
        return PickRequest(goal.instruction, None, goal.dry_run, velocity_scaling), []
    candidate = goal.candidate
    try:
        pose = conversions.pose_to_matrix(candidate.pose.pose)
        target = conversions.object_box_from_msg(goal.target)
    except ValueError as error:
        raise TaskError(TaskErrorCode.INVALID_GOAL, f"candidate or target: {error}") from None
    if scene is None:
        raise TaskError(
            TaskErrorCode.STALE_STATE,
            "no scene received yet: the candidate's frame cannot be checked against the scene's",
        )
    if candidate.pose.header.frame_id != scene.frame_id:
        raise TaskError(
            TaskErrorCode.INVALID_GOAL,
            f"candidate pose is in '{candidate.pose.header.frame_id}', expected '{scene.frame_id}'",
        )
    check_candidate(
        width_m=candidate.width_m,
        approach_depth_m=candidate.approach_depth_m,
        stamp_s=conversions.time_to_seconds(candidate.pose.header.stamp),
        now_s=now_s,
        max_age_s=max_age_s,
        max_width_m=max_width_m,
    )
    choice = Choice(pose[None], target)
    return PickRequest(goal.instruction, choice, goal.dry_run, velocity_scaling), [candidate]


def place_goal_from_msg(goal: Place.Goal, *, velocity_scaling: float) -> PlaceGoal:
    """The runner's place goal; the held object (if given) with the grasp it is held by."""
    if not goal.instruction.strip():
        raise TaskError(TaskErrorCode.INVALID_GOAL, "instruction is empty: say where to place")
    held = None
    if goal.held_object.description.strip():
        try:
            target = conversions.object_box_from_msg(goal.held_object)
            grasp = conversions.pose_to_matrix(goal.grasp_pose.pose)
        except ValueError as error:
            raise TaskError(
                TaskErrorCode.INVALID_GOAL, f"held_object or grasp_pose: {error}"
            ) from None
        assert target is not None  # a description names an object
        held = HeldRecord(target, grasp)
    return PlaceGoal(goal.instruction, held, goal.dry_run, velocity_scaling)


# (code, message, select error code): how a task ended.
Codes = tuple[int, str, int]


def _fill_grasp(
    result: Pick.Result | PickAndPlace.Result,
    report: TaskReport,
    candidates: Sequence[GraspCandidate],
    target: GraspTarget,
) -> None:
    """The executed grasp (the candidate the report names), the target and its verification."""
    if 0 <= report.chosen_index < len(candidates):
        result.executed_grasp = candidates[report.chosen_index]
    result.target = target
    result.target_verified = report.target_verified


def _fill_place(
    result: Place.Result | PickAndPlace.Result,
    report: TaskReport,
    releases: Sequence[PoseStamped],
    reference: GraspTarget,
) -> None:
    """The executed release pose, the reference object, and where the object came to rest."""
    if 0 <= report.release_index < len(releases):
        result.executed_release = releases[report.release_index]
    result.reference = reference
    result.released = report.released
    result.placement_verified = report.placement_verified
    if report.placed_at_m is not None:
        result.placed_at_m.x, result.placed_at_m.y, result.placed_at_m.z = (
            float(v) for v in report.placed_at_m
        )


def pick_result_msg(
    codes: Codes,
    report: TaskReport,
    candidates: Sequence[GraspCandidate],
    target: GraspTarget,
) -> Pick.Result:
    result = Pick.Result()
    result.error_code, result.error_message, result.select_error_code = codes
    _fill_grasp(result, report, candidates, target)
    result.object_held = report.object_held
    result.gripper_width_m = report.gripper_width_m
    result.grasp_attempts = report.grasp_attempts
    return result


def place_result_msg(
    codes: Codes,
    report: TaskReport,
    releases: Sequence[PoseStamped],
    reference: GraspTarget,
) -> Place.Result:
    result = Place.Result()
    result.error_code, result.error_message, result.select_error_code = codes
    _fill_place(result, report, releases, reference)
    return result


def pick_and_place_result_msg(
    codes: Codes,
    texts: tuple[str, str],
    report: TaskReport,
    grasp: tuple[Sequence[GraspCandidate], GraspTarget],
    place: tuple[Sequence[PoseStamped], GraspTarget],
) -> PickAndPlace.Result:
    """`texts`: (pick, place) instruction as split; `grasp`: (candidates, target) of the pick;
    `place`: (releases, reference) of the place."""
    result = PickAndPlace.Result()
    result.error_code, result.error_message, result.select_error_code = codes
    result.pick_instruction, result.place_instruction = texts
    _fill_grasp(result, report, *grasp)
    _fill_place(result, report, *place)
    return result


def feedback_msg(task: str, stage: str, progress: float, attempt: int = 0) -> Any:
    """The Feedback of the action running `task` ("pick", "place", "pick and place"); Pick's
    also carries the grasp attempt."""
    if task == "pick":
        return Pick.Feedback(stage=stage, progress=progress, attempt=attempt)
    if task == "place":
        return Place.Feedback(stage=stage, progress=progress)
    return PickAndPlace.Feedback(stage=stage, progress=progress)


# ---- the client side: goals built from the caller's values, answers read into results ----


def pick_goal_msg(
    instruction: str,
    candidate: GraspCandidate | None,
    target: GraspTarget | None,
    *,
    dry_run: bool,
    velocity_scaling: float,
) -> Pick.Goal:
    """An instruction goal, or an explicit candidate with the target it was selected for."""
    goal = Pick.Goal(
        instruction=instruction,
        use_candidate=candidate is not None,
        dry_run=dry_run,
        velocity_scaling=float(velocity_scaling),
    )
    if candidate is not None:
        goal.candidate = candidate
        if target is not None:
            goal.target = target
    return goal


def place_goal_msg(
    instruction: str,
    held_object: GraspTarget | None,
    grasp_pose: PoseStamped | None,
    *,
    dry_run: bool,
    velocity_scaling: float,
) -> Place.Goal:
    """The held object counts only with the grasp it is held by; otherwise the executor uses
    what it remembers from its own last pick."""
    goal = Place.Goal(
        instruction=instruction, dry_run=dry_run, velocity_scaling=float(velocity_scaling)
    )
    if held_object is not None and grasp_pose is not None:
        goal.held_object, goal.grasp_pose = held_object, grasp_pose
    return goal


def pick_and_place_goal_msg(
    instruction: str,
    pick_instruction: str,
    place_instruction: str,
    *,
    dry_run: bool,
    velocity_scaling: float,
) -> PickAndPlace.Goal:
    return PickAndPlace.Goal(
        instruction=instruction,
        pick_instruction=pick_instruction,
        place_instruction=place_instruction,
        dry_run=dry_run,
        velocity_scaling=float(velocity_scaling),
    )


def _outcome(code: int, name: str, message: str) -> tuple[Outcome, str]:
    if code == 0:
        return Outcome.SUCCEEDED, ""
    if name == "CANCELED":
        return Outcome.CANCELED, f"CANCELED: {message}"
    return Outcome.FAILED, f"{name}: {message}"


def _select_error_name(code: int) -> str:
    """The refusing service's code name, when a task failed because a selection was refused."""
    return conversions.code_name(SelectGrasp.Response, code) if code else ""


def _target_or_none(target: GraspTarget) -> GraspTarget | None:
    return target if target.description else None


def select_result_from_response(response: SelectGrasp.Response, elapsed_s: float) -> SelectResult:
    """SUCCEEDED only for NONE with a selected_index that indexes the candidates."""
    code = int(response.error_code)
    name = conversions.code_name(SelectGrasp.Response, code)
    outcome, message = Outcome.FAILED, f"{name}: {response.error_message}"
    if code == SelectGrasp.Response.NONE:
        if 0 <= response.selected_index < len(response.candidates):
            outcome, message = Outcome.SUCCEEDED, ""
        else:
            message = (
                f"NONE but selected_index {response.selected_index} does not index the "
                f"{len(response.candidates)} candidates (server breaks the contract)"
            )
    return SelectResult(
        outcome,
        message,
        error_code=code,
        error_name=name,
        candidates=tuple(response.candidates),
        selected_index=int(response.selected_index),
        mode=response.mode,
        target=_target_or_none(response.target),
        scene_stamp_s=conversions.time_to_seconds(response.scene_stamp),
        scene_age_s=float(response.scene_age_s),
        elapsed_s=elapsed_s,
    )


def pick_result_from_msg(
    result: Pick.Result, *, stages: tuple[str, ...], dry_run: bool, elapsed_s: float
) -> PickResult:
    code = int(result.error_code)
    name = conversions.code_name(Pick.Result, code)
    outcome, message = _outcome(code, name, result.error_message)
    grasp: GraspCandidate = result.executed_grasp
    return PickResult(
        outcome,
        message,
        error_code=code,
        error_name=name,
        select_error_name=_select_error_name(int(result.select_error_code)),
        object_held=bool(result.object_held),
        gripper_width_m=float(result.gripper_width_m),
        executed_grasp=grasp if grasp.pose.header.frame_id else None,
        target=_target_or_none(result.target),
        target_verified=bool(result.target_verified),
        stages=stages,
        dry_run=dry_run,
        elapsed_s=elapsed_s,
    )


def place_result_from_msg(
    result: Place.Result | PickAndPlace.Result,
    *,
    stages: tuple[str, ...],
    dry_run: bool,
    elapsed_s: float,
) -> PlaceResult:
    """A Place or PickAndPlace result; the picked target only where the action has one."""
    code = int(result.error_code)
    name = conversions.code_name(type(result), code)
    outcome, message = _outcome(code, name, result.error_message)
    picked = isinstance(result, PickAndPlace.Result)
    return PlaceResult(
        outcome,
        message,
        error_code=code,
        error_name=name,
        select_error_name=_select_error_name(int(result.select_error_code)),
        released=bool(result.released),
        placement_verified=bool(result.placement_verified),
        placed_at_m=(result.placed_at_m.x, result.placed_at_m.y, result.placed_at_m.z),
        reference=_target_or_none(result.reference),
        target=_target_or_none(result.target) if picked else None,
        target_verified=bool(result.target_verified) if picked else False,
        stages=stages,
        dry_run=dry_run,
        elapsed_s=elapsed_s,
    )
