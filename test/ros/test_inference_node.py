"""inference_node over real DDS: the node runs in its own process, the test is the client."""

from __future__ import annotations

import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import clients, conversions
from a2_grasping.srv import SelectGrasp
from a2_grasping.tools.synthetic_clouds import box_points, tabletop_cloud

pytestmark = pytest.mark.ros
DISCOVERY_TIMEOUT_S = 15.0
# Per attempt; a response lost during discovery is re-requested (SelectGrasp is idempotent).
CALL_TIMEOUT_S = 4.0
CALL_ATTEMPTS = 3


def _select(node, client, **fields) -> SelectGrasp.Response:
    request = SelectGrasp.Request(instruction="grasp the red mug")
    for name, value in fields.items():
        setattr(request, name, value)
    return clients.call(node, client, request, CALL_TIMEOUT_S, attempts=CALL_ATTEMPTS)


def _client(ros_node):
    client = ros_node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, DISCOVERY_TIMEOUT_S)
    return client


def _scene_msg(stamp: Time, camera_names=("front",)) -> SceneSnapshot:
    """A valid scene: a 5 x 4 x 6 cm box on the table, one small camera image per name."""
    rng = np.random.default_rng(0)
    points = tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0.0, 0.0), 4000))
    points[:, 0] += 0.5  # table centred in front of the robot
    scene = SceneSnapshot()
    scene.header.frame_id = "base_link"
    scene.header.stamp = stamp
    colors = np.full(points.shape, 200, dtype=np.uint8)
    scene.points = conversions.xyzrgb_to_cloud(
        points.astype(np.float32), colors, stamp, "base_link"
    )
    scene.workspace_box_m = [0.2, 0.8, -0.3, 0.3, -0.01, 0.4]
    for name in camera_names:
        frame = f"{name}_color_optical_frame"
        scene.camera_names.append(name)
        scene.color_images.append(
            conversions.rgb_to_image(np.zeros((48, 64, 3), np.uint8), stamp, frame)
        )
        depth = np.full((48, 64), 0.8, np.float32)
        scene.depth_images.append(conversions.depth_m_to_image(depth, stamp, frame))
        info = CameraInfo(width=64, height=48, k=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
        info.header.frame_id = frame
        scene.camera_infos.append(info)
        camera_pose = np.eye(4)
        camera_pose[:3, :3] = np.diag([1.0, -1.0, -1.0])  # looking straight down
        camera_pose[:3, 3] = (0.5, 0.0, 0.8)
        scene.base_from_camera.append(conversions.matrix_to_pose(camera_pose))
    return scene


def _publish_scene(ros_node, stamp: Time, camera_names=("front",)):
    publisher = ros_node.create_publisher(
        SceneSnapshot,
        "/a2/scene",
        QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        ),
    )
    publisher.publish(_scene_msg(stamp, camera_names))
    return publisher


def _select_once_scene_arrived(ros_node, client, **fields) -> SelectGrasp.Response:
    """The scene is latched (transient local), but its delivery races the first request: ask
    until the answer is no longer NO_SCENE, within a deadline."""
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while True:
        response = _select(ros_node, client, **fields)
        if response.error_code != SelectErrorCode.NO_SCENE or time.monotonic() > deadline:
            return response


def _now(ros_node, offset_s: float = 0.0) -> Time:
    return conversions.seconds_to_time(ros_node.get_clock().now().nanoseconds * 1e-9 + offset_s)


def test_answers_no_scene_before_any_scene_arrives(start_node, ros_node):
    start_node("inference_node", "-p", "autostart:=true")
    response = _select(ros_node, _client(ros_node))
    assert response.error_code == SelectGrasp.Response.NO_SCENE
    assert "no scene received" in response.error_message
    assert list(response.candidates) == [] and response.selected_index == -1
    assert "total" in list(response.timing_stages)


def test_lifecycle_gates_the_service(start_node, ros_node):
    start_node("inference_node")  # autostart defaults to false: unconfigured
    client = _client(ros_node)
    response = _select(ros_node, client)
    assert response.error_code == SelectGrasp.Response.MODEL_NOT_READY
    assert "not active" in response.error_message

    change_state = ros_node.create_client(ChangeState, "/inference_node/change_state")
    clients.wait_for_service(change_state, DISCOVERY_TIMEOUT_S)
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        request = ChangeState.Request()
        request.transition.id = transition
        assert clients.call(ros_node, change_state, request, 3 * CALL_TIMEOUT_S).success
    assert _select(ros_node, client).error_code == SelectGrasp.Response.NO_SCENE


