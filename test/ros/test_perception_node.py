"""perception_node over real DDS, fed by analytically rendered RGB-D cameras from the test."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from copy import deepcopy

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.client import clients
from a2_grasping.srv import SelectGrasp
from a2_grasping.testing.synthetic_cameras import (
    RenderedFrame,
    SyntheticCamera,
    SyntheticCameraPublisher,
    render_frame,
)
from a2_grasping.testing.synthetic_rgbd import Box

pytestmark = pytest.mark.ros
WAIT_S = 60.0  # node start-up on a loaded 2-core machine: > 15 s seen (fresh-clone suite)
BOX = Box((0.5, 0.0), (0.05, 0.06, 0.08), yaw_rad=0.2, color_rgb=(220, 20, 20))
SIZE_PX = (240, 320)  # small frames keep the tests fast; the benchmark uses 640x480
LEFT = SyntheticCamera.looking_at("left", (0.95, 0.5, 0.5), (0.5, 0.0, 0.04), SIZE_PX)
RIGHT = SyntheticCamera.looking_at("right", (0.95, -0.5, 0.5), (0.5, 0.0, 0.04), SIZE_PX)
SCENE_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def _perception_args(*cameras: SyntheticCamera, rate_hz: float = 10.0) -> list[str]:
    names = ",".join(camera.name for camera in cameras)
    args = ["-p", "autostart:=true", "-p", f"camera_names:=[{names}]"]
    args += ["-p", f"publish_rate_hz:={rate_hz}"]
    for camera in cameras:
        args += camera.parameters()
    return args


class _Listener:
    """Collects scenes and diagnostics on the test node."""

    def __init__(self, ros_node) -> None:
        self.node = ros_node
        self.scenes: list[SceneSnapshot] = []
        self.diagnostics: list[DiagnosticStatus] = []
        ros_node.create_subscription(SceneSnapshot, "/a2/scene", self.scenes.append, SCENE_QOS)
        ros_node.create_subscription(
            DiagnosticArray, "/diagnostics", lambda m: self.diagnostics.extend(m.status), 10
        )
        self._executor = SingleThreadedExecutor(context=ros_node.context)
        self._executor.add_node(ros_node)

    def spin_while(
        self, publisher: SyntheticCameraPublisher | None, done: Callable[[], bool], timeout_s: float
    ) -> bool:
        """Stream frames at ~15 Hz and spin until `done()` or the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if publisher is not None:
                publisher.publish()
            self._executor.spin_once(timeout_sec=0.066)
            if done():
                return True
        return False

    def camera_status(self, camera: str) -> DiagnosticStatus | None:
        entries = [s for s in self.diagnostics if s.name == f"perception_node: camera {camera}"]
        return entries[-1] if entries else None

    def close(self) -> None:
        self._executor.remove_node(self.node)
        self._executor.shutdown(timeout_sec=1.0)


@pytest.fixture
def listener(ros_node):
    collected = _Listener(ros_node)
    yield collected
    collected.close()


