"""GraspClient and the py_trees behaviours against scripted in-test servers over real DDS.

The fake servers are a real rclpy node in this process (own context, own executor thread) serving
/select_grasp and /pick on the test's private domain; each test scripts their answers. That
update() never waits on the network is checked by counting RUNNING ticks, never by timing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import py_trees
import pytest
import rclpy
from py_trees.common import Status
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from a2_grasping.action import Pick
from a2_grasping.bt import behaviours
from a2_grasping.msg import GraspCandidate
from a2_grasping.ros import conversions
from a2_grasping.ros.client.grasp_client import GraspClient
from a2_grasping.ros.client.results import Outcome
from a2_grasping.srv import SelectGrasp
from a2_grasping.tools.bt_example import create_tree, failure_reason, tick_until_done

pytestmark = pytest.mark.ros

# A tick polls handles only (typically < 1 ms). A tick that waited on a server would take at least
# the shortest wait in these tests (a 0.3 s call timeout); the margin absorbs CI load and GC pauses.
# A behaviour that blocked on its call would finish in one or two ticks; one that does not
# returns RUNNING many times while the call is out (ticks every 20 ms). A count, not a time
# bound: it holds however loaded the machine is.
MIN_RUNNING_TICKS = 5
# Deadlines on conditions that a working client meets at once and a broken one never does:
# generous, so that a loaded machine cannot fail them; none bounds how long anything took.
WAIT_S = 30.0
# A pick that runs until it is canceled (or its client's timeout ends it).
LONG_PICK_S = 600.0
STAGES = ("selecting", "planning", "moving_to_pregrasp", "closing", "lifting")


def _candidate(x_m: float, candidate_id: int) -> GraspCandidate:
    # float32 fields: values exactly representable, so sent and received candidates compare equal
    candidate = GraspCandidate(score=0.875, width_m=0.0625, candidate_id=candidate_id)
    candidate.pose.header.frame_id = "base_link"
    pose = np.eye(4)
    pose[:3, 3] = (x_m, 0.1, 0.05)
    candidate.pose.pose = conversions.matrix_to_pose(pose)
    return candidate


class FakeServers:
    """Scripted /select_grasp and /pick. The callbacks sleep to play slow servers: they run on
    their own threads of this test-only executor, never on the client's."""

    def __init__(self, domain_id: int, select: bool = True, pick: bool = True) -> None:
        self.select_response = SelectGrasp.Response(
            error_code=SelectGrasp.Response.NONE,
            candidates=[_candidate(0.375, 7), _candidate(0.5, 8)],
            selected_index=1,
            mode="geometric",
        )
        self.select_delay_s = 0.0
        self.pick_result = Pick.Result(error_code=Pick.Result.NONE, object_held=True)
        self.pick_duration_s = 0.3
        self.select_requests: list[SelectGrasp.Request] = []
        self.pick_goals: list[Pick.Goal] = []
        self.cancel_requests = 0
        self.goal_ended = threading.Event()
        self._context = Context()
        rclpy.init(
            context=self._context,
            domain_id=domain_id,
            signal_handler_options=SignalHandlerOptions.NO,
        )
        self.node = rclpy.create_node("fake_a2_servers", context=self._context)
        group = ReentrantCallbackGroup()
        if select:
            self.node.create_service(
                SelectGrasp, "/select_grasp", self._on_select, callback_group=group
            )
        self._action = None
        if pick:
            self._action = ActionServer(
                self.node,
                Pick,
                "/pick",
                execute_callback=self._execute,
                cancel_callback=self._on_cancel,
                callback_group=group,
            )
        self._executor = MultiThreadedExecutor(num_threads=4, context=self._context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def _on_select(
        self, request: SelectGrasp.Request, response: SelectGrasp.Response
    ) -> SelectGrasp.Response:
        self.select_requests.append(request)
        time.sleep(self.select_delay_s)
        return self.select_response

    def _on_cancel(self, _goal_handle: object) -> CancelResponse:
        self.cancel_requests += 1
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle) -> Pick.Result:
        self.pick_goals.append(goal_handle.request)
        started = time.monotonic()
        try:
            while time.monotonic() - started < self.pick_duration_s:
                if goal_handle.is_cancel_requested:
                    goal_handle.canceled()
                    return Pick.Result(error_code=Pick.Result.CANCELED, error_message="stopped")
                fraction = (time.monotonic() - started) / self.pick_duration_s
                stage = STAGES[min(int(fraction * len(STAGES)), len(STAGES) - 1)]
                goal_handle.publish_feedback(Pick.Feedback(stage=stage, progress=fraction))
                time.sleep(0.02)
            result = self.pick_result
            if result.error_code == Pick.Result.NONE:
                goal_handle.succeed()
            else:
                goal_handle.abort()
            return result
        finally:
            self.goal_ended.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._executor.remove_node(self.node)
        self._executor.shutdown(timeout_sec=1.0)
        if self._action is not None:
            self._action.destroy()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)


