"""Validation of a grasp-selection request and of the scene it would run on.

Both checks run before any model is touched, so a bad request or an old scene costs microseconds
and is refused with a code that tells the caller what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from a2_grasping.core.errors import SelectErrorCode, SelectionError

MAX_INSTRUCTION_CHARS = 512


@dataclass(frozen=True)
class SelectRequest:
    """A request with the server's defaults applied; every field is valid."""

    instruction: str
    camera_names: tuple[str, ...]
    max_candidates: int
    max_input_age_s: float


def validate_request(
    instruction: str,
    camera_names: Sequence[str],
    max_candidates: int,
    max_input_age_s: float,
    *,
    default_max_candidates: int,
    default_max_input_age_s: float,
) -> SelectRequest:
    """Check the request fields; 0 in a numeric field selects the server default.

    Raises:
        SelectionError: INVALID_REQUEST, naming the field and the value.
    """
    text = instruction.strip()
    if not text:
        raise _invalid("instruction is empty; say what to grasp, e.g. 'the red mug'")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise _invalid(
            f"instruction has {len(text)} characters; at most {MAX_INSTRUCTION_CHARS} are accepted"
        )
    if not text.isprintable():
        raise _invalid("instruction contains control characters")
    names = tuple(camera_names)
    if any(not name.strip() for name in names):
        raise _invalid("camera_names contains an empty name")
    if len(set(names)) != len(names):
        raise _invalid(f"camera_names has duplicates: {list(names)}")
    if max_candidates < 0:
        raise _invalid(f"max_candidates={max_candidates} is negative")
    if not math.isfinite(max_input_age_s) or max_input_age_s < 0.0:
        raise _invalid(f"max_input_age_s={max_input_age_s} must be a finite number >= 0")
    return SelectRequest(
        instruction=text,
        camera_names=names,
        max_candidates=max_candidates or default_max_candidates,
        max_input_age_s=max_input_age_s or default_max_input_age_s,
    )


def check_scene_age(
    scene_stamp_s: float | None,
    now_s: float,
    max_age_s: float,
    *,
    max_future_s: float,
) -> float:
    """Return the scene's age in seconds, or refuse a missing, stale or future scene.

    A stamp ahead of the server clock by more than `max_future_s` means unsynchronised clocks or a
    replayed bag without sim time; acting on it would hide real staleness, so it is refused too.

    Raises:
        SelectionError: NO_SCENE or STALE_SCENE.
    """
    if scene_stamp_s is None:
        raise SelectionError(
            SelectErrorCode.NO_SCENE,
            "no scene received yet; is perception_node running and publishing the scene topic?",
        )
    age_s = now_s - scene_stamp_s
    if age_s < -max_future_s:
        raise SelectionError(
            SelectErrorCode.STALE_SCENE,
            f"scene stamp is {-age_s:.3f} s in the future of this node's clock; "
            "check clock synchronisation and use_sim_time",
        )
    if age_s > max_age_s:
        raise SelectionError(
            SelectErrorCode.STALE_SCENE,
            f"newest scene is {age_s:.3f} s old; at most {max_age_s:.3f} s is accepted",
        )
    return max(age_s, 0.0)


def _invalid(message: str) -> SelectionError:
    return SelectionError(SelectErrorCode.INVALID_REQUEST, message)
