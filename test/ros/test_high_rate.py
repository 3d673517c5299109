"""HighRateLane over real DDS: /clock and high-rate topics served beside a node's executor."""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.time import Time as RosTime
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.qos import JOINT_STATE_QOS

pytestmark = pytest.mark.ros
WAIT_S = 60.0  # a deadline on conditions under load, not a bound on how long they took
TICK_S = 0.01  # wall period of the test's /clock and /joint_states: 100 Hz, as a UR driver at least


def _owner(ros_node, use_sim_time: bool, cli_args: list[str] | None = None):
    return rclpy.create_node(
        "a2_test_owner",
        namespace="/cell",
        context=ros_node.context,
        cli_args=cli_args,
        parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)],
    )


class _Spinning:
    """The owner on a MultiThreadedExecutor, as the pipeline's nodes run."""

    def __init__(self, node) -> None:
        self.executor = MultiThreadedExecutor(num_threads=2, context=node.context)
        self.executor.add_node(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)


def test_the_owner_follows_clock_through_the_lane_and_its_timers_fire(ros_node):
    owner = _owner(ros_node, use_sim_time=True)
    lane = HighRateLane(owner)
    spinning = _Spinning(owner)
    clock = ros_node.create_publisher(Clock, "/clock", 1)
    fired_at_ns: list[int] = []
    owner.create_timer(0.5, lambda: fired_at_ns.append(owner.get_clock().now().nanoseconds))
    start_ns, step_ns = 100 * 10**9, 10**8  # /clock from 100 s in steps of 0.1 s
    try:
        # The owner no longer subscribes to /clock itself; the lane does.
        assert "/clock" not in [s.topic_name for s in owner.subscriptions]
        assert "/clock" in [s.topic_name for s in lane.node.subscriptions]
        # The clock only moves when the test publishes, and it is held at each due time until
        # the timer has fired, so the timer reads exactly that time. Due: 100.0 s (overdue: the
        # timer started at time 0), then every 0.5 s of /clock.
        due_ns = [start_ns + k * 5 * step_ns for k in range(4)]
        for step in range(16):
            now_ns = start_ns + step * step_ns
            message = Clock(clock=RosTime(nanoseconds=now_ns).to_msg())
            clock.publish(message)
            if now_ns in due_ns:
                deadline_s = time.monotonic() + WAIT_S
                while len(fired_at_ns) < due_ns.index(now_ns) + 1:
                    assert time.monotonic() < deadline_s, (now_ns, fired_at_ns)
                    clock.publish(message)  # best effort, depth 1: a tick may be dropped
                    time.sleep(TICK_S)
        assert fired_at_ns == due_ns
    finally:
        spinning.close()
        lane.close()
        owner.destroy_node()


def test_topics_are_resolved_as_the_owner_resolves_them(ros_node):
    # As bringup starts a namespaced cell: its own clock, /clock -> /cell/clock.
    remaps = ["--ros-args", "-r", "joint_states:=/ur/joint_states", "-r", "/clock:=clock"]
    owner = _owner(ros_node, use_sim_time=True, cli_args=remaps)
    lane = HighRateLane(owner)
    received: list[JointState] = []
    lane.subscribe(JointState, "joint_states", received.append, JOINT_STATE_QOS)
    publisher = ros_node.create_publisher(JointState, "/ur/joint_states", JOINT_STATE_QOS)
    try:
        topics = sorted(s.topic_name for s in lane.node.subscriptions)
        assert topics == ["/cell/clock", "/ur/joint_states"]
        assert lane.node.get_namespace() == "/cell"
        assert lane.node.get_name() == "a2_test_owner_high_rate"
        deadline_s = time.monotonic() + WAIT_S
        while len(received) < 5 and time.monotonic() < deadline_s:
            publisher.publish(JointState(name=["shoulder_pan_joint"], position=[0.25]))
            time.sleep(TICK_S)
        assert len(received) >= 5 and received[-1].position[0] == 0.25
    finally:
        lane.close()
        owner.destroy_node()


def test_use_sim_time_cannot_change_after_start_up(ros_node):
    owner = _owner(ros_node, use_sim_time=False)
    lane = HighRateLane(owner)
    try:
        result = owner.set_parameters([Parameter("use_sim_time", value=True)])[0]
        assert not result.successful and "fixed at start-up" in result.reason
        assert owner.get_parameter("use_sim_time").value is False
        assert not owner.get_clock().ros_time_is_active
        assert owner.set_parameters([Parameter("use_sim_time", value=False)])[0].successful
    finally:
        lane.close()
        owner.destroy_node()