@pytest.fixture(autouse=True)
def _clean_blackboard() -> Iterator[None]:
    py_trees.blackboard.Blackboard.clear()
    yield
    py_trees.blackboard.Blackboard.clear()


@pytest.fixture
def servers(ros_domain_id: int) -> Iterator[FakeServers]:
    running = FakeServers(ros_domain_id)
    yield running
    running.close()


@pytest.fixture
def client(ros_domain_id: int) -> Iterator[GraspClient]:
    with GraspClient(domain_id=ros_domain_id, server_timeout_s=0.5) as running:
        yield running


def _ready(client: GraspClient) -> GraspClient:
    client.wait_for_servers(timeout_s=WAIT_S)
    return client


def _blackboard(key: str) -> object:
    return py_trees.blackboard.Blackboard.get(f"/{behaviours.NAMESPACE}/{key}")


def _single(behaviour: py_trees.behaviour.Behaviour) -> py_trees.trees.BehaviourTree:
    return py_trees.trees.BehaviourTree(behaviour)


# ---- the example tree ----


def test_example_tree_selects_picks_and_reports(servers, client):
    tree = create_tree(_ready(client), "pick the red block", pick_timeout_s=WAIT_S)
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.SUCCESS, failure_reason(tree)
    assert run.ticks >= MIN_RUNNING_TICKS, run
    print(f"example tree on fake servers: {run.ticks} ticks, max {run.max_tick_s * 1e3:.2f} ms")
    assert servers.select_requests[0].instruction == "pick the red block"
    (goal,) = servers.pick_goals
    assert goal.use_candidate and not goal.instruction
    assert goal.candidate == servers.select_response.candidates[1]  # the selected one
    assert _blackboard(behaviours.CANDIDATE_KEY) == goal.candidate
    report = _blackboard(behaviours.REPORT_KEY)
    assert report["outcome"] == "succeeded" and report["object_held"]
    assert report["error_name"] == "NONE"
    assert report["stages"][0] == "selecting"
    assert report["selection"]["selected_index"] == 1
    assert report["selection"]["mode"] == "geometric"


# ---- failures become FAILURE with a message ----


def test_missing_service_fails_with_a_message(client):
    tree = _single(behaviours.SelectGrasp("SelectGrasp", client, "pick it", timeout_s=5.0))
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE and not run.timed_out
    # server_timeout_s 0.5 ran out, not the call's 5 s: the message says which
    assert "/select_grasp is not available" in tree.root.feedback_message
    result = _blackboard(behaviours.SELECT_RESULT_KEY)
    assert result.outcome is Outcome.UNAVAILABLE and result.error_code is None
    assert run.ticks >= MIN_RUNNING_TICKS


def test_missing_action_server_fails_with_a_message(client):
    tree = _single(behaviours.Pick("Pick", client, "pick it", timeout_s=5.0))
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "action /pick is not available" in tree.root.feedback_message
    assert _blackboard(behaviours.PICK_RESULT_KEY).outcome is Outcome.UNAVAILABLE


def test_a_slow_service_times_out(servers, client):
    servers.select_delay_s = 2.0
    tree = _single(behaviours.SelectGrasp("SelectGrasp", _ready(client), "pick", timeout_s=0.3))
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "timeout" in tree.root.feedback_message
    assert "did not answer within 0.3 s" in tree.root.feedback_message
    assert _blackboard(behaviours.SELECT_RESULT_KEY).outcome is Outcome.TIMEOUT
    assert run.ticks >= MIN_RUNNING_TICKS  # the server sleeping changes nothing for the tick


def test_select_error_code_fails_by_name(servers, client):
    servers.select_response = SelectGrasp.Response(
        error_code=SelectGrasp.Response.NO_SCENE,
        error_message="no scene received on /a2/scene yet",
        selected_index=-1,
    )
    tree = create_tree(_ready(client), "pick it")
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "NO_SCENE: no scene received" in failure_reason(tree)
    assert not servers.pick_goals  # the sequence stopped before Pick
    result = _blackboard(behaviours.SELECT_RESULT_KEY)
    assert (result.error_code, result.error_name) == (2, "NO_SCENE")


def test_pick_error_code_fails_by_name(servers, client):
    servers.pick_result = Pick.Result(
        error_code=Pick.Result.GRASP_FAILED, error_message="the gripper closed on nothing"
    )
    tree = create_tree(_ready(client), "pick it")
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "GRASP_FAILED: the gripper closed on nothing" in failure_reason(tree)
    result = _blackboard(behaviours.PICK_RESULT_KEY)
    assert result.outcome is Outcome.FAILED and result.error_name == "GRASP_FAILED"


