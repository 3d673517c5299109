"""sim_node over real DDS: the node in its own process, the test as the drivers' consumer."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.bringup import node_parameters
from a2_grasping.core.config_fields import describe
from a2_grasping.msg import SimObstacle
from a2_grasping.ros import conversions
from a2_grasping.ros.client import clients
from a2_grasping.sim.config import ARM_JOINTS, GRIPPER_JOINT, SimConfig
from a2_grasping.srv import SimObjects, SimReset

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0  # process start, model compile, renderer, DDS discovery
MOTION_TIMEOUT_S = 60.0  # a deadline on motions under load, not a bound on their time
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
TRAJECTORY_TOPIC = "/scaled_joint_trajectory_controller/joint_trajectory"
GRIPPER_TOPIC = "/robotiq_gripper_controller/commands"


def test_config_file_documents_the_defaults():
    document = yaml.safe_load((REPO_ROOT / "config" / "sim_node.yaml").read_text())
    values = node_parameters(document, "sim_node")
    assert set(values) == set(describe(SimConfig))
    assert all(describe(SimConfig).values()), "every parameter needs a description"
    defaults = {f.name: f.default for f in dataclasses.fields(SimConfig)}
    assert dataclasses.asdict(SimConfig(**values)) == defaults


class _Recorder:
    """Keeps every message per topic (the test reads them after spinning)."""

    def __init__(self, node):
        self.node = node
        self.messages: dict[str, list] = {}
        self.arrivals_s: dict[str, list[float]] = {}  # wall time each message arrived
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)

    def subscribe(self, msg_type, topic, qos=RELIABLE):
        self.messages[topic], self.arrivals_s[topic] = [], []

        def on_message(msg) -> None:
            self.messages[topic].append(msg)
            self.arrivals_s[topic].append(time.monotonic())

        self.node.create_subscription(msg_type, topic, on_message, qos)

    def spin_until(self, predicate, timeout_s, what):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            self.executor.spin_once(timeout_sec=0.05)
        raise TimeoutError(f"{what} not within {timeout_s} s")

    def latest_joints(self):
        msg = self.messages["/joint_states"][-1]
        return np.array(msg.position)

    def close(self):
        self.executor.remove_node(self.node)
        self.executor.shutdown(timeout_sec=1.0)


@pytest.mark.ros
@pytest.mark.sim
def test_sim_node_publishes_like_the_drivers_and_obeys_commands(start_node, ros_node):
    sim = start_node("sim_node", "-p", "camera_rate_hz:=2.0")
    recorder = _Recorder(ros_node)
    camera_topics = []
    for camera in ("front_left", "front_right"):
        for stream in ("color", "aligned_depth_to_color"):
            recorder.subscribe(Image, f"/{camera}/{stream}/image_raw")
            recorder.subscribe(CameraInfo, f"/{camera}/{stream}/camera_info")
            camera_topics += [f"/{camera}/{stream}/image_raw", f"/{camera}/{stream}/camera_info"]
    recorder.subscribe(JointState, "/joint_states")
    recorder.subscribe(Clock, "/clock", BEST_EFFORT)
    try:
        recorder.spin_until(
            lambda: (
                all(len(recorder.messages[t]) >= 2 for t in camera_topics)
                and len(recorder.messages["/joint_states"]) > 50
            ),
            STARTUP_TIMEOUT_S,
            "two frames from every camera stream and 50 joint states",
        )
        _check_camera_streams(recorder.messages)
        _check_joint_states_and_clock(recorder.messages)

        trajectory_pub = ros_node.create_publisher(JointTrajectory, TRAJECTORY_TOPIC, RELIABLE)
        gripper_pub = ros_node.create_publisher(Float64MultiArray, GRIPPER_TOPIC, RELIABLE)
        recorder.spin_until(
            lambda: (
                trajectory_pub.get_subscription_count() > 0
                and gripper_pub.get_subscription_count() > 0
            ),
            STARTUP_TIMEOUT_S,
            "sim_node's command subscriptions",
        )
        start = recorder.latest_joints()

        _check_bad_commands_move_nothing(sim, recorder, trajectory_pub, gripper_pub, start)
        # a good trajectory moves /joint_states to the goal, the frames on the way show the
        # joint states of their stamps; the gripper closes
        goal = start[:6] + np.array([-0.3, 0.1, -0.1, 0.0, 0.2, 0.5])
        trajectory_pub.publish(
            conversions.trajectory_to_msg(ARM_JOINTS, np.array([2.0]), goal[None])
        )
        recorder.spin_until(
            lambda: np.max(np.abs(recorder.latest_joints()[:6] - goal)) < 2e-3,
            MOTION_TIMEOUT_S,
            "arm at the goal",
        )
        _check_frames_show_the_state_of_their_stamp(recorder.messages)
        gripper_pub.publish(Float64MultiArray(data=[0.8]))
        recorder.spin_until(
            lambda: recorder.latest_joints()[6] > 0.7, MOTION_TIMEOUT_S, "gripper closed"
        )

        _check_ground_truth_and_reset(ros_node)
        recorder.spin_until(
            lambda: np.max(np.abs(recorder.latest_joints()[:6] - start[:6])) < 1e-3,
            MOTION_TIMEOUT_S,
            "arm back home after the reset",
        )
    finally:
        recorder.close()


def _check_camera_streams(messages):
    for camera in ("front_left", "front_right"):
        frame = f"{camera}_color_optical_frame"
        # the newest frame every stream has delivered (streams arrive independently)
        streams = [
            f"/{camera}/color/image_raw",
            f"/{camera}/aligned_depth_to_color/image_raw",
            f"/{camera}/color/camera_info",
            f"/{camera}/aligned_depth_to_color/camera_info",
        ]
        by_stamp = [{_stamp_ns(m): m for m in messages[topic]} for topic in streams]
        common = set.intersection(*(set(frames) for frames in by_stamp))
        assert common, "no frame delivered on all four streams"
        color, depth, info, depth_info = (frames[max(common)] for frames in by_stamp)
        assert (color.encoding, color.width, color.height, color.step) == ("rgb8", 640, 480, 1920)
        assert (depth.encoding, depth.width, depth.height, depth.step) == ("16UC1", 640, 480, 1280)
        assert len(color.data) == 640 * 480 * 3 and len(depth.data) == 640 * 480 * 2
        for msg in (color, depth, info, depth_info):
            assert msg.header.frame_id == frame
        expected_k = SimConfig().cameras()[0].intrinsics
        k = conversions.camera_info_to_intrinsics(info, 640, 480)
        np.testing.assert_allclose(k, expected_k)
        assert list(depth_info.k) == list(info.k)
        depth_m = conversions.depth_image_to_m(depth)
        valid = depth_m[depth_m > 0]
        assert valid.size > 0.8 * depth_m.size and 0.3 < np.median(valid) < 1.5
        rgb = conversions.color_image_to_rgb(color)
        assert rgb.std() > 10, "an image, not a blank frame"
        stamps = [
            conversions.time_to_seconds(m.header.stamp)
            for m in messages[f"/{camera}/color/image_raw"]
        ]
        # 2 Hz in simulated time; a period is skipped when the renderer is still busy
        periods = np.diff(stamps) / 0.5
        assert np.all(periods > 0.98) and np.allclose(periods, np.round(periods), atol=0.02)


def _check_frames_show_the_state_of_their_stamp(messages):
    """Each colour frame taken while the arm moved, rendered here at the joint state published
    with the same stamp, gives the same picture; at the state 5 ticks (40 ms) earlier it does
    not. The node's scene is the default one (single, seed 0), its gripper open and still."""
    from a2_grasping.sim.cell import SimCell

    states = {_stamp_ns(m): np.array(m.position) for m in messages["/joint_states"]}
    stamps = sorted(states)
    cell = SimCell(SimConfig())
    checked = 0
    try:
        for camera in ("front_left", "front_right"):
            for msg in messages[f"/{camera}/color/image_raw"]:
                stamp = _stamp_ns(msg)
                index = stamps.index(stamp) if stamp in states else -1
                if index < 5:
                    continue  # its joint state was not received here
                shown, earlier = states[stamp][:6], states[stamps[index - 5]][:6]
                if np.max(np.abs(shown - earlier)) < 5e-3:
                    continue  # the arm (nearly) still: any nearby state would match
                rgb = conversions.color_image_to_rgb(msg)
                cell.set_arm_positions(shown)
                same = np.count_nonzero(np.any(rgb != cell.render_ideal(camera)[0], axis=2))
                cell.set_arm_positions(earlier)
                before = np.count_nonzero(np.any(rgb != cell.render_ideal(camera)[0], axis=2))
                assert same <= 1e-3 * rgb.shape[0] * rgb.shape[1] and same < before / 10, (
                    f"{camera} frame at {stamp} ns: {same} pixels differ from its joint state, "
                    f"{before} from 40 ms earlier"
                )
                checked += 1
    finally:
        cell.close()
    assert checked >= 2, "frames taken while the arm moved"


