"""The cell's URDF: UR5e + Robotiq 2F-85 + camera mounts, generated from the numbers we own.

One generator serves both users of the description, so they cannot drift apart:
- `urdf/a2_cell.urdf` (written by `python -m a2_grasping.tools.write_urdf`, a test keeps it equal
  to the generator's output) is what robot_state_publisher, RViz and MoveIt read on a ROS
  install. Its arm meshes are `package://ur_description/...` (UR's own description package).
- The embedded planner builds its model from the same generator in memory, with the arm meshes
  of the `airo-models` wheel (`package://airo_models/...`), because ur_description is not
  installable here. Both mesh sets sit at the same origins in the link frames.

The arm's joint origins are the published UR5e kinematics in the ur_description convention
(`base_link` is UR's controller `base` turned π about z; see core/kinematics.py). The gripper is
a simplified 2F-85: the palm and finger boxes of `GripperGeometry` (the boxes grasp generation and
the planner check), the knuckle joint named as the Robotiq ros2_control driver names it, and a
`grasp_tcp` frame at the TCP. Camera mounts follow the RealSense driver's frame names:
`<camera>_link` (x forward, z up) and `<camera>_color_optical_frame` (z forward, x right).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.kinematics import JOINT_LOWER_RAD, JOINT_UPPER_RAD, UR_JOINT_NAMES
from a2_grasping.core.perception_config import pose_from_xyz_quat

ROBOT_NAME = "a2_cell"
BASE_FRAME = "base_link"
GRIPPER_LINK_PREFIX = "robotiq_85_"  # every gripper link is named so
GRIPPER_BASE_LINK = GRIPPER_LINK_PREFIX + "base_link"
GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
GRIPPER_MIMIC_JOINT = "robotiq_85_right_knuckle_joint"
GRIPPER_CLOSED_RAD = 0.8
TCP_LINK = "grasp_tcp"
# UR5e data sheet: every joint 180 deg/s; torques 150 N m (size 3) and 28 N m (size 1).
_UR5E_VELOCITY_RAD_S = math.pi
_UR5E_EFFORT_NM = (150.0, 150.0, 150.0, 28.0, 28.0, 28.0)
# Distance of each 2F-85 knuckle pivot from the centre, along the closing axis (m): rotating a
# finger by 0.8 rad about it brings the fingertips together.
_KNUCKLE_OFFSET_M = 0.0306
# link <- optical frame of a camera: z forward, x right, y down (REP 103 optical convention).
_LINK_FROM_OPTICAL_RPY = (-math.pi / 2, 0.0, -math.pi / 2)


class MeshSource(Enum):
    """Where the arm's meshes are resolved: UR's ROS package, or the airo-models wheel here."""

    UR_DESCRIPTION = "ur_description"
    AIRO_MODELS = "airo_models"

    def mesh(self, kind: str, name: str) -> str:
        if self is MeshSource.UR_DESCRIPTION:
            extension = "dae" if kind == "visual" else "stl"
            return f"package://ur_description/meshes/ur5e/{kind}/{name}.{extension}"
        return f"package://airo_models/arms/ur5e/{kind}/{name}.obj"


@dataclass(frozen=True)
class CameraMount:
    """A camera's colour optical frame in the base frame: [x, y, z, qx, qy, qz, qw]."""

    name: str
    base_from_optical: tuple[float, ...]


