"""clients.call over real DDS: a blocking call leaves the caller's node in its executor."""

from __future__ import annotations

import threading
import time

import pytest
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String
from std_srvs.srv import Trigger

from a2_grasping.ros.client import clients

WAIT_S = 10.0


@pytest.mark.ros
def test_a_call_hands_the_node_back_to_its_executor(ros_node):
    server = _server_node(ros_node)
    server_executor = SingleThreadedExecutor(context=ros_node.context)
    server_executor.add_node(server)
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(server_executor, stop), daemon=True)
    spinner.start()
    owner = SingleThreadedExecutor(context=ros_node.context)
    owner.add_node(ros_node)
    received: list[str] = []
    ros_node.create_subscription(String, "/a2_test/chatter", lambda m: received.append(m.data), 10)
    publisher = server.create_publisher(String, "/a2_test/chatter", 10)
    try:
        client = ros_node.create_client(Trigger, "/a2_test/trigger")
        clients.wait_for_service(client, WAIT_S)
        response = clients.call(ros_node, client, Trigger.Request(), WAIT_S, attempts=3)
        assert response.success and response.message == "triggered"
        assert ros_node.executor is owner

        deadline = time.monotonic() + WAIT_S
        while not received and time.monotonic() < deadline:
            publisher.publish(String(data="after the call"))
            owner.spin_once(timeout_sec=0.1)
        assert received and received[-1] == "after the call", "the owner no longer spins the node"

        # an executor the node has left (rclpy still names it as the node's) is not revived
        owner.remove_node(ros_node)
        owner.shutdown(timeout_sec=1.0)
        response = clients.call(ros_node, client, Trigger.Request(), WAIT_S, attempts=3)
        assert response.success and ros_node.executor is None
    finally:
        stop.set()
        spinner.join(timeout=2.0)
        owner.shutdown(timeout_sec=1.0)
        server_executor.shutdown(timeout_sec=1.0)
        server.destroy_node()


def _server_node(ros_node):
    import rclpy

    server = rclpy.create_node("a2_test_server", context=ros_node.context)
    server.create_service(
        Trigger,
        "/a2_test/trigger",
        lambda _request, response: _answer(response),
    )
    return server


def _answer(response: Trigger.Response) -> Trigger.Response:
    response.success, response.message = True, "triggered"
    return response


def _spin(executor: SingleThreadedExecutor, stop: threading.Event) -> None:
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.05)