def _stamp_ns(msg):
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _check_joint_states_and_clock(messages):
    states = messages["/joint_states"]
    assert list(states[-1].name) == [*ARM_JOINTS, GRIPPER_JOINT]
    assert len(states[-1].position) == 7 and len(states[-1].velocity) == 7
    stamps = np.array([conversions.time_to_seconds(m.header.stamp) for m in states])
    assert np.all(np.diff(stamps) > 0)
    assert np.median(np.diff(stamps)) <= 0.01, ">= 100 Hz in simulated time"
    clocks = [conversions.time_to_seconds(m.clock) for m in messages["/clock"]]
    assert len(clocks) > 10 and np.all(np.diff(clocks) > 0)


@contextlib.contextmanager
def _every_core_busy() -> Iterator[None]:
    """A busy-loop process per core, at normal priority: a machine loaded by other jobs."""
    hogs = [
        subprocess.Popen([sys.executable, "-I", "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


@pytest.mark.ros
@pytest.mark.sim
@pytest.mark.slow
def test_joint_states_keep_arriving_while_the_cameras_render_on_a_busy_machine(
    start_node, ros_node
):
    """The executor aborts a motion when no /joint_states arrived for 0.5 s of wall time
    (max_joint_state_age_s). Rendering two RGB-D frames (and the sensor model) every 0.2 s must
    not hold them up, even with every core busy."""
    frames_to_watch = 25  # per camera: 5 s of simulated time at 5 Hz
    with _every_core_busy():
        start_node("sim_node", "-p", "sensor_profile:=d435")
        arrivals_s: list[float] = []
        ros_node.create_subscription(
            JointState, "/joint_states", lambda _msg: arrivals_s.append(time.monotonic()), RELIABLE
        )
        recorder = _Recorder(ros_node)
        # Camera info only: receiving the images here would load this process, not the node.
        info_topics = [f"/{camera}/color/camera_info" for camera in ("front_left", "front_right")]
        for topic in info_topics:
            recorder.subscribe(CameraInfo, topic)
        try:
            recorder.spin_until(
                lambda: all(recorder.messages[t] for t in info_topics) and len(arrivals_s) > 10,
                2 * STARTUP_TIMEOUT_S,
                "frames from both cameras and joint states",
            )
            first_state = len(arrivals_s)
            first_frame = {t: len(recorder.messages[t]) for t in info_topics}
            recorder.spin_until(
                lambda: all(
                    len(recorder.messages[t]) - first_frame[t] >= frames_to_watch
                    for t in info_topics
                ),
                12 * STARTUP_TIMEOUT_S,
                f"{frames_to_watch} more frames from each camera",
            )
            gaps_s = np.diff(arrivals_s[first_state:])
        finally:
            recorder.close()
    largest_s = float(np.max(gaps_s))
    print(
        f"joint states: {gaps_s.size + 1} arrivals, largest gap {1e3 * largest_s:.0f} ms, "
        f"99th percentile {1e3 * np.percentile(gaps_s, 99):.0f} ms"
    )
    # No wall-clock bound (a loaded machine may pause any process): what must hold is that the
    # physics thread publishes while frames render, i.e. joint states arrive within every camera
    # period. In-line rendering (one thread) measured 180-360 ms gaps here, threaded 16-42 ms;
    # test_frozen_nodes.py checks the consequence (no stall reaches the executor).
    frame_arrivals_s = recorder.arrivals_s[info_topics[0]]
    for start_s, end_s in itertools.pairwise(frame_arrivals_s[1:]):
        inside = [t for t in arrivals_s if start_s < t < end_s]
        assert inside, f"no joint state between two frames ({start_s:.3f} .. {end_s:.3f} s)"


def _check_bad_commands_move_nothing(sim, recorder, trajectory_pub, gripper_pub, start) -> None:
    """Bad commands are rejected with a specific log line, and nothing moves."""
    bad_names = (*ARM_JOINTS[:5], "wrist_3")
    trajectory_pub.publish(
        conversions.trajectory_to_msg(bad_names, np.array([1.0]), start[None, :6] + 0.2)
    )
    nan_goal = start[None, :6].copy()
    nan_goal[0, 1] = math.nan
    trajectory_pub.publish(conversions.trajectory_to_msg(ARM_JOINTS, np.array([1.0]), nan_goal))
    gripper_pub.publish(Float64MultiArray(data=[math.nan]))
    recorder.spin_until(
        lambda: "NaN" in sim.output() and "gripper command rejected" in sim.output(),
        MOTION_TIMEOUT_S,
        "rejection log lines",
    )
    assert "unknown ['wrist_3']" in sim.output()
    t_end = time.monotonic() + 1.0
    recorder.spin_until(lambda: time.monotonic() > t_end, 2.0, "a second of joint states")
    np.testing.assert_allclose(recorder.latest_joints(), start, atol=2e-3)


def _check_ground_truth_and_reset(ros_node) -> None:
    """The sim-only services: ground truth, and resets refused with a reason or done."""
    objects_client = ros_node.create_client(SimObjects, "/sim/objects")
    reset_client = ros_node.create_client(SimReset, "/sim/reset")
    clients.wait_for_service(objects_client, STARTUP_TIMEOUT_S)
    clients.wait_for_service(reset_client, STARTUP_TIMEOUT_S)
    deadline = time.monotonic() + MOTION_TIMEOUT_S
    truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    while truth.arm_executing and time.monotonic() < deadline:  # settling after the goal
        truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    assert truth.scene == "single" and len(truth.objects) == 1 and not truth.arm_executing
    before_reset_s = conversions.time_to_seconds(truth.stamp)
    refused = clients.call(ros_node, reset_client, SimReset.Request(scene="shelf"), 5.0)
    assert not refused.success and "shelf" in refused.message
    flat = SimObstacle(name="sheet", center_m=[0.5, 0.0, 0.1], size_m=[0.1, 0.1, 0.0])
    refused = clients.call(ros_node, reset_client, SimReset.Request(obstacles=[flat]), 5.0)
    assert not refused.success and "'sheet' size_m" in refused.message
    where = truth.objects[0].pose.position
    on_it = SimObstacle(name="post", center_m=[where.x, where.y, 0.1], size_m=[0.1] * 3)
    refused = clients.call(
        ros_node, reset_client, SimReset.Request(seed=truth.seed, obstacles=[on_it]), 30.0
    )
    assert not refused.success and "'post' overlaps" in refused.message
    reset = clients.call(ros_node, reset_client, SimReset.Request(seed=5, scene="clutter"), 30.0)
    assert reset.success, reset.message
    assert 5 <= len(reset.objects) <= 8
    assert len({o.color for o in reset.objects}) == len(reset.objects)
    truth = clients.call(ros_node, objects_client, SimObjects.Request(), 5.0, attempts=3)
    assert truth.seed == 5 and [o.name for o in truth.objects] == [o.name for o in reset.objects]
    assert conversions.time_to_seconds(truth.stamp) > before_reset_s, "time never jumps back"