_Vec3 = tuple[float, float, float]
# (joint, parent, child, xyz, rpy): the UR5e chain as ur_description lays it out.
_ARM_JOINTS: tuple[tuple[str, str, str, _Vec3, _Vec3], ...] = (
    ("shoulder_pan_joint", "base_link_inertia", "shoulder_link", (0, 0, 0.1625), (0, 0, 0)),
    ("shoulder_lift_joint", "shoulder_link", "upper_arm_link", (0, 0, 0), (math.pi / 2, 0, 0)),
    ("elbow_joint", "upper_arm_link", "forearm_link", (-0.425, 0, 0), (0, 0, 0)),
    ("wrist_1_joint", "forearm_link", "wrist_1_link", (-0.3922, 0, 0.1333), (0, 0, 0)),
    ("wrist_2_joint", "wrist_1_link", "wrist_2_link", (0, -0.0997, 0), (math.pi / 2, 0, 0)),
    (
        "wrist_3_joint",
        "wrist_2_link",
        "wrist_3_link",
        (0, 0.0996, 0),
        (math.pi / 2, math.pi, math.pi),
    ),
)
# (link, mesh name, xyz, rpy): where UR's meshes sit in each link frame.
_ARM_MESHES: tuple[tuple[str, str, _Vec3, _Vec3], ...] = (
    ("base_link_inertia", "base", (0, 0, 0), (0, 0, math.pi)),
    ("shoulder_link", "shoulder", (0, 0, 0), (0, 0, math.pi)),
    ("upper_arm_link", "upperarm", (0, 0, 0.138), (math.pi / 2, 0, -math.pi / 2)),
    ("forearm_link", "forearm", (0, 0, 0.007), (math.pi / 2, 0, -math.pi / 2)),
    ("wrist_1_link", "wrist1", (0, 0, -0.127), (math.pi / 2, 0, 0)),
    ("wrist_2_link", "wrist2", (0, 0, -0.0997), (0, 0, 0)),
    ("wrist_3_link", "wrist3", (0, 0, -0.0989), (math.pi / 2, 0, 0)),
)
# (joint, parent, child, rpy): fixed frames of ur_description.
_ARM_FIXED: tuple[tuple[str, str, str, _Vec3], ...] = (
    ("base_link-base_link_inertia", BASE_FRAME, "base_link_inertia", (0, 0, math.pi)),
    ("base_link-base_fixed_joint", BASE_FRAME, "base", (0, 0, math.pi)),
    ("wrist_3-flange", "wrist_3_link", "flange", (0, -math.pi / 2, -math.pi / 2)),
    ("flange-tool0", "flange", "tool0", (math.pi / 2, 0, math.pi / 2)),
)


