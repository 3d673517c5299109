"""The shipped cell URDF: generated, consistent with the planner's kinematics, the simulator and
the camera extrinsics the perception profile uses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest

from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.kinematics import UR_JOINT_NAMES, forward_kinematics
from a2_grasping.core.perception_config import pose_from_xyz_quat
from a2_grasping.core.robot_description import (
    GRIPPER_CLOSED_RAD,
    GRIPPER_JOINT,
    TCP_LINK,
    MeshSource,
    airo_models_package_dir,
    cell_urdf,
)
from a2_grasping.installation import install_prefix
from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import GRIPPER_JOINT as SIM_GRIPPER_JOINT
from a2_grasping.sim.config import SimConfig
from a2_grasping.tools.write_urdf import camera_mounts

pytestmark = pytest.mark.sim

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALLED_URDF = install_prefix() / "share" / "a2_grasping" / "urdf" / "a2_cell.urdf"


@pytest.fixture(scope="module")
def urdf_model():
    model = pin.buildModelFromXML(INSTALLED_URDF.read_text())
    return model, model.createData()


def _configuration(model: pin.Model, arm_rad, gripper_rad: float = 0.0) -> np.ndarray:
    q = pin.neutral(model)
    for name, value in zip(UR_JOINT_NAMES, arm_rad, strict=True):
        q[model.joints[model.getJointId(name)].idx_q] = value
    for name in (GRIPPER_JOINT, "robotiq_85_right_knuckle_joint"):
        q[model.joints[model.getJointId(name)].idx_q] = gripper_rad
    return q


def _frame(model, data, name: str) -> np.ndarray:
    return data.oMf[model.getFrameId(name)].homogeneous


def test_shipped_urdf_is_the_generators_output_for_the_sim_profile():
    expected = cell_urdf(cameras=camera_mounts(REPO_ROOT / "config" / "perception_node.yaml"))
    assert (REPO_ROOT / "urdf" / "a2_cell.urdf").read_text() == expected, (
        "regenerate: python -m a2_grasping.tools.write_urdf"
    )
    assert INSTALLED_URDF.read_text() == expected


def test_urdf_joints_are_the_drivers_names_and_limits(urdf_model):
    model, _ = urdf_model
    assert [n for n in model.names[1:] if n in UR_JOINT_NAMES] == list(UR_JOINT_NAMES)
    assert GRIPPER_JOINT == SIM_GRIPPER_JOINT
    elbow = model.joints[model.getJointId("elbow_joint")].idx_q
    assert model.upperPositionLimit[elbow] == pytest.approx(math.pi)
    gripper = model.joints[model.getJointId(GRIPPER_JOINT)].idx_q
    assert model.upperPositionLimit[gripper] == pytest.approx(GRIPPER_CLOSED_RAD)


def test_tool0_and_tcp_agree_with_the_planner_and_the_simulator_within_1_mm(urdf_model):
    model, data = urdf_model
    gripper = GripperGeometry()
    cell = SimCell(SimConfig(seed=0))
    try:
        rng = np.random.default_rng(7)
        worst_m = 0.0
        for _ in range(25):
            arm = rng.uniform(-math.pi, math.pi, 6)
            pin.framesForwardKinematics(model, data, _configuration(model, arm))
            tool0 = _frame(model, data, "tool0")
            np.testing.assert_allclose(tool0, forward_kinematics(arm), atol=1e-6)
            np.testing.assert_allclose(
                _frame(model, data, TCP_LINK), tool0 @ gripper.tool0_from_tcp(), atol=1e-6
            )
            cell.set_arm_positions(arm)
            sim_tool0 = cell.base_from_tool0()
            worst_m = max(worst_m, float(np.linalg.norm(sim_tool0[:3, 3] - tool0[:3, 3])))
            np.testing.assert_allclose(sim_tool0[:3, :3], tool0[:3, :3], atol=1e-3)
        assert worst_m < 1e-3
    finally:
        cell.close()


def test_camera_optical_frames_are_the_perception_profiles_extrinsics(urdf_model):
    model, data = urdf_model
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    mounts = camera_mounts(REPO_ROOT / "config" / "perception_node.yaml")
    assert [m.name for m in mounts] == ["front_left", "front_right"]
    for mount in mounts:
        expected = pose_from_xyz_quat(mount.base_from_optical, mount.name)
        actual = _frame(model, data, f"{mount.name}_color_optical_frame")
        np.testing.assert_allclose(actual, expected, atol=1e-6)
        # the camera body frame looks along the optical axis (x forward)
        body = _frame(model, data, f"{mount.name}_link")
        np.testing.assert_allclose(body[:3, 0], expected[:3, 2], atol=1e-6)


def test_finger_boxes_match_the_gripper_geometry_open_and_meet_when_closed():
    gripper = GripperGeometry()
    urdf = cell_urdf(gripper, mesh_source=MeshSource.AIRO_MODELS)
    model = pin.buildModelFromXML(urdf)
    geometry = pin.buildGeomFromUrdfString(
        model, urdf, pin.GeometryType.COLLISION, package_dirs=[str(airo_models_package_dir())]
    )
    data, geometry_data = model.createData(), None
    boxes = gripper.collision_boxes()
    tcp_from_tool0 = gripper.tcp_from_tool0()

    def inner_face_y(gripper_rad: float) -> dict[str, float]:
        q = _configuration(model, np.zeros(6), gripper_rad)
        pin.framesForwardKinematics(model, data, q)
        nonlocal geometry_data
        geometry_data = pin.GeometryData(geometry)
        pin.updateGeometryPlacements(model, data, geometry, geometry_data)
        tcp_from_base = tcp_from_tool0 @ np.linalg.inv(_frame(model, data, "tool0"))
        faces = {}
        for index, obj in enumerate(geometry.geometryObjects):
            if "finger" not in obj.name:
                continue
            placement = tcp_from_base @ geometry_data.oMg[index].homogeneous
            half = np.asarray(obj.geometry.halfSide)
            # the box's fingertip-end corner on the inner side, in the TCP frame
            side = -np.sign(placement[1, 3])
            tip = placement @ np.array([0.0, side * half[1], half[2], 1.0])
            faces[obj.name] = float(tip[1])
            if gripper_rad == 0.0:
                lower, upper = boxes.lower_m, boxes.upper_m
                row = 0 if placement[1, 3] > 0 else 1
                np.testing.assert_allclose(
                    placement[:3, 3], (lower[row] + upper[row]) / 2, atol=1e-9
                )
        return faces

    open_faces = inner_face_y(0.0)
    assert sorted(abs(v) for v in open_faces.values()) == pytest.approx(
        [gripper.max_width_m / 2] * 2
    )
    closed_faces = inner_face_y(GRIPPER_CLOSED_RAD)
    assert all(abs(v) < 0.006 for v in closed_faces.values()), closed_faces