def test_two_cameras_fuse_into_a_scene_and_a_grasp_is_selected_on_the_box(
    start_node, ros_node, listener
):
    start_node("perception_node", *_perception_args(LEFT, RIGHT))
    start_node("inference_node", "-p", "autostart:=true")
    # Different encodings per camera: the node converts each (bgr8 + mm, rgba8 + metres).
    publisher = SyntheticCameraPublisher(
        ros_node,
        {
            "left": render_frame(LEFT, (BOX,), "bgr8", "16UC1"),
            "right": render_frame(RIGHT, (BOX,), "rgba8", "32FC1"),
        },
    )
    assert listener.spin_while(publisher, lambda: bool(listener.scenes), WAIT_S)
    scene_msg = listener.scenes[-1]
    assert scene_msg.header.frame_id == "base_link"
    assert list(scene_msg.camera_names) == ["left", "right"]
    assert [image.encoding for image in scene_msg.color_images] == ["rgb8", "rgb8"]
    assert [image.encoding for image in scene_msg.depth_images] == ["32FC1", "32FC1"]
    scene = conversions.scene_from_msg(scene_msg)
    box_points = scene.points_xyz[scene.points_xyz[:, 2] > 0.005]
    # The box (and only the box) stands above the table, in its colour, where it was placed.
    assert len(box_points) > 200
    centre_xy = (box_points[:, :2].min(axis=0) + box_points[:, :2].max(axis=0)) / 2
    np.testing.assert_allclose(centre_xy, BOX.center_xy_m, atol=0.01)
    # Fused from both sides, every box point lies on the true box surface within 5 mm, and the
    # two opposite faces each camera sees (box +y from the left, -y from the right) are there.
    c, s = np.cos(BOX.yaw_rad), np.sin(BOX.yaw_rad)
    local = (box_points.astype(np.float64) - (*BOX.center_xy_m, BOX.size_m[2] / 2)) @ np.array(
        [[c, s, 0], [-s, c, 0], [0, 0, 1]]
    ).T
    half = np.asarray(BOX.size_m) / 2
    on_box = np.all(np.abs(local) <= half + 0.005, axis=1)
    assert on_box.mean() > 0.98
    assert np.max(np.abs(np.min(half - np.abs(local[on_box]), axis=1))) < 0.005
    sides = local[on_box & (local[:, 2] < half[2] - 0.005)]
    for sign in (-1.0, 1.0):
        assert np.sum(np.abs(sides[:, 1] - sign * half[1]) < 0.003) > 20
    assert box_points[:, 2].max() == pytest.approx(BOX.size_m[2], abs=0.004)
    above = scene.colors_rgb[scene.points_xyz[:, 2] > 0.01]
    assert np.all(above == BOX.color_rgb)
    np.testing.assert_allclose(scene.views[0].base_from_camera, LEFT.base_from_optical, atol=1e-5)

    client = ros_node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, WAIT_S)
    deadline = time.monotonic() + 4.0 * WAIT_S
    while True:
        publisher.publish()  # a new scene; staleness is tested elsewhere, so allow 10 s under load
        request = SelectGrasp.Request(instruction="the red box", max_input_age_s=10.0)
        response = clients.select_grasp(
            ros_node, client, request, within_s=WAIT_S, resend_after_s=4.0
        )
        waiting = (SelectErrorCode.NO_SCENE, SelectErrorCode.STALE_SCENE)  # starved by load
        if response.error_code not in waiting or time.monotonic() > deadline:
            break
    assert response.error_code == SelectErrorCode.NONE, response.error_message
    assert response.mode == "attributes" and response.selected_index == 0
    best = conversions.pose_to_matrix(response.candidates[0].pose.pose)
    np.testing.assert_allclose(best[:2, 3], BOX.center_xy_m, atol=0.03)
    assert 0.0 < best[2, 3] < BOX.size_m[2] + 0.01
    assert response.candidates[0].width_m < 0.085


def _mutated(frame: RenderedFrame, change: Callable[[RenderedFrame], None]) -> RenderedFrame:
    copy = deepcopy(frame)
    change(copy)
    return copy


def _set(message_name: str, **fields) -> Callable[[RenderedFrame], None]:
    def change(frame: RenderedFrame) -> None:
        for name, value in fields.items():
            setattr(getattr(frame, message_name), name, value)

    return change


