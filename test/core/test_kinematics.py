"""UR5e kinematics: base_link convention, IK round trip, reachability of grasps."""

from __future__ import annotations

import os

import numpy as np
import pinocchio as pin
from airo_models import get_urdf_path

from a2_grasping.core.kinematics import (
    JOINT_LOWER_RAD,
    JOINT_UPPER_RAD,
    UR5eReachability,
    forward_kinematics,
    inverse_kinematics,
)


def test_forward_kinematics_is_in_base_link_like_the_ur5e_urdf():
    urdf = get_urdf_path("ur5e")
    model = pin.buildModelFromUrdf(urdf)
    data = model.createData()
    tool0 = model.getFrameId("tool0")
    rng = np.random.default_rng(0)
    for _ in range(20):
        joints = rng.uniform(-np.pi, np.pi, 6)
        pin.framesForwardKinematics(model, data, joints)
        np.testing.assert_allclose(
            forward_kinematics(joints), data.oMf[tool0].homogeneous, atol=1e-6
        )
    assert os.path.isfile(urdf)


def test_inverse_kinematics_returns_solutions_that_reach_the_pose():
    joints = np.array([0.4, -1.3, 1.5, -1.7, -1.57, 0.3])
    pose = forward_kinematics(joints)
    solutions = inverse_kinematics(pose)
    assert 1 <= len(solutions) <= 8
    assert np.min(np.abs(solutions - joints).sum(axis=1)) < 1e-6
    for solution in solutions:
        np.testing.assert_allclose(forward_kinematics(solution), pose, atol=1e-6)
        assert np.all((solution >= JOINT_LOWER_RAD) & (solution <= JOINT_UPPER_RAD))


def test_reachability_of_top_down_grasps_ends_at_the_arms_reach():
    poses = np.tile(np.eye(4), (40, 1, 1))
    poses[:, :3, :3] = np.diag([1.0, -1.0, -1.0])  # TCP z (approach) pointing down
    poses[:, 0, 3] = np.linspace(0.3, 1.5, 40)
    poses[:, 2, 3] = 0.05
    reachable = UR5eReachability()(poses, np.zeros(40))
    assert reachable[poses[:, 0, 3] < 0.75].all()
    assert not reachable[poses[:, 0, 3] > 1.0].any()
