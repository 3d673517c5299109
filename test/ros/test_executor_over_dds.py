"""executor_node and inference_node as processes, the test as the robot and the cameras.

The test publishes /joint_states (50 Hz, the arm at the simulator's home) and a fresh scene of
red boxes every 0.5 s; nothing listens to the arm commands, so only refusals and dry runs are
run here (the simulated cell runs real motions: test/e2e). Checked: goals refused while the
executor is inactive and accepted once active; cleanup releasing the runner's ports and
configure building them again; a goal's velocity scaling above
max_velocity_scaling clamped to it (the published plan's joint speeds); AMBIGUOUS_TARGET through
/select_grasp and through /pick, with nothing planned.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, JointState
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.installation import install_prefix
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.client import clients
from a2_grasping.ros.qos import JOINT_STATE_QOS, LATCHED_QOS, SCENE_QOS
from a2_grasping.srv import SelectGrasp
from a2_grasping.testing.synthetic_clouds import box_points, tabletop_cloud

pytestmark = pytest.mark.ros

# Generous deadlines on conditions, never bounds on how long anything took: a loaded 2-core
# machine starts the nodes, discovers and plans slowly.
WAIT_S = 60.0
TASK_WAIT_S = 180.0
HOME_RAD = (0.0, -1.9, 2.0, -1.671, -1.5708, 0.0)  # sim_node's home_joint_positions
GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
RED = (220, 30, 30)
# The planner's joint speed limit (PlannerConfig.max_joint_velocity_rad_s: the UR5e's 180 deg/s).
MAX_JOINT_VELOCITY_RAD_S = np.pi
CAP = 0.1  # max_velocity_scaling given to executor_node
WORKSPACE_BOX_M = (0.2, 0.8, -0.3, 0.3, -0.01, 0.4)


def _scene(stamp: Any, boxes_xy: list[tuple[float, float]]) -> SceneSnapshot:
    """Red 4 x 4 x 6 cm boxes on a grey table; one camera looking down, its image without depth
    (pixels without depth are free space for the executor's collision cloud)."""
    rng = np.random.default_rng(0)
    objects = [box_points(rng, (0.04, 0.04, 0.06), (0.0, 0.0), 3000) for _ in boxes_xy]
    for points, (x, y) in zip(objects, boxes_xy, strict=True):
        points[:, :2] += (x, y)
    table = tabletop_cloud(rng)
    table[:, :2] += (0.5, 0.0)
    points = np.vstack([*objects, table]).astype(np.float32)
    colors = np.full(points.shape, 200, dtype=np.uint8)
    colors[: sum(len(o) for o in objects)] = RED
    scene = SceneSnapshot()
    scene.header.frame_id = "base_link"
    scene.header.stamp = stamp
    scene.points = conversions.xyzrgb_to_cloud(points, colors, stamp, "base_link")
    scene.workspace_box_m = list(WORKSPACE_BOX_M)
    frame = "front_color_optical_frame"
    scene.camera_names.append("front")
    scene.color_images.append(
        conversions.rgb_to_image(np.zeros((48, 64, 3), np.uint8), stamp, frame)
    )
    scene.depth_images.append(
        conversions.depth_m_to_image(np.zeros((48, 64), np.float32), stamp, frame)
    )
    info = CameraInfo(width=64, height=48, k=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
    info.header.frame_id = frame
    scene.camera_infos.append(info)
    camera_pose = np.eye(4)
    camera_pose[:3, :3] = np.diag([1.0, -1.0, -1.0])  # looking straight down
    camera_pose[:3, 3] = (0.5, 0.0, 0.8)
    scene.base_from_camera.append(conversions.matrix_to_pose(camera_pose))
    return scene


class FakeCell:
    """The robot's joint states at 50 Hz and the cameras' scene every 0.5 s, freshly stamped,
    from a thread of their own (the test's node is spun by the calls meanwhile)."""

    def __init__(self, node: Node, boxes_xy: list[tuple[float, float]]) -> None:
        self._node = node
        self._boxes_xy = boxes_xy
        self._joints = node.create_publisher(JointState, "/joint_states", JOINT_STATE_QOS)
        self._scenes = node.create_publisher(SceneSnapshot, "/a2/scene", SCENE_QOS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_scene_s = 0.0
        while not self._stop.wait(0.02):
            stamp = self._node.get_clock().now().to_msg()
            state = JointState(name=[*UR_JOINT_NAMES, GRIPPER_JOINT])
            state.header.stamp = stamp
            state.position = [*HOME_RAD, 0.0]
            state.velocity = [0.0] * 7
            self._joints.publish(state)
            if time.monotonic() >= next_scene_s:
                self._scenes.publish(_scene(stamp, self._boxes_xy))
                next_scene_s = time.monotonic() + 0.5

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


@pytest.fixture
def fake_cell(ros_node) -> Iterator[FakeCell]:
    cell = FakeCell(ros_node, [(0.5, 0.1), (0.5, -0.1)])  # two red boxes, 20 cm apart
    yield cell
    cell.close()


def _spin_until(node: Node, future: Any, timeout_s: float, what: str) -> Any:
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        executor.spin_until_future_complete(future, timeout_sec=timeout_s)
    finally:
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)
    assert future.done(), f"{what}: no answer within {timeout_s} s"
    return future.result()


def _send(node: Node, client: ActionClient, goal: Any) -> Any:
    assert client.wait_for_server(timeout_sec=WAIT_S), "the action server did not appear"
    return _spin_until(node, client.send_goal_async(goal), WAIT_S, "goal response")


def _result(node: Node, handle: Any) -> Any:
    return _spin_until(node, handle.get_result_async(), TASK_WAIT_S, "task result").result


def _change_state(node: Node, name: str, transition: int) -> bool:
    client = node.create_client(ChangeState, f"/{name}/change_state")
    clients.wait_for_service(client, WAIT_S)
    request = ChangeState.Request(transition=Transition(id=transition))
    return bool(clients.call(node, client, request, 3 * WAIT_S).success)


def _activate_with_the_activator(ros_env: dict[str, str], *names: str) -> None:
    """As the launch file does it: lifecycle_activator confirms each node active."""
    command = [str(install_prefix() / "lib" / "a2_grasping" / "lifecycle_activator"), *names]
    done = subprocess.run(
        command, env=ros_env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"active: {', '.join(names)}" in done.stdout


def _executor_status(node: Node, name: str) -> Any:
    """The newest DiagnosticStatus `name` ("executor_node: tasks" / "executor_node: robot")
    published after this call."""
    found: list[Any] = []

    def on_diagnostics(message: DiagnosticArray) -> None:
        found.extend(status for status in message.status if status.name == name)

    subscription = node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + WAIT_S
    try:
        while not found:
            assert time.monotonic() < deadline, f"no '{name}' diagnostics"
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_subscription(subscription)
    return found[-1]


def _executor_state(node: Node) -> str:
    """The executor's lifecycle state as its diagnostics report it."""
    status = _executor_status(node, "executor_node: tasks")
    return next(kv.value for kv in status.values if kv.key == "state")


def _wait_for_count(count: Any, expected: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while count() != expected:
        assert time.monotonic() < deadline, f"count stayed {count()}, expected {expected}"
        time.sleep(0.1)


def test_goals_are_refused_while_the_executor_is_inactive(start_node, ros_node, ros_env):
    executor = start_node("executor_node")  # autostart false: unconfigured, as bringup starts it
    goals = {
        "/pick": (Pick, Pick.Goal(instruction="pick the red box", dry_run=True)),
        "/place": (Place, Place.Goal(instruction="on the table")),
        "/pick_and_place": (
            PickAndPlace,
            PickAndPlace.Goal(instruction="put the red box next to the other red box"),
        ),
    }
    action_clients = {name: ActionClient(ros_node, kind, name) for name, (kind, _) in goals.items()}
    for name, (_, goal) in goals.items():
        assert not _send(ros_node, action_clients[name], goal).accepted, name
    assert executor.output().count("rejecting a goal: executor_node is not active") >= 3
    assert _executor_state(ros_node) == "inactive"

    _activate_with_the_activator(ros_env, "executor_node")
    assert _executor_state(ros_node) == "active"
    # Accepted now; with no robot it ends for want of joint states, a specific refusal.
    handle = _send(ros_node, action_clients["/pick"], goals["/pick"][1])
    assert handle.accepted
    result = _result(ros_node, handle)
    assert result.error_code == Pick.Result.STALE_STATE, result.error_message

    assert _change_state(ros_node, "executor_node", Transition.TRANSITION_DEACTIVATE)
    for name, (_, goal) in goals.items():
        assert not _send(ros_node, action_clients[name], goal).accepted, name
    assert _executor_state(ros_node) == "inactive"


def test_a_velocity_scaling_above_the_cap_is_clamped_to_it(
    start_node, ros_node, ros_env, fake_cell
):
    start_node("inference_node")
    start_node("executor_node", "-p", f"max_velocity_scaling:={CAP}")
    _activate_with_the_activator(ros_env, "inference_node", "executor_node")
    plans: list[JointTrajectory] = []
    ros_node.create_subscription(JointTrajectory, "/a2/planned_path", plans.append, LATCHED_QOS)
    client = ActionClient(ros_node, Pick, "/pick")
    goal = Pick.Goal(instruction="pick the left red box", dry_run=True, velocity_scaling=1.0)
    handle = _send(ros_node, client, goal)
    assert handle.accepted
    result = _result(ros_node, handle)
    assert result.error_code == Pick.Result.NONE, result.error_message  # clamped, not refused
    deadline = time.monotonic() + WAIT_S
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    while not plans:
        assert time.monotonic() < deadline, "no plan on /a2/planned_path"
        executor.spin_once(timeout_sec=0.1)
    executor.remove_node(ros_node)
    executor.shutdown(timeout_sec=1.0)
    speeds = np.abs([point.velocities for point in plans[-1].points])
    fastest = float(speeds.max())
    cap = CAP * MAX_JOINT_VELOCITY_RAD_S
    # The time-optimal timing reaches the capped speed on the transit, and never exceeds it;
    # unclamped (scaling 1.0) it would reach about ten times that.
    assert 0.5 * cap < fastest <= 1.1 * cap, (fastest, cap)


def test_an_ambiguous_instruction_is_refused_over_dds(start_node, ros_node, ros_env, fake_cell):
    start_node("inference_node")
    start_node("executor_node")
    _activate_with_the_activator(ros_env, "inference_node", "executor_node")

    select = ros_node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(select, WAIT_S)
    response = clients.select_grasp(
        ros_node,
        select,
        # About the ambiguity, not freshness: the fake cell's scenes can be seconds apart on a
        # loaded machine (2.2 s seen in a fresh-clone suite).
        SelectGrasp.Request(instruction="pick the red box", max_input_age_s=60.0),
        within_s=WAIT_S,
        resend_after_s=10.0,
        wait_for_scene=True,
    )
    assert response.error_code == SelectErrorCode.AMBIGUOUS_TARGET, response.error_message
    assert "say 'left' or 'right'" in response.error_message
    assert list(response.candidates) == [] and response.selected_index == -1

    plans: list[JointTrajectory] = []
    ros_node.create_subscription(JointTrajectory, "/a2/planned_path", plans.append, LATCHED_QOS)
    handle = _send(
        ros_node, ActionClient(ros_node, Pick, "/pick"), Pick.Goal(instruction="pick the red box")
    )
    assert handle.accepted
    result = _result(ros_node, handle)
    assert result.error_code == Pick.Result.SELECTION_FAILED, result.error_message
    assert result.select_error_code == SelectErrorCode.AMBIGUOUS_TARGET
    assert "AMBIGUOUS_TARGET" in result.error_message and "'left'" in result.error_message
    assert not plans  # refused before planning: nothing planned, nothing moved


def test_cleanup_releases_the_ports_and_configure_builds_them_again(
    start_node, ros_node, ros_env, fake_cell
):
    start_node("inference_node")
    start_node("executor_node")
    _activate_with_the_activator(ros_env, "inference_node", "executor_node")
    publishers = lambda: ros_node.count_publishers("/a2/planned_path")  # noqa: E731
    _wait_for_count(publishers, 1)

    assert _change_state(ros_node, "executor_node", Transition.TRANSITION_DEACTIVATE)
    assert _change_state(ros_node, "executor_node", Transition.TRANSITION_CLEANUP)
    # Everything configure made is gone: the plan publisher, the adapters' command publishers.
    # Each removal reaches this node's graph on its own (a fresh-clone suite saw the plan publisher
    # gone and the arm's still listed), so each count is waited for.
    _wait_for_count(publishers, 0)
    arm_topic = "/scaled_joint_trajectory_controller/joint_trajectory"
    _wait_for_count(lambda: ros_node.count_publishers(arm_topic), 0)
    robot = _executor_status(ros_node, "executor_node: robot")
    assert "not configured" in robot.message

    assert _change_state(ros_node, "executor_node", Transition.TRANSITION_CONFIGURE)
    assert _change_state(ros_node, "executor_node", Transition.TRANSITION_ACTIVATE)
    _wait_for_count(publishers, 1)
    # The rebuilt runner sees joint states and scenes again: a dry run plans.
    client = ActionClient(ros_node, Pick, "/pick")
    handle = _send(ros_node, client, Pick.Goal(instruction="pick the left red box", dry_run=True))
    assert handle.accepted
    result = _result(ros_node, handle)
    assert result.error_code == Pick.Result.NONE, result.error_message
