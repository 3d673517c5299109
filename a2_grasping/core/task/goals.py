"""Checks of goal fields that could move the robot wrongly, run before anything moves."""

from __future__ import annotations

import math

from a2_grasping.core.errors import SelectionError
from a2_grasping.core.selection.place_regions import split_pick_and_place
from a2_grasping.core.task.codes import TaskError, TaskErrorCode

# A candidate stamped further ahead of the executor's clock than this is from another clock.
MAX_FUTURE_STAMP_S = 0.5
# A grasp reaching deeper past the first surface than this is not a grasp of the 2F-85's pads.
MAX_APPROACH_DEPTH_M = 0.1


def check_candidate(
    *,
    width_m: float,
    approach_depth_m: float,
    stamp_s: float,
    now_s: float,
    max_age_s: float,
    max_width_m: float,
) -> None:
    """Refuse an explicit grasp candidate whose fields are out of range, naming the field.

    Raises:
        TaskError: INVALID_GOAL (width, approach depth) or STALE_STATE (stamp too old or in the
            future: the scene it was computed on may no longer be the scene on the table).
    """
    if not math.isfinite(width_m) or not 0.0 < width_m <= max_width_m:
        raise TaskError(
            TaskErrorCode.INVALID_GOAL,
            f"candidate.width_m={width_m} must be finite and in (0, {max_width_m}] m "
            "(the gripper's stroke)",
        )
    if not math.isfinite(approach_depth_m) or not 0.0 <= approach_depth_m <= MAX_APPROACH_DEPTH_M:
        raise TaskError(
            TaskErrorCode.INVALID_GOAL,
            f"candidate.approach_depth_m={approach_depth_m} must be finite and in "
            f"[0, {MAX_APPROACH_DEPTH_M}] m",
        )
    age_s = now_s - stamp_s
    if not math.isfinite(age_s) or age_s > max_age_s:
        raise TaskError(
            TaskErrorCode.STALE_STATE,
            f"candidate.pose.header.stamp is {age_s:.1f} s old; at most {max_age_s} s is "
            "accepted (the scene it was computed on may have changed)",
        )
    if age_s < -MAX_FUTURE_STAMP_S:
        raise TaskError(
            TaskErrorCode.STALE_STATE,
            f"candidate.pose.header.stamp is {-age_s:.1f} s in the future of the executor's "
            "clock; check clock synchronisation and use_sim_time",
        )


def velocity_scaling(value: float, *, default: float, maximum: float) -> float:
    """A goal's velocity_scaling: 0 means the configured default; capped at the maximum.

    Raises:
        TaskError: INVALID_GOAL outside [0, 1] or not finite.
    """
    if not math.isfinite(value) or value < 0.0 or value > 1.0:
        raise TaskError(
            TaskErrorCode.INVALID_GOAL, f"velocity_scaling must be in [0, 1], got {value}"
        )
    if value == 0.0:
        value = default
    return min(value, maximum)


def pick_and_place_texts(
    instruction: str, pick_instruction: str, place_instruction: str
) -> tuple[str, str]:
    """(pick text, place text) from one sentence, or from the two fields when it is empty.

    Raises:
        TaskError: INVALID_GOAL when the sentence does not split, or a field is missing.
    """
    if instruction.strip():
        try:
            return split_pick_and_place(instruction)
        except SelectionError as error:
            raise TaskError(TaskErrorCode.INVALID_GOAL, error.message) from None
    if not pick_instruction.strip() or not place_instruction.strip():
        raise TaskError(
            TaskErrorCode.INVALID_GOAL,
            "give instruction (one sentence) or both pick_instruction and place_instruction",
        )
    return pick_instruction, place_instruction
