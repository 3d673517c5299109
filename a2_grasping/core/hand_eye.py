"""A hand-eye calibration result as the static transform TF needs.

Reads the YAML that easy_handeye2 saves (and that is simple to write by hand):

    parameters:
      calibration_type: eye_on_base        # or eye_in_hand
      robot_base_frame: base_link
      robot_effector_frame: tool0          # used for eye_in_hand
      tracking_base_frame: front_color_optical_frame
    transform:
      translation: {x: 0.5, y: -0.4, z: 0.6}
      rotation: {x: 0.0, y: 0.0, z: 0.0, w: 1.0}

eye_on_base: the transform is robot_base_frame -> tracking_base_frame (a camera fixed in the
cell); eye_in_hand: robot_effector_frame -> tracking_base_frame (a wrist camera, moving with the
arm through the robot's own /tf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from a2_grasping.core.perception_config import pose_from_xyz_quat

CALIBRATION_TYPES = {"eye_on_base": "robot_base_frame", "eye_in_hand": "robot_effector_frame"}


@dataclass(frozen=True)
class StaticTransform:
    parent: str
    child: str
    parent_from_child: NDArray[np.float64]  # (4, 4)


def load_hand_eye(path: Path) -> StaticTransform:
    """Raises ValueError naming the file and the missing or invalid entry."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"hand-eye calibration {path}: cannot read it ({error})") from None
    if not isinstance(document, dict):
        raise ValueError(f"hand-eye calibration {path}: expected a mapping at the top level")
    parameters = _mapping(document, "parameters", path)
    kind = parameters.get("calibration_type")
    if kind not in CALIBRATION_TYPES:
        raise ValueError(
            f"hand-eye calibration {path}: parameters.calibration_type must be one of "
            f"{sorted(CALIBRATION_TYPES)}, got {kind!r}"
        )
    parent = _frame(parameters, CALIBRATION_TYPES[kind], path)
    child = _frame(parameters, "tracking_base_frame", path)
    transform = _mapping(document, "transform", path)
    translation = _numbers(_mapping(transform, "translation", path), "xyz", "translation", path)
    rotation = _numbers(_mapping(transform, "rotation", path), "xyzw", "rotation", path)
    try:
        pose = pose_from_xyz_quat((*translation, *rotation), "transform")
    except ValueError as error:
        raise ValueError(f"hand-eye calibration {path}: {error}") from None
    return StaticTransform(parent, child, pose)


def _mapping(document: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"hand-eye calibration {path}: '{key}' is missing or not a mapping")
    return value


def _frame(parameters: dict[str, Any], key: str, path: Path) -> str:
    value = parameters.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"hand-eye calibration {path}: parameters.{key} must name a frame")
    return value.strip()


def _numbers(values: dict[str, Any], axes: str, what: str, path: Path) -> list[float]:
    numbers = []
    for axis in axes:
        value = values.get(axis)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"hand-eye calibration {path}: {what}.{axis} must be a finite number")
        numbers.append(float(value))
    return numbers
