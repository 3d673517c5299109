"""Joint states merged by joint: arm and gripper from separate publishers, each with its age."""

from __future__ import annotations

import numpy as np

from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.core.task.joint_states import JointStateMerger

GRIPPER = "robotiq_85_left_knuckle_joint"
ARM = [0.1, -1.2, 1.3, -1.6, -1.57, 0.2]


def _merger() -> JointStateMerger:
    return JointStateMerger(UR_JOINT_NAMES, GRIPPER)


def test_arm_and_gripper_from_separate_messages_make_one_state():
    merger = _merger()
    merger.update(list(UR_JOINT_NAMES), ARM, [0.0] * 6, stamp_s=10.0, received_s=100.0)
    assert merger.state(now_s=100.01, max_age_s=0.5) is None  # no gripper yet
    assert merger.missing(100.01, 0.5) == [GRIPPER]
    merger.update([GRIPPER], [0.4], [], stamp_s=10.02, received_s=100.02)
    state = merger.state(now_s=100.03, max_age_s=0.5)
    assert state is not None
    np.testing.assert_array_equal(state.arm_rad, ARM)
    assert state.gripper_rad == 0.4
    assert (state.stamp_s, state.received_monotonic_s) == (10.0, 100.0)  # the oldest joint's


def test_any_order_of_names_and_foreign_joints_are_accepted():
    merger = _merger()
    names = [GRIPPER, "other_robot_joint", *reversed(UR_JOINT_NAMES)]
    merger.update(names, [0.3, 9.0, *reversed(ARM)], [], stamp_s=1.0, received_s=1.0)
    state = merger.state(1.0, 0.5)
    assert state is not None
    np.testing.assert_array_equal(state.arm_rad, ARM)
    assert state.gripper_rad == 0.3


def test_one_stopped_publisher_makes_the_state_stale():
    merger = _merger()
    merger.update(list(UR_JOINT_NAMES), ARM, [], stamp_s=1.0, received_s=1.0)
    merger.update([GRIPPER], [0.0], [], stamp_s=1.0, received_s=1.0)
    for step in range(1, 11):  # the arm keeps publishing, the gripper driver stopped
        merger.update(list(UR_JOINT_NAMES), ARM, [], stamp_s=1.0 + step, received_s=1.0 + step)
    assert merger.state(now_s=11.0, max_age_s=0.5) is None
    assert merger.missing(11.0, 0.5) == [GRIPPER]


def test_velocity_from_the_message_or_else_from_successive_positions():
    merger = _merger()
    merger.update([GRIPPER], [0.0], [], stamp_s=0.0, received_s=0.0)
    merger.update(list(UR_JOINT_NAMES), ARM, [], stamp_s=0.0, received_s=0.0)
    moved = np.array(ARM) + 0.01
    merger.update(list(UR_JOINT_NAMES), list(moved), [], stamp_s=0.1, received_s=0.1)
    state = merger.state(0.1, 0.5)
    assert state is not None
    np.testing.assert_allclose(state.arm_velocity_rad_s, 0.1, rtol=1e-9)  # 0.01 rad / 0.1 s
    merger.update(list(UR_JOINT_NAMES), list(moved), [0.5] * 6, stamp_s=0.2, received_s=0.2)
    state = merger.state(0.2, 0.5)
    assert state is not None
    np.testing.assert_array_equal(state.arm_velocity_rad_s, 0.5)


def test_a_non_finite_value_is_dropped_and_that_joint_goes_stale():
    merger = _merger()
    merger.update([GRIPPER], [0.0], [], stamp_s=0.0, received_s=0.0)
    merger.update(list(UR_JOINT_NAMES), ARM, [], stamp_s=0.0, received_s=0.0)
    broken = [*ARM[:5], float("nan")]
    merger.update(list(UR_JOINT_NAMES), broken, [], stamp_s=1.0, received_s=1.0)
    merger.update([GRIPPER], [0.0], [], stamp_s=1.0, received_s=1.0)
    assert merger.state(now_s=1.0, max_age_s=0.5) is None
    assert merger.missing(1.0, 0.5) == [UR_JOINT_NAMES[5]]
