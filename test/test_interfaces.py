"""The v1 interface contract: constants, field types, and a comment on every field."""

from __future__ import annotations

from pathlib import Path

import pytest

from a2_grasping.action import Pick
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.task.codes import TaskErrorCode
from a2_grasping.msg import GraspCandidate, SceneSnapshot
from a2_grasping.srv import SelectGrasp

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = sorted(
    p for kind in ("msg", "srv", "action") for p in (REPO_ROOT / kind).iterdir() if p.is_file()
)


def _constants(message_type: type) -> dict[str, int]:
    """The integer constants a generated message class defines (SLOT_TYPES is not one)."""
    return {
        name: value
        for name in dir(message_type)
        if name.isupper()
        and not name.startswith("_")
        and isinstance(value := getattr(message_type, name), int)
    }


def test_core_error_codes_mirror_the_service_constants():
    for code in SelectErrorCode:
        assert getattr(SelectGrasp.Response, code.name) == code.value, code.name
    assert _constants(SelectGrasp.Response) == {code.name: code.value for code in SelectErrorCode}


def test_pick_result_codes_mirror_the_core_task_codes():
    codes = _constants(Pick.Result)
    assert len(codes) == 12 and sorted(codes.values()) == list(range(12))
    assert codes["NONE"] == 0
    for name, value in codes.items():
        assert TaskErrorCode[name] == value, name


def test_field_types():
    fields = SelectGrasp.Response.get_fields_and_field_types()
    assert fields["candidates"] == "sequence<a2_grasping/GraspCandidate>"
    assert fields["scene_stamp"] == "builtin_interfaces/Time"
    assert GraspCandidate.get_fields_and_field_types()["pose"] == "geometry_msgs/PoseStamped"
    scene = SceneSnapshot.get_fields_and_field_types()
    assert scene["points"] == "sensor_msgs/PointCloud2"
    assert scene["workspace_box_m"] == "double[6]"
    for per_camera in ("color_images", "depth_images", "camera_infos", "base_from_camera"):
        assert scene[per_camera].startswith("sequence<"), per_camera
    assert Pick.Goal.get_fields_and_field_types()["velocity_scaling"] == "double"


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_field_is_documented(path):
    """Each field line has a comment on it or directly above it (units and frames live there)."""
    previous_is_comment = False
    undocumented = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "---":
            previous_is_comment = False
            continue
        if line.startswith("#"):
            previous_is_comment = True
            continue
        if "#" not in line and not previous_is_comment:
            # Consecutive fields may share one comment block (error_code / error_message).
            undocumented.append(line)
        previous_is_comment = previous_is_comment and "#" not in line
    assert not undocumented, f"{path.name}: undocumented fields {undocumented}"
