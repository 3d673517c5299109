"""Camera poses from TF over real DDS, without tf2_ros: a hand-eye result published on
/tf_static gives the same scene as the same pose in the YAML parameters."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
import yaml
from rclpy.executors import SingleThreadedExecutor

from a2_grasping.installation import install_prefix
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.qos import SCENE_QOS
from a2_grasping.testing.synthetic_cameras import (
    SyntheticCamera,
    SyntheticCameraPublisher,
    render_frame,
)
from a2_grasping.testing.synthetic_rgbd import Box

pytestmark = pytest.mark.ros
WAIT_S = 60.0  # node start-up on a loaded 2-core machine
BOX = Box((0.5, 0.0), (0.05, 0.06, 0.08), yaw_rad=0.2, color_rgb=(220, 20, 20))
LEFT = SyntheticCamera.looking_at("left", (0.95, 0.5, 0.5), (0.5, 0.0, 0.04), (240, 320))


def _hand_eye_file(path, camera: SyntheticCamera):
    x, y, z, qx, qy, qz, qw = camera.xyz_quat()
    path.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "calibration_type": "eye_on_base",
                    "robot_base_frame": "base_link",
                    "robot_effector_frame": "tool0",
                    "tracking_base_frame": camera.frame,
                },
                "transform": {
                    "translation": {"x": x, "y": y, "z": z},
                    "rotation": {"x": qx, "y": qy, "z": qz, "w": qw},
                },
            }
        )
    )
    return path


def test_tf_extrinsics_from_a_published_calibration_match_the_static_ones(
    start_node, ros_node, ros_env, tmp_path
):
    calibration = _hand_eye_file(tmp_path / "left_calibration.yaml", LEFT)
    publisher_process = subprocess.Popen(
        [str(install_prefix() / "bin" / "a2-grasping"), "publish-calibration", str(calibration)],
        env=ros_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    common = ["-p", "autostart:=true", "-p", "camera_names:=[left]", "-p", "publish_rate_hz:=10.0"]
    start_node(
        "perception_node", *common, "-p", "left.extrinsics_source:=tf", "-p",
        "scene_topic:=/tf_scene", "-p", "points_topic:=/tf_points",
    )  # fmt: skip
    start_node(
        "perception_node", "-r", "__node:=perception_static", *common, *LEFT.parameters(),
        "-p", "scene_topic:=/static_scene", "-p", "points_topic:=/static_points",
    )  # fmt: skip
    scenes: dict[str, dict[int, SceneSnapshot]] = {"/tf_scene": {}, "/static_scene": {}}
    for topic, received in scenes.items():
        ros_node.create_subscription(
            SceneSnapshot,
            topic,
            lambda msg, received=received: received.setdefault(
                msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, msg
            ),
            SCENE_QOS,
        )
    cameras = SyntheticCameraPublisher(
        ros_node, {"left": render_frame(LEFT, (BOX,), "rgb8", "16UC1")}
    )
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    try:
        deadline = time.monotonic() + WAIT_S
        while not set(scenes["/tf_scene"]) & set(scenes["/static_scene"]):
            assert time.monotonic() < deadline, (
                f"no scene built from the same frame by both nodes; calibration publisher: "
                f"{publisher_process.poll()}"
            )
            cameras.publish()
            # Each frame stays the newest for 0.25 s: both nodes (10 Hz) build a scene from it
            # whatever their timers' phases and build times (frames at 15 Hz could each be
            # taken by one node only, and on a loaded machine never by both).
            frame_deadline = time.monotonic() + 0.25
            while time.monotonic() < frame_deadline:
                executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(ros_node)
        executor.shutdown(timeout_sec=1.0)
        publisher_process.terminate()
        output, _ = publisher_process.communicate(timeout=10.0)
    assert publisher_process.returncode == 0, output
    assert f"base_link -> {LEFT.frame}" in output

    stamp = max(set(scenes["/tf_scene"]) & set(scenes["/static_scene"]))
    from_tf = conversions.scene_from_msg(scenes["/tf_scene"][stamp])
    static = conversions.scene_from_msg(scenes["/static_scene"][stamp])
    # the pose went through YAML text (9 decimals) and a quaternion: equal well below 1 mm
    np.testing.assert_allclose(
        from_tf.views[0].base_from_camera, static.views[0].base_from_camera, atol=1e-6
    )
    np.testing.assert_allclose(from_tf.views[0].base_from_camera, LEFT.base_from_optical, atol=1e-6)
    assert len(from_tf.points_xyz) == len(static.points_xyz) > 1000
    np.testing.assert_allclose(from_tf.points_xyz, static.points_xyz, atol=1e-3)


def test_a_malformed_calibration_file_is_refused_naming_the_entry(ros_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: {calibration_type: eye_on_base}\ntransform: {}\n")
    finished = subprocess.run(
        [str(install_prefix() / "bin" / "a2-grasping"), "publish-calibration", str(bad)],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60.0,
        check=False,
    )
    assert finished.returncode == 2
    assert "robot_base_frame must name a frame" in finished.stderr
