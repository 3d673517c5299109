"""The message encoders sim_node uses, checked against the decoders the pipeline uses."""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time

from a2_grasping.ros import conversions
from a2_grasping.sim.cameras import intrinsics_from_fovy
from a2_grasping.sim.config import ARM_JOINTS

STAMP = Time(sec=12, nanosec=500_000_000)


def test_16uc1_depth_round_trips_to_the_millimetre_and_marks_no_return_as_zero():
    depth_m = np.array([[0.5, 1.2344, 0.0], [math.nan, -1.0, 70.0]], dtype=np.float32)
    image = conversions.depth_m_to_image(depth_m, STAMP, "cam_color_optical_frame", "16UC1")
    assert (image.encoding, image.step, image.width, image.height) == ("16UC1", 6, 3, 2)
    assert image.header.stamp == STAMP and image.header.frame_id == "cam_color_optical_frame"
    decoded = conversions.depth_image_to_m(image)
    np.testing.assert_allclose(decoded, [[0.5, 1.234, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_camera_info_round_trips_through_the_pipelines_decoder():
    k = intrinsics_from_fovy(45.0, 640, 480)
    info = conversions.intrinsics_to_camera_info(k, 640, 480, STAMP, "cam_color_optical_frame")
    np.testing.assert_allclose(conversions.camera_info_to_intrinsics(info, 640, 480), k)
    assert info.distortion_model == "plumb_bob" and list(info.d) == [0.0] * 5
    assert np.array(info.p).reshape(3, 4)[:, :3].tolist() == k.tolist()
    assert k[0, 0] == k[1, 1] == 0.5 * 480 / math.tan(math.radians(22.5))


def test_trajectory_round_trip_and_joint_state():
    positions = np.array([[0.1] * 6, [0.2] * 6])
    velocities = np.array([[0.5] * 6, [0.0] * 6])
    msg = conversions.trajectory_to_msg(ARM_JOINTS, np.array([0.25, 1.5]), positions, velocities)
    command = conversions.trajectory_from_msg(msg)
    assert command.joint_names == ARM_JOINTS and command.times_s == (0.25, 1.5)
    assert np.allclose(command.positions_rad, positions)
    assert np.allclose(command.velocities_rad_s, velocities)
    no_velocities = conversions.trajectory_from_msg(
        conversions.trajectory_to_msg(ARM_JOINTS, np.array([1.0]), positions[:1])
    )
    assert no_velocities.velocities_rad_s == ((),)
    state = conversions.joint_state(("a", "b"), np.array([1.0, 2.0]), np.zeros(2), STAMP)
    assert list(state.name) == ["a", "b"] and list(state.position) == [1.0, 2.0]
    assert state.header.stamp == STAMP