def test_pick_without_a_held_object_is_a_failure(servers, client):
    servers.pick_result = Pick.Result(error_code=Pick.Result.NONE, object_held=False)
    tree = _single(behaviours.Pick("Pick", _ready(client), "pick it"))
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "holds nothing" in tree.root.feedback_message


def test_pick_without_a_candidate_on_the_blackboard_fails(servers, client):
    tree = _single(behaviours.Pick("Pick", _ready(client)))
    run = tick_until_done(tree, period_s=0.02, timeout_s=WAIT_S)
    assert run.status == Status.FAILURE
    assert "no candidate at /a2/grasp_candidate" in tree.root.feedback_message
    assert not servers.pick_goals


# ---- cancel ----


def test_stopping_a_running_pick_cancels_the_goal(servers, client):
    servers.pick_duration_s = LONG_PICK_S
    pick = behaviours.Pick("Pick", _ready(client), "pick it", timeout_s=60.0)
    tree = _single(pick)
    deadline = time.monotonic() + WAIT_S
    while not pick.feedback_message.startswith("stage: selecting"):
        assert time.monotonic() < deadline, pick.feedback_message
        tree.tick()
        assert tree.root.status == Status.RUNNING  # the long pick runs while ticks return
        time.sleep(0.02)
    tree.root.stop(Status.INVALID)  # what a higher-priority branch or a shutdown does
    assert servers.goal_ended.wait(timeout=WAIT_S), "the server never saw the cancel"
    assert servers.cancel_requests == 1


# ---- the client API directly ----


def test_client_handles_report_typed_results(servers, client):
    _ready(client)
    selection = client.select("pick the red block", max_candidates=5, max_input_age_s=2.0)
    assert not selection.done() and selection.result() is None
    _wait(selection.done)
    result = selection.result()
    assert result.ok and result.error_name == "NONE" and len(result.candidates) == 2
    assert result.selected == servers.select_response.candidates[1]
    (request,) = servers.select_requests
    assert (request.max_candidates, request.max_input_age_s) == (5, 2.0)

    pick = client.pick(candidate=result.selected, velocity_scaling=0.5)
    _wait(pick.done)
    picked = pick.result()
    assert picked.ok and picked.object_held and picked.error_name == "NONE"
    assert picked.stages[0] == "selecting" and pick.stage == picked.stages[-1]
    assert servers.pick_goals[0].velocity_scaling == 0.5

    with pytest.raises(ValueError, match="either an instruction or a candidate"):
        client.pick("pick it", candidate=result.selected)
    with pytest.raises(ValueError, match="timeout_s"):
        client.select("pick it", timeout_s=0.0)


def test_a_pick_that_times_out_is_cancelled(servers, client):
    servers.pick_duration_s = LONG_PICK_S
    pick = _ready(client).pick("pick it", timeout_s=0.5)
    _wait(pick.done)
    result = pick.result()
    assert result.outcome is Outcome.TIMEOUT
    assert "did not finish within 0.5 s" in result.message
    assert servers.goal_ended.wait(timeout=WAIT_S)
    assert servers.cancel_requests == 1


def test_cancel_returns_at_once_and_ends_canceled(servers, client):
    servers.pick_duration_s = LONG_PICK_S
    pick = _ready(client).pick("pick it", timeout_s=2 * WAIT_S)
    _wait(lambda: pick.stage != "")
    pick.cancel()  # returns without waiting for the server (the long pick would block it)
    _wait(pick.done)
    assert pick.result().outcome is Outcome.CANCELED
    assert pick.result().error_name == "CANCELED"


def test_close_cancels_a_running_pick(ros_domain_id, servers):
    servers.pick_duration_s = LONG_PICK_S
    client = GraspClient(domain_id=ros_domain_id)
    pick = _ready(client).pick("pick it", timeout_s=60.0)
    _wait(lambda: pick.stage != "")
    client.close()  # pytest's timeout catches a close that never returns
    assert servers.goal_ended.wait(timeout=WAIT_S)
    assert servers.cancel_requests == 1


def _wait(condition, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not done within {timeout_s} s"
        time.sleep(0.01)


def test_a_node_spun_by_the_caller_works_too(servers, ros_node):
    """spin_in_background=False: the caller's (multi-threaded) executor spins the node; the
    client's one callback group keeps its calls serialised."""
    executor = MultiThreadedExecutor(num_threads=2, context=ros_node.context)
    executor.add_node(ros_node)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin)
    thread.start()
    client = GraspClient(ros_node, spin_in_background=False)
    try:
        pick = _ready(client).pick("pick it", timeout_s=WAIT_S)
        _wait(pick.done)
        assert pick.result().ok, pick.result().message
    finally:
        stop.set()
        thread.join(timeout=2.0)
        executor.remove_node(ros_node)
        executor.shutdown(timeout_sec=1.0)
        client.close()
