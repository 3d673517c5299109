"""inference_node over real DDS: the node runs in its own process, the test is the client."""

from __future__ import annotations

import time

import pytest
from builtin_interfaces.msg import Time
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import clients, conversions
from a2_grasping.srv import SelectGrasp

pytestmark = pytest.mark.ros
DISCOVERY_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 10.0


def _select(node, client, **fields) -> SelectGrasp.Response:
    request = SelectGrasp.Request(instruction="grasp the red mug")
    for name, value in fields.items():
        setattr(request, name, value)
    return clients.call(node, client, request, CALL_TIMEOUT_S)


def _client(ros_node):
    client = ros_node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, DISCOVERY_TIMEOUT_S)
    return client


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
    scene = SceneSnapshot()
    scene.header.frame_id = "base_link"
    scene.header.stamp = stamp
    scene.camera_names = list(camera_names)
    publisher.publish(scene)
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
        assert clients.call(ros_node, change_state, request, CALL_TIMEOUT_S).success
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


def test_out_of_range_parameter_stops_start_up_with_a_clear_error(start_node):
    process = start_node("inference_node", "-p", "max_candidates:=0")
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "node kept running with an invalid parameter"
        time.sleep(0.05)
    assert process.poll() != 0
    assert "max_candidates" in process.output()
