"""Non-blocking client API for /select_grasp, /pick, /place and /pick_and_place, for behaviour
trees and other loops that must never wait on the network. The calls in flight are in
`pending.py`, what they end with in `results.py`.

    with GraspClient() as client:                  # own node and context, own spin thread
        client.wait_for_servers(timeout_s=10.0)    # blocking: scripts and tests only
        selection = client.select("pick the red block", timeout_s=10.0)
        ...                                        # each tick: selection.done(), .result()
        pick = client.pick(candidate=selection.result().selected, timeout_s=120.0)
        ...                                        # each tick: pick.stage, pick.result()
        pick.cancel()                              # asks the executor to stop the arm

Every call returns a handle at once. `done()`, `result()`, `stage` and `cancel()` take a lock
and read or set a few fields: they never wait on DDS. `result()` is None while pending, then a
frozen SelectResult / PickResult whose `outcome` is SUCCEEDED, FAILED (the server answered with
an error code, or rejected the goal), CANCELED, TIMEOUT (no answer within the call's timeout_s)
or UNAVAILABLE (no server within server_timeout_s); `message` always says why.

Spinning: by default the client spins its node on a background thread with its own
SingleThreadedExecutor (`spin_in_background=False` when the caller's executor spins the node).
Chosen over spin_once(timeout_sec=0) from the tick because:
- a tick that spins does DDS work inside the tick, one ready entity per spin_once: how long a
  tick takes and how many ticks an answer needs would depend on traffic (feedback, goal status);
  here the tick only reads a snapshot;
- answers, feedback and cancel acknowledgements are handled when they arrive, also while the tree
  sleeps between ticks (py_trees' tick_tock sleeps), so the tick rate changes only how soon the
  tree notices;
- a steady-clock timer on the executor enforces timeouts and waits for discovery, so a handle
  nobody polls still times out and still cancels its goal.
Shutdown is bounded: close() stops the spin loop (0.1 s slices) and joins it with a timeout.

Threading rule: every call on the rclpy clients (call_async, send_goal_async, get_result_async,
cancel_goal_async, remove_pending_request) runs on the executor, in the client's one mutually
exclusive callback group. The caller's thread only records a request and triggers a guard
condition. rclpy's ActionClient (Jazzy) stores a goal's future after sending the request,
without a lock: sent from another thread, the answer can arrive first and the goal is lost.
Serialising every call in one group rules that out, also under a MultiThreadedExecutor.

Right after discovery a server may not yet have matched our response reader, and an answer sent
then is lost (clients.py says the same); wait_for_servers() waits a short settle time for that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_services_default
from rclpy.signals import SignalHandlerOptions

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.msg import GraspCandidate, GraspTarget
from a2_grasping.ros import conversions, task_conversions
from a2_grasping.ros.client.pending import PendingCall, PendingPick, PendingPlace, PendingSelect
from a2_grasping.srv import SelectGrasp

# Period of the executor-side housekeeping (discovery, deadlines); events do not wait for it.
_HOUSEKEEPING_PERIOD_S = 0.05
# How often the spin loop checks its stop flag: bounds close().
_SPIN_SLICE_S = 0.1
# Time for a server to match our response reader after we discovered it (see module doc).
_DISCOVERY_SETTLE_S = 0.5
# Services (both directions of /select_grasp and the action's goal/result/cancel services) use
# the ROS default profile: reliable, volatile, depth 10. It is what every server here offers;
# volatile because an answer is only meaningful to the request that is waiting for it.
_SERVICE_QOS = qos_profile_services_default
# Feedback: reliable, depth 10, so a burst of stages during a fast pick is not dropped.
_FEEDBACK_QOS = QoSProfile(depth=10)


class GraspClient:
    """Non-blocking /select_grasp and /pick for one node (see the module doc for the threading).

    node: None = the client creates a node "a2_grasp_client" on its own context (domain_id, or
    ROS_DOMAIN_ID when None) and shuts both down in close(). server_timeout_s: how long a call
    waits for its server to be discovered before it ends UNAVAILABLE.
    """

    def __init__(
        self,
        node: Node | None = None,
        *,
        domain_id: int | None = None,
        select_service: str = "select_grasp",
        pick_action: str = "pick",
        place_action: str = "place",
        pick_and_place_action: str = "pick_and_place",
        server_timeout_s: float = 5.0,
        spin_in_background: bool = True,
    ) -> None:
        self._context: Context | None = None
        if node is None:
            self._context = Context()
            rclpy.init(
                context=self._context,
                domain_id=domain_id,
                signal_handler_options=SignalHandlerOptions.NO,
            )
            node = rclpy.create_node("a2_grasp_client", context=self._context)
        self.node = node
        self._server_timeout_s = server_timeout_s
        # Messages name what `ros2 action list` shows: the names resolved in the node's namespace.
        self._pick_action = node.resolve_topic_name(pick_action)
        self._select_service = node.resolve_service_name(select_service)
        self._closed = False
        self._calls: list[PendingCall[Any]] = []
        self._calls_lock = threading.Lock()
        group = MutuallyExclusiveCallbackGroup()
        self._select_client = node.create_client(
            SelectGrasp, select_service, qos_profile=_SERVICE_QOS, callback_group=group
        )
        self._pick_client = ActionClient(
            node,
            Pick,
            pick_action,
            callback_group=group,
            goal_service_qos_profile=_SERVICE_QOS,
            result_service_qos_profile=_SERVICE_QOS,
            cancel_service_qos_profile=_SERVICE_QOS,
            feedback_sub_qos_profile=_FEEDBACK_QOS,
        )
        self._task_actions = {
            "place": node.resolve_topic_name(place_action),
            "pick_and_place": node.resolve_topic_name(pick_and_place_action),
        }
        self._task_clients = {
            kind: ActionClient(
                node,
                action_type,
                self._task_actions[kind],
                callback_group=group,
                goal_service_qos_profile=_SERVICE_QOS,
                result_service_qos_profile=_SERVICE_QOS,
                cancel_service_qos_profile=_SERVICE_QOS,
                feedback_sub_qos_profile=_FEEDBACK_QOS,
            )
            for kind, action_type in (("place", Place), ("pick_and_place", PickAndPlace))
        }
        self._wake_guard = node.create_guard_condition(self._process, callback_group=group)
        # Steady clock: deadlines must run on under sim time too (and while /clock is paused).
        self._timer = node.create_timer(
            _HOUSEKEEPING_PERIOD_S,
            self._process,
            callback_group=group,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self._executor: SingleThreadedExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        if spin_in_background:
            self._executor = SingleThreadedExecutor(context=node.context)
            self._executor.add_node(node)
            self._thread = threading.Thread(target=self._spin, name="a2_grasp_client", daemon=True)
            self._thread.start()

    # ---- calls ----

    def select(
        self,
        instruction: str,
        *,
        max_candidates: int = 0,
        max_input_age_s: float = 0.0,
        camera_names: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> PendingSelect:
        """Start a /select_grasp call; 0 for max_candidates / max_input_age_s = the server's
        default. The server validates the request (bad fields come back INVALID_REQUEST)."""
        if max_candidates < 0:
            raise ValueError(f"max_candidates must be >= 0, got {max_candidates}")
        request = conversions.select_request_to_msg(
            instruction,
            max_input_age_s=max_input_age_s,
            max_candidates=max_candidates,
            camera_names=camera_names,
        )
        call = PendingSelect(
            self._select_client,
            request,
            service_name=self._select_service,
            timeout_s=timeout_s,
            server_timeout_s=self._server_timeout_s,
            wake=self._wake,
        )
        self._add(call)
        return call

    def pick(
        self,
        instruction: str = "",
        *,
        candidate: GraspCandidate | None = None,
        target: GraspTarget | None = None,
        dry_run: bool = False,
        velocity_scaling: float = 0.0,
        timeout_s: float = 120.0,
    ) -> PendingPick:
        """Start a /pick goal for `instruction` (the executor selects) or an explicit
        `candidate` (pose in the base frame, e.g. SelectResult.selected); exactly one of them.
        With a candidate, pass the `target` it was selected for (SelectResult.target) so the
        executor verifies the lift took that object. velocity_scaling 0 = the executor's
        default. On TIMEOUT the goal is cancelled."""
        if (candidate is None) == (not instruction):
            raise ValueError("give either an instruction or a candidate, not both or neither")
        goal = task_conversions.pick_goal_msg(
            instruction, candidate, target, dry_run=dry_run, velocity_scaling=velocity_scaling
        )
        call = PendingPick(
            self._pick_client,
            self._pick_action,
            goal,
            timeout_s=timeout_s,
            server_timeout_s=self._server_timeout_s,
            wake=self._wake,
        )
        self._add(call)
        return call

    def place(
        self,
        instruction: str,
        *,
        held_object: GraspTarget | None = None,
        grasp_pose: PoseStamped | None = None,
        dry_run: bool = False,
        velocity_scaling: float = 0.0,
        timeout_s: float = 120.0,
    ) -> PendingPlace:
        """Start a /place goal ("next to the blue ball", "on the plate"). `held_object` and
        `grasp_pose` (from the pick's result) say what is held; without them the executor uses
        what it remembers from its own last pick."""
        if not instruction.strip():
            raise ValueError("instruction must say where to place")
        goal = task_conversions.place_goal_msg(
            instruction,
            held_object,
            grasp_pose,
            dry_run=dry_run,
            velocity_scaling=velocity_scaling,
        )
        return self._start_task("place", goal, timeout_s)

    def pick_and_place(
        self,
        instruction: str = "",
        *,
        pick_instruction: str = "",
        place_instruction: str = "",
        dry_run: bool = False,
        velocity_scaling: float = 0.0,
        timeout_s: float = 180.0,
    ) -> PendingPlace:
        """Start a /pick_and_place goal: one sentence ("put the red block on the plate"), or
        the two parts."""
        if not instruction.strip() and not (pick_instruction.strip() and place_instruction.strip()):
            raise ValueError("give instruction, or both pick_instruction and place_instruction")
        goal = task_conversions.pick_and_place_goal_msg(
            instruction,
            pick_instruction,
            place_instruction,
            dry_run=dry_run,
            velocity_scaling=velocity_scaling,
        )
        return self._start_task("pick_and_place", goal, timeout_s)

    def _start_task(self, kind: str, goal: Any, timeout_s: float) -> PendingPlace:
        call = PendingPlace(
            self._task_clients[kind],
            self._task_actions[kind],
            goal,
            timeout_s=timeout_s,
            server_timeout_s=self._server_timeout_s,
            wake=self._wake,
        )
        self._add(call)
        return call

    def servers_ready(self, *, with_place: bool = False) -> bool:
        """Whether /select_grasp and /pick (and with_place: /place and /pick_and_place) are
        discovered (a graph query; does not wait)."""
        return (
            self._select_client.service_is_ready()
            and self._pick_client.server_is_ready()
            and (
                not with_place
                or all(client.server_is_ready() for client in self._task_clients.values())
            )
        )

    def wait_for_servers(self, timeout_s: float, *, with_place: bool = False) -> None:
        """Block until both servers are discovered, plus a short settle (module doc); raises
        TimeoutError naming the missing one. For scripts and tests, never from a tick."""
        deadline_s = time.monotonic() + timeout_s
        while not self.servers_ready(with_place=with_place):
            if time.monotonic() > deadline_s:
                missing = [
                    name
                    for name, ready in (
                        (self._select_client.srv_name, self._select_client.service_is_ready()),
                        (self._pick_action, self._pick_client.server_is_ready()),
                        *(
                            (self._task_actions[kind], client.server_is_ready())
                            for kind, client in self._task_clients.items()
                            if with_place
                        ),
                    )
                    if not ready
                ]
                raise TimeoutError(f"{', '.join(missing)} did not appear within {timeout_s} s")
            time.sleep(0.05)
        time.sleep(_DISCOVERY_SETTLE_S)

    # ---- executor side ----

    def _add(self, call: PendingCall[Any]) -> None:
        with self._calls_lock:
            if self._closed:
                raise RuntimeError("GraspClient is closed")
            self._calls.append(call)
        self._wake()

    def _wake(self) -> None:
        """Run _process on the executor as soon as possible (thread-safe, never blocks)."""
        if not self._closed:
            self._wake_guard.trigger()

    def _process(self) -> None:
        """Advance every call (executor thread, client's callback group)."""
        now_s = time.monotonic()
        with self._calls_lock:
            calls = list(self._calls)
        settled = []
        for call in calls:
            try:
                if call.advance(now_s):
                    settled.append(call)
            except Exception as error:  # one broken call must not stop the others
                self.node.get_logger().error(f"grasp client call failed: {error!r}")
                call.fail(f"client error: {error!r}")
                settled.append(call)
        if settled:
            with self._calls_lock:
                self._calls = [call for call in self._calls if call not in settled]

    def _spin(self) -> None:
        assert self._executor is not None
        while not self._stop.is_set():
            try:
                self._executor.spin_once(timeout_sec=_SPIN_SLICE_S)
            except ExternalShutdownException:
                return
            except Exception as error:  # keep serving the other calls, without spinning hot
                self.node.get_logger().error(f"grasp client spin: {error!r}")
                self._stop.wait(_SPIN_SLICE_S)

    # ---- shutdown ----

    def close(self, timeout_s: float = 2.0) -> None:
        """Cancel unfinished picks (the arm must not keep moving for nobody), stop the spin
        thread and release the clients; bounded by about timeout_s. With
        spin_in_background=False, stop spinning the node first: nothing waits for the cancel
        requests to go out then, so cancel picks and let them end before closing."""
        if self._closed:
            return
        deadline_s = time.monotonic() + timeout_s
        with self._calls_lock:
            picks = [c for c in self._calls if isinstance(c, PendingPick) and not c.done()]
        for pick in picks:
            pick.cancel()
        # Give the executor a moment to send those cancel requests (not to await the stops).
        while self._thread is not None and time.monotonic() < deadline_s:
            with self._calls_lock:
                unsent = [c for c in picks if c in self._calls and not c.cancel_sent]
            if not unsent:
                break
            time.sleep(0.01)
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(deadline_s - time.monotonic(), 2 * _SPIN_SLICE_S))
            if self._thread.is_alive():
                self.node.get_logger().warning("grasp client spin thread did not stop in time")
        if self._executor is not None:
            self._executor.remove_node(self.node)
            self._executor.shutdown(timeout_sec=1.0)
        self._pick_client.destroy()
        for client in self._task_clients.values():
            client.destroy()
        self.node.destroy_client(self._select_client)
        self.node.destroy_timer(self._timer)
        self.node.destroy_guard_condition(self._wake_guard)
        if self._context is not None:
            self.node.destroy_node()
            rclpy.try_shutdown(context=self._context)

    def __enter__(self) -> GraspClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
