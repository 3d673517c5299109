"""clients over real DDS: a blocking call leaves the caller's node in its executor; select_grasp
waits out its own timed-out attempt (BUSY) and, when asked, a server without a scene yet."""

from __future__ import annotations

import threading
import time

import pytest
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from std_msgs.msg import String
from std_srvs.srv import Trigger

from a2_grasping.ros.client import clients
from a2_grasping.srv import SelectGrasp

WAIT_S = 60.0  # a deadline on conditions under load, not a bound on how long they took


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


class _SlowSelectServer:
    """A one-slot /select_grasp like inference_node's: a selection takes `selection_s`, a request
    meeting a running one is refused BUSY, and the first `no_scene_answers` say NO_SCENE."""

    def __init__(self, ros_node, selection_s: float, no_scene_answers: int = 0) -> None:
        import rclpy

        self.node = rclpy.create_node("a2_test_select_server", context=ros_node.context)
        self.selection_s = selection_s
        self.no_scene_left = no_scene_answers
        self.codes: list[int] = []
        self._slot = threading.Lock()
        self.node.create_service(
            SelectGrasp,
            "/a2_test/select_grasp",
            self._serve,
            callback_group=ReentrantCallbackGroup(),
        )
        self.executor = MultiThreadedExecutor(num_threads=2, context=ros_node.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._spinner = threading.Thread(
            target=_spin, args=(self.executor, self._stop), daemon=True
        )
        self._spinner.start()

    def _serve(self, _request, response: SelectGrasp.Response) -> SelectGrasp.Response:
        if not self._slot.acquire(blocking=False):
            response.error_code = SelectGrasp.Response.BUSY
        else:
            try:
                if self.no_scene_left > 0:
                    self.no_scene_left -= 1
                    response.error_code = SelectGrasp.Response.NO_SCENE
                else:
                    time.sleep(self.selection_s)
                    response.error_code = SelectGrasp.Response.NONE
            finally:
                self._slot.release()
        self.codes.append(response.error_code)
        return response

    def close(self) -> None:
        self._stop.set()
        self._spinner.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


@pytest.mark.ros
def test_select_grasp_waits_for_its_own_timed_out_attempt_and_for_a_scene(ros_node):
    server = _SlowSelectServer(ros_node, selection_s=1.5, no_scene_answers=2)
    try:
        client = ros_node.create_client(SelectGrasp, "/a2_test/select_grasp")
        clients.wait_for_service(client, WAIT_S)
        request = SelectGrasp.Request(instruction="the box")
        # Without wait_for_scene, NO_SCENE is an answer like any other.
        response = clients.select_grasp(ros_node, client, request, within_s=5.0, resend_after_s=5.0)
        assert response.error_code == SelectGrasp.Response.NO_SCENE
        # Re-sent every 0.5 s during the 1.5 s selection, the copies meet BUSY; the first
        # request's answer is still taken.
        response = clients.select_grasp(
            ros_node, client, request, within_s=WAIT_S, resend_after_s=0.5, wait_for_scene=True
        )
        assert response.error_code == SelectGrasp.Response.NONE
        assert server.codes[:2] == [SelectGrasp.Response.NO_SCENE] * 2
        assert SelectGrasp.Response.BUSY in server.codes
    finally:
        server.close()


@pytest.mark.ros
def test_select_grasp_returns_the_last_answer_at_its_deadline(ros_node):
    server = _SlowSelectServer(ros_node, selection_s=0.0, no_scene_answers=1000)
    try:
        client = ros_node.create_client(SelectGrasp, "/a2_test/select_grasp")
        clients.wait_for_service(client, WAIT_S)
        # A server that never gets a scene: the call ends at its deadline (or pytest's timeout
        # fails the test) with the last answer it passed over.
        response = clients.select_grasp(
            ros_node,
            client,
            SelectGrasp.Request(instruction="the box"),
            within_s=1.0,
            resend_after_s=2.0,
            wait_for_scene=True,
        )
        assert response.error_code == SelectGrasp.Response.NO_SCENE
        assert len(server.codes) > 1
    finally:
        server.close()
