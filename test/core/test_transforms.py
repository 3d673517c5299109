"""The TF buffer used where tf2_ros is missing: chains, directions, time and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a2_grasping.core.hand_eye import load_hand_eye
from a2_grasping.core.transforms import TransformBuffer, TransformLookupError


def _pose(xyz, rotvec=(0.0, 0.0, 0.0)) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    pose[:3, 3] = xyz
    return pose


def _tree() -> TransformBuffer:
    """base -> shoulder -> tool -> wrist_cam (dynamic at 1 s and 2 s), base -> front (static)."""
    tf = TransformBuffer()
    tf.set_transform("base", "front", _pose((1.0, 0.0, 0.5), (0.0, 0.0, np.pi)), 0.0, static=True)
    tf.set_transform("base", "shoulder", _pose((0.0, 0.0, 0.16)), 0.0, static=True)
    tf.set_transform("shoulder", "tool", _pose((0.4, 0.0, 0.0)), 1.0, static=False)
    tf.set_transform("shoulder", "tool", _pose((0.4, 0.2, 0.0), (0.0, 0.0, 0.4)), 2.0, static=False)
    tf.set_transform("tool", "wrist_cam", _pose((0.0, 0.0, 0.05)), 0.0, static=True)
    return tf


def test_chains_compose_in_both_directions():
    tf = _tree()
    base_from_cam = tf.lookup("base", "wrist_cam", 1.0)
    np.testing.assert_allclose(base_from_cam[:3, 3], (0.4, 0.0, 0.21), atol=1e-12)
    cam_from_base = tf.lookup("wrist_cam", "base", 1.0)
    np.testing.assert_allclose(cam_from_base @ base_from_cam, np.eye(4), atol=1e-12)
    # across branches: front camera <- wrist camera, through their common ancestor
    front_from_cam = tf.lookup("front", "wrist_cam", 1.0)
    expected = np.linalg.inv(tf.lookup("base", "front", None)) @ base_from_cam
    np.testing.assert_allclose(front_from_cam, expected, atol=1e-12)


def test_dynamic_links_interpolate_between_stamps_and_never_extrapolate():
    tf = _tree()
    middle = tf.lookup("shoulder", "tool", 1.5)
    np.testing.assert_allclose(middle[:3, 3], (0.4, 0.1, 0.0), atol=1e-12)
    yaw = Rotation.from_matrix(middle[:3, :3]).as_rotvec()
    np.testing.assert_allclose(yaw, (0.0, 0.0, 0.2), atol=1e-12)
    for stamp in (0.5, 2.5):
        with pytest.raises(TransformLookupError, match=r"known from 1\.000 s to 2\.000 s"):
            tf.lookup("base", "wrist_cam", stamp)
    np.testing.assert_allclose(tf.lookup("shoulder", "tool", None)[:3, 3], (0.4, 0.2, 0.0))


def test_unknown_and_unconnected_frames_are_named():
    tf = _tree()
    with pytest.raises(TransformLookupError, match="'camera_link' was never published"):
        tf.lookup("base", "camera_link", 1.0)
    tf.set_transform("map", "odom", np.eye(4), 0.0, static=True)
    with pytest.raises(TransformLookupError, match="not connected"):
        tf.lookup("base", "odom", 1.0)


def test_the_history_is_bounded_and_bad_transforms_are_refused():
    tf = TransformBuffer(cache_s=1.0)
    for stamp in np.arange(0.0, 5.0, 0.5):
        tf.set_transform("a", "b", _pose((stamp, 0.0, 0.0)), float(stamp), static=False)
    with pytest.raises(TransformLookupError):
        tf.lookup("a", "b", 2.0)
    np.testing.assert_allclose(tf.lookup("a", "b", 4.0)[0, 3], 4.0)
    with pytest.raises(ValueError, match="finite 4x4"):
        tf.set_transform("a", "c", np.full((4, 4), np.nan), 0.0, static=True)
    with pytest.raises(ValueError, match="two different frames"):
        tf.set_transform("a", "a", np.eye(4), 0.0, static=True)


def test_hand_eye_results_become_the_transform_they_describe(tmp_path):
    on_base = tmp_path / "on_base.yaml"
    on_base.write_text(
        "parameters: {calibration_type: eye_on_base, robot_base_frame: base_link,\n"
        "  robot_effector_frame: tool0, tracking_base_frame: cam_optical}\n"
        "transform: {translation: {x: 0.5, y: -0.4, z: 0.6},\n"
        "  rotation: {x: 0.0, y: 0.0, z: 0.7071068, w: 0.7071068}}\n"
    )
    result = load_hand_eye(on_base)
    assert (result.parent, result.child) == ("base_link", "cam_optical")
    np.testing.assert_allclose(result.parent_from_child[:3, 3], (0.5, -0.4, 0.6))
    np.testing.assert_allclose(result.parent_from_child[:3, 0], (0.0, 1.0, 0.0), atol=1e-6)
    in_hand = tmp_path / "in_hand.yaml"
    in_hand.write_text(on_base.read_text().replace("eye_on_base", "eye_in_hand"))
    assert load_hand_eye(in_hand).parent == "tool0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "a mapping at the top level"),
        ("parameters: {calibration_type: eye_beside}\n", "calibration_type must be one of"),
        (
            "parameters: {calibration_type: eye_on_base, robot_base_frame: b, "
            "tracking_base_frame: c}\ntransform: {translation: {x: 0, y: 0, z: .nan}, "
            "rotation: {x: 0, y: 0, z: 0, w: 1}}\n",
            "translation.z must be a finite number",
        ),
        (
            "parameters: {calibration_type: eye_on_base, robot_base_frame: b, "
            "tracking_base_frame: c}\ntransform: {translation: {x: 0, y: 0, z: 0}, "
            "rotation: {x: 0, y: 0, z: 0, w: 2}}\n",
            "unit length",
        ),
    ],
)
def test_malformed_hand_eye_results_are_refused_naming_the_entry(tmp_path, text, message):
    path = tmp_path / "result.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_hand_eye(path)
