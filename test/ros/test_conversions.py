"""Message <-> numpy conversions: every accepted encoding, and refusals that name the problem."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from a2_grasping.action import Pick
from a2_grasping.ros import conversions
from a2_grasping.srv import SelectGrasp

STAMP = conversions.seconds_to_time(12.5)


def _image(encoding: str, pixels: np.ndarray, step_padding: int = 0) -> Image:
    height, width = pixels.shape[:2]
    row = pixels.reshape(height, -1).view(np.uint8)
    padded = np.zeros((height, row.shape[1] + step_padding), np.uint8)
    padded[:, : row.shape[1]] = row
    return Image(
        height=height, width=width, encoding=encoding, step=padded.shape[1], data=padded.tobytes()
    )


def test_time_round_trip():
    assert conversions.time_to_seconds(conversions.seconds_to_time(1234.000000123)) == (
        pytest.approx(1234.000000123, abs=1e-9)
    )


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_color_encodings_become_rgb(encoding):
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    if encoding == "mono8":
        rgb = np.repeat(rgb[..., :1], 3, axis=2)
        pixels = rgb[..., 0].copy()
    else:
        pixels = rgb[..., ::-1] if encoding.startswith("bgr") else rgb
        if encoding.endswith("a8"):
            pixels = np.concatenate([pixels, np.full((5, 7, 1), 255, np.uint8)], axis=2)
    image = _image(encoding, np.ascontiguousarray(pixels), step_padding=3)
    np.testing.assert_array_equal(conversions.color_image_to_rgb(image), rgb)


def test_depth_encodings_become_metres():
    millimetres = np.array([[0, 500], [1234, 65535]], np.uint16)
    depth = conversions.depth_image_to_m(_image("16UC1", millimetres))
    np.testing.assert_allclose(depth, [[0.0, 0.5], [1.234, 65.535]], rtol=1e-6)
    metres = np.array([[np.nan, 0.5], [-1.0, np.inf]], np.float32)
    np.testing.assert_array_equal(
        conversions.depth_image_to_m(_image("32FC1", metres)), [[0, 0.5], [0, 0]]
    )


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "yuv422"),
        (Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(5)), "bytes"),
        (Image(height=2, width=2, encoding="rgb8", step=4, data=bytes(8)), "step"),
        (Image(height=0, width=2, encoding="rgb8", step=6, data=b""), "empty"),
    ],
)
def test_bad_images_are_refused_by_name(image, fragment):
    with pytest.raises(conversions.ConversionError, match=fragment):
        conversions.color_image_to_rgb(image)


def test_camera_info_must_match_the_image():
    info = CameraInfo(width=64, height=48, k=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
    assert conversions.camera_info_to_intrinsics(info, 64, 48)[0, 0] == 50.0
    with pytest.raises(conversions.ConversionError, match="64x48"):
        conversions.camera_info_to_intrinsics(info, 640, 480)
    with pytest.raises(conversions.ConversionError, match="K"):
        conversions.camera_info_to_intrinsics(CameraInfo(width=64, height=48), 64, 48)


def test_pose_round_trip_through_all_quaternion_branches():
    rng = np.random.default_rng(1)
    for _ in range(200):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        pose = conversions.matrix_to_pose(np.eye(4))
        pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = q
        pose.position.x, pose.position.y, pose.position.z = rng.normal(size=3)
        matrix = conversions.pose_to_matrix(pose)
        np.testing.assert_allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3), atol=1e-12)
        again = conversions.pose_to_matrix(conversions.matrix_to_pose(matrix))
        np.testing.assert_allclose(again, matrix, atol=1e-12)


def test_non_unit_quaternion_is_refused():
    pose = conversions.matrix_to_pose(np.eye(4))
    pose.orientation.w = 2.0
    with pytest.raises(conversions.ConversionError, match="unit quaternion"):
        conversions.pose_to_matrix(pose)


def test_cloud_round_trip():
    rng = np.random.default_rng(2)
    points = rng.normal(size=(1000, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (1000, 3), dtype=np.uint8)
    cloud = conversions.xyzrgb_to_cloud(points, colors, STAMP, "base_link")
    assert (cloud.width, cloud.height, cloud.point_step) == (1000, 1, 16)
    back_points, back_colors = conversions.cloud_to_xyzrgb(cloud)
    np.testing.assert_array_equal(back_points, points)
    np.testing.assert_array_equal(back_colors, colors)
    cloud.fields = cloud.fields[:3]
    with pytest.raises(conversions.ConversionError, match="rgb"):
        conversions.cloud_to_xyzrgb(cloud)


def test_error_code_names_come_from_the_interface_constants():
    assert conversions.code_name(SelectGrasp.Response, SelectGrasp.Response.STALE_SCENE) == (
        "STALE_SCENE"
    )
    assert conversions.code_name(Pick.Result, Pick.Result.GRASP_FAILED) == "GRASP_FAILED"
    assert conversions.code_name(Pick.Result, 200) == "UNKNOWN(200)"
    names = conversions.constant_names(SelectGrasp.Response)
    assert len(names) == 13 and names[0] == "NONE"  # SLOT_TYPES and fields are not constants


def test_the_moving_object_of_a_place_request_is_read_and_checked():
    from a2_grasping.srv import SelectPlace

    request = SelectPlace.Request(instruction="next to the blue ball")
    assert conversions.moving_object_from_request(request) is None  # a place from the hand
    request.has_moving_object = True
    request.moving_object_m.x, request.moving_object_m.y = 0.45, -0.1
    np.testing.assert_array_equal(conversions.moving_object_from_request(request), [0.45, -0.1])
    request.moving_object_m.y = float("nan")
    with pytest.raises(ValueError, match="moving_object_m must be finite"):
        conversions.moving_object_from_request(request)