def test_invalid_requests_are_refused_by_field(start_node, ros_node):
    start_node("inference_node", "-p", "autostart:=true")
    client = _client(ros_node)
    empty = _select(ros_node, client, instruction="  ")
    assert empty.error_code == SelectGrasp.Response.INVALID_REQUEST
    assert "instruction" in empty.error_message
    negative_age = _select(ros_node, client, max_input_age_s=-1.0)
    assert negative_age.error_code == SelectGrasp.Response.INVALID_REQUEST
    assert "max_input_age_s" in negative_age.error_message


def test_stale_future_and_unknown_camera(start_node, ros_node):
    start_node("inference_node", "-p", "autostart:=true", "-p", "max_input_age_s:=5.0")
    client = _client(ros_node)

    publisher = _publish_scene(ros_node, _now(ros_node, -60.0))
    old = _select_once_scene_arrived(ros_node, client)
    assert old.error_code == SelectGrasp.Response.STALE_SCENE
    assert "old" in old.error_message
    # The per-request limit overrides the parameter.
    assert _select(ros_node, client, max_input_age_s=120.0).error_code != (
        SelectGrasp.Response.STALE_SCENE
    )
    ros_node.destroy_publisher(publisher)

    _publish_scene(ros_node, _now(ros_node, +30.0))
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while "future" not in (future := _select(ros_node, client)).error_message:
        assert time.monotonic() < deadline, future.error_message
    assert future.error_code == SelectGrasp.Response.STALE_SCENE

    _publish_scene(ros_node, _now(ros_node), camera_names=("front",))
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while (unknown := _select(ros_node, client, camera_names=["wrist"])).error_code == (
        SelectGrasp.Response.STALE_SCENE
    ):
        assert time.monotonic() < deadline, unknown.error_message
    assert unknown.error_code == SelectGrasp.Response.INVALID_REQUEST
    assert "wrist" in unknown.error_message


def test_happy_path_returns_a_grasp_on_the_box(start_node, ros_node):
    start_node("inference_node", "-p", "autostart:=true")
    client = _client(ros_node)
    stamp = _now(ros_node)
    _publish_scene(ros_node, stamp)
    response = _select_once_scene_arrived(ros_node, client, max_candidates=3)
    assert response.error_code == SelectGrasp.Response.NONE, response.error_message
    assert response.mode == "geometric" and response.selected_index == 0
    assert 1 <= len(response.candidates) <= 3
    best = response.candidates[0]
    assert best.pose.header.frame_id == "base_link"
    assert (best.pose.header.stamp.sec, best.pose.header.stamp.nanosec) == (
        stamp.sec,
        stamp.nanosec,
    )
    position = best.pose.pose.position
    assert abs(position.x - 0.5) < 0.03 and abs(position.y) < 0.03 and 0.0 < position.z < 0.07
    assert 0.0 < best.width_m <= 0.085 and 0.0 <= best.quality <= 1.0
    assert best.score == best.quality
    scores = [c.score for c in response.candidates]
    assert scores == sorted(scores, reverse=True)
    assert {"candidates", "total"} <= set(response.timing_stages)
    assert 0.0 <= response.scene_age_s < 5.0


def test_malformed_scene_is_dropped_not_served(start_node, ros_node):
    start_node("inference_node", "-p", "autostart:=true")
    client = _client(ros_node)
    bad = _scene_msg(_now(ros_node))
    bad.color_images[0].encoding = "yuv422"
    publisher = ros_node.create_publisher(
        SceneSnapshot,
        "/a2/scene",
        QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL),
    )
    publisher.publish(bad)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # the node keeps answering NO_SCENE throughout
        assert _select(ros_node, client).error_code == SelectGrasp.Response.NO_SCENE


def test_out_of_range_parameter_stops_start_up_with_a_clear_error(start_node):
    process = start_node("inference_node", "-p", "max_candidates:=0")
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "node kept running with an invalid parameter"
        time.sleep(0.05)
    assert process.poll() != 0
    assert "max_candidates" in process.output()