def _half_size_depth(frame: RenderedFrame) -> None:
    depth = np.full((SIZE_PX[0] // 2, SIZE_PX[1] // 2), 0.8, np.float32)
    frame.depth = conversions.depth_m_to_image(depth, frame.depth.header.stamp, "left")


MALFORMED = {
    "unsupported colour encoding": (_set("color", encoding="yuv422"), "yuv422"),
    "unsupported depth encoding": (_set("depth", encoding="8UC1"), "depth encoding '8UC1'"),
    "CameraInfo size differs": (_set("info", width=640, height=480), "CameraInfo is for 640x480"),
    "depth not registered": (_half_size_depth, "registered to colour"),
    "truncated image data": (_set("color", data=b"\x00" * 100), "bytes"),
    "invalid K": (_set("info", k=[0.0] * 9), "not a valid intrinsic matrix"),
}


def test_malformed_frames_are_rejected_with_diagnostics_and_the_node_recovers(
    start_node, ros_node, listener
):
    node = start_node("perception_node", *_perception_args(LEFT))
    good = render_frame(LEFT, (BOX,))
    for case, (change, expected) in MALFORMED.items():
        bad = SyntheticCameraPublisher(ros_node, {"left": _mutated(good, change)})
        listener.diagnostics.clear()
        listener.scenes.clear()
        bad_from_s = ros_node.get_clock().now().nanoseconds * 1e-9

        def reported(expected=expected) -> bool:
            status = listener.camera_status("left")
            return status is not None and expected in status.message

        assert listener.spin_while(bad, reported, WAIT_S), (case, listener.camera_status("left"))
        assert listener.camera_status("left").level == DiagnosticStatus.WARN
        # The previous good frame may still make scenes until it is max_frame_age_s old; none
        # may be stamped with a malformed frame's time.
        stamps_s = [conversions.time_to_seconds(scene.header.stamp) for scene in listener.scenes]
        assert all(s < bad_from_s for s in stamps_s), f"{case}: a scene from a malformed frame"
        assert node.poll() is None, node.output()
        # Good frames right after: scenes flow again.
        recovered = SyntheticCameraPublisher(ros_node, {"left": good})
        assert listener.spin_while(recovered, lambda: bool(listener.scenes), WAIT_S), case
    assert "rejected frame of 'left'" in node.output()


def test_stale_frames_produce_no_scene(start_node, ros_node, listener):
    node = start_node("perception_node", *_perception_args(LEFT))
    publisher = SyntheticCameraPublisher(ros_node, {"left": render_frame(LEFT, (BOX,))})
    old_s = ros_node.get_clock().now().nanoseconds * 1e-9 - 30.0
    # Frames 30 s old, until the node says why it publishes nothing: on a loaded machine its
    # subscriptions can match ours seconds after start-up, and frames sent before are not seen.
    deadline_s = time.monotonic() + WAIT_S
    for i in itertools.count():
        if "s old (max_frame_age_s=1.0)" in node.output():
            break
        assert time.monotonic() < deadline_s, node.output()
        publisher.publish(conversions.seconds_to_time(old_s + 0.1 * i))
        listener.spin_while(None, lambda: False, 0.1)
    assert not listener.scenes
    assert "s old (max_frame_age_s=1.0)" in node.output()


def test_frames_that_arrive_after_the_clock_stopped_are_fused(start_node, ros_node, listener):
    """Under use_sim_time, the end of a replayed bag stops /clock. The scene timer runs on the
    steady clock, so frames received by then still become a scene; on a sim-time timer they
    never would (it fires once at the jump to the first /clock, before any frame)."""
    from rosgraph_msgs.msg import Clock

    start_node("perception_node", *_perception_args(LEFT), "-p", "use_sim_time:=true")
    clock_publisher = ros_node.create_publisher(Clock, "/clock", 10)
    stopped_at = conversions.seconds_to_time(1000.0)
    # The clock jumps to 1000 s and stays there (re-sent: the node may subscribe late).
    for _ in range(20):
        clock_publisher.publish(Clock(clock=stopped_at))
        listener.spin_while(None, lambda: False, 0.05)
    publisher = SyntheticCameraPublisher(ros_node, {"left": render_frame(LEFT, (BOX,))})

    def stamped_at_stop() -> bool:
        clock_publisher.publish(Clock(clock=stopped_at))
        publisher.publish(stopped_at)
        return bool(listener.scenes)

    assert listener.spin_while(None, stamped_at_stop, WAIT_S)
    assert conversions.time_to_seconds(listener.scenes[-1].header.stamp) == pytest.approx(1000.0)


def test_missing_extrinsics_stop_start_up_with_a_clear_error(start_node):
    process = start_node("perception_node", "-p", "camera_names:=[wrist]")
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "node kept running without extrinsics"
        time.sleep(0.05)
    assert process.poll() == 2
    assert "wrist.base_from_optical" in process.output()


def _change_state(ros_node, transition_id: int) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    client = ros_node.create_client(ChangeState, "/perception_node/change_state")
    try:
        clients.wait_for_service(client, WAIT_S)
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return bool(clients.call(ros_node, client, request, WAIT_S).success)
    finally:
        ros_node.destroy_client(client)


def _scene_status(listener: _Listener) -> DiagnosticStatus | None:
    entries = [s for s in listener.diagnostics if s.name == "perception_node: scene"]
    return entries[-1] if entries else None


def _status_value(status: DiagnosticStatus, key: str) -> str:
    return next(v.value for v in status.values if v.key == key)


def test_every_lifecycle_transition(start_node, ros_node, listener):
    """Unconfigured: no scene, diagnostics say so; configure: subscribed, still no scene;
    activate: scenes; deactivate: they stop; cleanup, a parameter changed, configure + activate:
    scenes at the new parameter's topic; shutdown ends the node cleanly."""
    from lifecycle_msgs.msg import Transition
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    # autostart false (the default): unconfigured, as bringup starts it.
    args = ["-p", "camera_names:=[left]", "-p", "publish_rate_hz:=10.0", *LEFT.parameters()]
    node = start_node("perception_node", *args)
    publisher = SyntheticCameraPublisher(ros_node, {"left": render_frame(LEFT, (BOX,))})

    def status_says(state: str) -> Callable[[], bool]:
        def check() -> bool:
            status = _scene_status(listener)
            return status is not None and _status_value(status, "lifecycle_state") == state

        return check

    assert listener.spin_while(publisher, status_says("unconfigured"), WAIT_S)
    assert not listener.scenes
    assert _change_state(ros_node, Transition.TRANSITION_CONFIGURE)
    assert listener.spin_while(publisher, status_says("inactive"), WAIT_S)
    assert not listener.scenes, "no scene while inactive"
    assert _change_state(ros_node, Transition.TRANSITION_ACTIVATE)
    assert listener.spin_while(publisher, lambda: bool(listener.scenes), WAIT_S)

    assert _change_state(ros_node, Transition.TRANSITION_DEACTIVATE)
    assert listener.spin_while(publisher, status_says("inactive"), WAIT_S)
    listener.spin_while(publisher, lambda: False, 0.5)  # a scene built before it may arrive
    count = len(listener.scenes)
    listener.spin_while(publisher, lambda: False, 1.5)  # 15 periods at 10 Hz
    assert len(listener.scenes) == count, "scenes kept coming while inactive"

    # Parameters are locked while configured, open after cleanup, and re-read at configure.
    set_parameters = ros_node.create_client(SetParameters, "/perception_node/set_parameters")
    clients.wait_for_service(set_parameters, WAIT_S)
    renamed = Parameter(
        name="scene_topic",
        value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="/a2/scene_2"),
    )
    request = SetParameters.Request(parameters=[renamed])
    (locked,) = clients.call(ros_node, set_parameters, request, WAIT_S).results
    assert not locked.successful and "unconfigured" in locked.reason
    assert _change_state(ros_node, Transition.TRANSITION_CLEANUP)
    assert listener.spin_while(publisher, status_says("unconfigured"), WAIT_S)
    (accepted,) = clients.call(ros_node, set_parameters, request, WAIT_S).results
    assert accepted.successful, accepted.reason
    renamed_scenes: list[SceneSnapshot] = []
    ros_node.create_subscription(SceneSnapshot, "/a2/scene_2", renamed_scenes.append, SCENE_QOS)
    assert _change_state(ros_node, Transition.TRANSITION_CONFIGURE)
    assert _change_state(ros_node, Transition.TRANSITION_ACTIVATE)
    assert listener.spin_while(publisher, lambda: bool(renamed_scenes), WAIT_S)

    assert _change_state(ros_node, Transition.TRANSITION_ACTIVE_SHUTDOWN)
    assert node.stop() == 0
