"""Motion deadlines run on the node's clock: simulated time under use_sim_time (over real /clock
messages), with a wall-time bound when that clock does not run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock as ClockMessage

from a2_grasping.ros import conversions
from a2_grasping.ros.hardware.controllers import MIN_CLOCK_RATE, Deadline

pytestmark = pytest.mark.ros

WAIT_S = 60.0  # a deadline on conditions under load, not a bound on how long they took


@pytest.fixture
def sim_time_node(ros_domain_id: int) -> Iterator[tuple[Node, Node]]:
    """(a node on use_sim_time, a node publishing /clock), spun in the background."""
    context = Context()
    rclpy.init(
        context=context, domain_id=ros_domain_id, signal_handler_options=SignalHandlerOptions.NO
    )
    follower = rclpy.create_node(
        "deadline_follower",
        context=context,
        parameter_overrides=[Parameter("use_sim_time", value=True)],
    )
    publisher = rclpy.create_node("deadline_clock", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(follower)
    executor.add_node(publisher)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield follower, publisher
    finally:
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown(context=context)
        spinner.join(timeout=2.0)


def _set_sim_time(follower: Node, publish, seconds: float) -> None:
    """Publish /clock until the follower's clock shows `seconds`."""
    deadline = time.monotonic() + WAIT_S
    while conversions.clock_seconds(follower.get_clock()) != pytest.approx(seconds):
        assert time.monotonic() < deadline, "the /clock message never reached the node"
        publish(ClockMessage(clock=conversions.seconds_to_time(seconds)))
        time.sleep(0.02)


def test_a_motion_deadline_follows_simulated_time(sim_time_node):
    follower, publisher = sim_time_node
    clock_publisher = publisher.create_publisher(ClockMessage, "/clock", 10)
    _set_sim_time(follower, clock_publisher.publish, 10.0)
    deadline = Deadline(1.0, follower.get_clock())
    _set_sim_time(follower, clock_publisher.publish, 10.9)
    assert not deadline.expired()  # 0.9 s of simulated time, whatever the wall time was
    _set_sim_time(follower, clock_publisher.publish, 11.1)
    assert deadline.expired()


def test_a_stopped_clock_still_ends_a_motion_deadline_in_wall_time(sim_time_node):
    follower, _ = sim_time_node  # use_sim_time and nobody publishes /clock: the clock stays at 0
    timeout_s = 0.05
    started_s = time.monotonic()
    deadline = Deadline(timeout_s, follower.get_clock())
    while not deadline.expired():
        assert time.monotonic() - started_s < WAIT_S, "a stopped clock hung the deadline"
        time.sleep(0.01)
    assert time.monotonic() - started_s >= timeout_s / MIN_CLOCK_RATE
    assert conversions.clock_seconds(follower.get_clock()) == 0.0