def cell_urdf(
    gripper: GripperGeometry | None = None,
    cameras: Sequence[CameraMount] = (),
    mesh_source: MeshSource = MeshSource.UR_DESCRIPTION,
) -> str:
    """The URDF text of the cell."""
    gripper = gripper or GripperGeometry()
    robot = ET.Element("robot", name=ROBOT_NAME)
    robot.append(ET.Comment(" Generated by a2_grasping.core.robot_description; do not edit. "))
    _link(robot, BASE_FRAME)
    for name in ("base", "flange", "tool0"):
        _link(robot, name)
    meshes = {link: (mesh, xyz, rpy) for link, mesh, xyz, rpy in _ARM_MESHES}
    for link, (mesh, xyz, rpy) in meshes.items():
        element = _link(robot, link)
        for kind in ("visual", "collision"):
            _mesh(element, kind, mesh_source.mesh(kind, mesh), xyz, rpy)
    for name, parent, child, rpy in _ARM_FIXED:
        _joint(robot, name, "fixed", parent, child, rpy=rpy)
    for index, (name, parent, child, xyz, rpy) in enumerate(_ARM_JOINTS):
        assert name == UR_JOINT_NAMES[index]
        joint = _joint(robot, name, "revolute", parent, child, xyz=xyz, rpy=rpy, axis=(0, 0, 1))
        ET.SubElement(
            joint,
            "limit",
            lower=_num(JOINT_LOWER_RAD[index]),
            upper=_num(JOINT_UPPER_RAD[index]),
            velocity=_num(_UR5E_VELOCITY_RAD_S),
            effort=_num(_UR5E_EFFORT_NM[index]),
        )
    _add_gripper(robot, gripper)
    for camera in cameras:
        _add_camera(robot, camera)
    ET.indent(robot, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"


def _add_gripper(robot: ET.Element, gripper: GripperGeometry) -> None:
    """Gripper base = tool0 turned to the TCP axes (z approach, y closing)."""
    tcp_rpy = _rpy(gripper.tool0_from_tcp()[:3, :3])
    offset_m = gripper.tool0_to_tcp_m  # TCP-frame z -> gripper-base z
    boxes = gripper.collision_boxes()
    palm = _link(robot, GRIPPER_BASE_LINK)
    palm_index = boxes.names.index("palm")
    _box(palm, boxes.lower_m[palm_index], boxes.upper_m[palm_index], offset_m)
    _joint(robot, "tool0-robotiq_85_base", "fixed", "tool0", GRIPPER_BASE_LINK, rpy=tcp_rpy)
    _link(robot, TCP_LINK)
    _joint(
        robot,
        "robotiq_85_base-grasp_tcp",
        "fixed",
        GRIPPER_BASE_LINK,
        TCP_LINK,
        xyz=(0, 0, offset_m),
    )
    pivot_z_m = gripper.palm_face_z_m + offset_m
    for side, sign, joint_name in (
        ("left", 1.0, GRIPPER_JOINT),
        ("right", -1.0, GRIPPER_MIMIC_JOINT),
    ):
        finger_name = "finger_pos_y" if sign > 0 else "finger_neg_y"
        index = boxes.names.index(finger_name)
        pivot = np.array([0.0, sign * _KNUCKLE_OFFSET_M, pivot_z_m])
        finger = _link(robot, f"robotiq_85_{side}_finger_link")
        # finger box relative to its pivot, at the fully open position (joint = 0)
        _box(
            finger,
            boxes.lower_m[index] - pivot + [0, 0, offset_m],
            boxes.upper_m[index] - pivot + [0, 0, offset_m],
            0.0,
        )
        joint = _joint(
            robot,
            joint_name,
            "revolute",
            GRIPPER_BASE_LINK,
            finger.get("name", ""),
            xyz=tuple(pivot),
            axis=(sign, 0, 0),
        )
        ET.SubElement(
            joint, "limit", lower="0", upper=_num(GRIPPER_CLOSED_RAD), velocity="2.0", effort="235"
        )
        if joint_name == GRIPPER_MIMIC_JOINT:
            ET.SubElement(joint, "mimic", joint=GRIPPER_JOINT, multiplier="1", offset="0")


def _add_camera(robot: ET.Element, camera: CameraMount) -> None:
    base_from_optical = pose_from_xyz_quat(
        camera.base_from_optical, f"{camera.name}.base_from_optical"
    )
    link_from_optical = np.eye(4)
    link_from_optical[:3, :3] = _matrix(_LINK_FROM_OPTICAL_RPY)
    base_from_link = base_from_optical @ np.linalg.inv(link_from_optical)
    link_name, optical_name = f"{camera.name}_link", f"{camera.name}_color_optical_frame"
    _link(robot, link_name)
    _link(robot, optical_name)
    _joint(
        robot,
        f"{link_name}_mount",
        "fixed",
        BASE_FRAME,
        link_name,
        xyz=tuple(base_from_link[:3, 3]),
        rpy=_rpy(base_from_link[:3, :3]),
    )
    _joint(
        robot,
        f"{optical_name}_joint",
        "fixed",
        link_name,
        optical_name,
        rpy=_LINK_FROM_OPTICAL_RPY,
    )


def _link(robot: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(robot, "link", name=name)


def _joint(
    robot: ET.Element,
    name: str,
    kind: str,
    parent: str,
    child: str,
    *,
    xyz: Sequence[float] = (0.0, 0.0, 0.0),
    rpy: Sequence[float] = (0.0, 0.0, 0.0),
    axis: Sequence[float] | None = None,
) -> ET.Element:
    joint = ET.SubElement(robot, "joint", name=name, type=kind)
    ET.SubElement(joint, "parent", link=parent)
    ET.SubElement(joint, "child", link=child)
    ET.SubElement(joint, "origin", xyz=_vec(xyz), rpy=_vec(rpy))
    if axis is not None:
        ET.SubElement(joint, "axis", xyz=_vec(axis))
    return joint


def _mesh(
    link: ET.Element, kind: str, filename: str, xyz: Sequence[float], rpy: Sequence[float]
) -> None:
    element = ET.SubElement(link, kind)
    ET.SubElement(element, "origin", xyz=_vec(xyz), rpy=_vec(rpy))
    ET.SubElement(ET.SubElement(element, "geometry"), "mesh", filename=filename)


def _box(
    link: ET.Element, lower_m: NDArray[np.float64], upper_m: NDArray[np.float64], z_offset_m: float
) -> None:
    """Visual and collision box spanning lower..upper (link frame after adding z_offset_m)."""
    center = (np.asarray(lower_m) + np.asarray(upper_m)) / 2 + [0.0, 0.0, z_offset_m]
    size = np.asarray(upper_m) - np.asarray(lower_m)
    for kind in ("visual", "collision"):
        element = ET.SubElement(link, kind)
        ET.SubElement(element, "origin", xyz=_vec(center), rpy="0 0 0")
        ET.SubElement(ET.SubElement(element, "geometry"), "box", size=_vec(size))


def _num(value: float) -> str:
    text = f"{float(value):.9g}"
    return "0" if text == "-0" else text


def _vec(values: Sequence[float] | NDArray[np.float64]) -> str:
    return " ".join(_num(v) for v in values)


def _matrix(rpy: Sequence[float]) -> NDArray[np.float64]:
    """URDF rpy: fixed-axis rotations about x, then y, then z."""
    result: NDArray[np.float64] = Rotation.from_euler("xyz", rpy).as_matrix()
    return result


def _rpy(rotation: NDArray[np.float64]) -> tuple[float, float, float]:
    roll, pitch, yaw = Rotation.from_matrix(rotation).as_euler("xyz")
    return float(roll), float(pitch), float(yaw)


def airo_models_package_dir() -> Path:
    """The directory holding the `airo_models` package, for resolving its package:// meshes."""
    import airo_models

    return Path(airo_models.__file__).resolve().parent.parent
