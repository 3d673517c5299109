"""The whole pipeline running against the simulated cell, driven from one process.

Starts sim_node, perception_node, inference_node and executor_node as separate processes, with
the parameter files and overrides `bringup.launch.py` uses (a2_grasping.bringup), and drives
inference_node's lifecycle to active as the launch file does. Offers what the demo, the
end-to-end tests and `bench sim` need: reset the cell, wait for a scene of it, run /pick with
feedback (optionally cancelling), read joint states, and read the simulator's ground truth
(scoring only: the pipeline never sees it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from numpy.typing import NDArray
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState

from a2_grasping.action import Pick, PickAndPlace, Place
from a2_grasping.bringup import (
    PACKAGE,
    BringupOptions,
    NodeSpec,
    bring_to_active,
    bringup_nodes,
)
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.installation import install_prefix
from a2_grasping.msg import SceneSnapshot, SimObject, SimObstacle
from a2_grasping.ros import conversions
from a2_grasping.ros.service_call import CallUnansweredError, call_with_deadline, wait_for_future
from a2_grasping.srv import SimFault, SimObjects, SimReset
from a2_grasping.testing.node_process import NodeProcess, local_ros_environment

DISCOVERY_TIMEOUT_S = 60.0  # inference_node imports torch: slow on a loaded machine
CALL_TIMEOUT_S = 15.0
# Configuring inference_node loads its models (CLIP ViT-L takes tens of seconds on a CPU).
CONFIGURE_TIMEOUT_S = 180.0
LOG_LEVEL = "info"


def pipeline_specs(namespace: str = "") -> list[NodeSpec]:
    """The package's nodes exactly as `bringup.launch.py` starts them for the simulated cell."""
    share = install_prefix() / "share" / PACKAGE
    options = BringupOptions(use_sim=True, namespace=namespace)
    return [s for s in bringup_nodes(share, options) if s.package == PACKAGE]


def node_arguments(name: str, extra: Sequence[str] = ()) -> list[str]:
    """--ros-args of one package node as bringup starts it, for scripts that start a few nodes
    on their own: a lifecycle node activates itself (autostart), as nothing drives it there."""
    (spec,) = [spec for spec in pipeline_specs() if spec.name == name]
    autostart = ["-p", "autostart:=true"] if spec.lifecycle else []
    return [*spec.ros_arguments(LOG_LEVEL), *autostart, *extra]


class SimSession:
    def __init__(
        self,
        domain_id: int,
        log_dir: Path,
        sim_arguments: Sequence[str] = (),
        say: Callable[[str], None] = lambda _message: None,
        *,
        node_arguments: Mapping[str, Sequence[str]] | None = None,
        namespace: str = "",
    ) -> None:
        """`sim_arguments` and `node_arguments` (node name -> arguments) are appended to the
        nodes' --ros-args after bringup's own (e.g. {"inference_node": ["-p",
        "ground_instructions:=false"]} for the geometric mode). `namespace`: the cell's, as
        bringup's namespace argument sets it; the session's own node lives there too."""
        self._say = say
        env = local_ros_environment(domain_id)
        env["ROS_LOG_DIR"] = str(log_dir / "ros_log")
        self.processes: list[NodeProcess] = []
        specs = pipeline_specs(namespace)
        extras = {"sim_node": list(sim_arguments)}
        for name, arguments in (node_arguments or {}).items():
            extras[name] = [*extras.get(name, []), *arguments]
        unknown = set(extras) - {spec.name for spec in specs}
        if unknown:
            raise ValueError(f"no pipeline node named {sorted(unknown)}")
        for spec in specs:
            extra = extras.get(spec.name, ())
            log_path = log_dir / f"{spec.name}.log"
            arguments = [*spec.ros_arguments(LOG_LEVEL), *extra]
            self.processes.append(NodeProcess(spec.executable, arguments, env, log_path))
            say(f"started {spec.name} (log: {log_path})")
        self._lifecycle_nodes = [spec.name for spec in specs if spec.lifecycle]
        self._context = Context()
        rclpy.init(
            context=self._context,
            domain_id=domain_id,
            signal_handler_options=SignalHandlerOptions.NO,
        )
        self.namespace = namespace.strip("/")
        self.node = rclpy.create_node(
            "a2_sim_session", namespace=f"/{self.namespace}", context=self._context
        )
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._joint_state: JointState | None = None
        self._arm_path: list[NDArray[np.float64]] | None = None
        self._scene: SceneSnapshot | None = None
        self.node.create_subscription(
            JointState, "joint_states", self._on_joint_state, QoSProfile(depth=10)
        )
        self.node.create_subscription(
            SceneSnapshot, "a2/scene", self._on_scene, QoSProfile(depth=1)
        )
        self._reset = self.node.create_client(SimReset, "sim/reset")
        self._objects = self.node.create_client(SimObjects, "sim/objects")
        self._fault = self.node.create_client(SimFault, "sim/fault")
        self._tasks = {
            "/pick": ActionClient(self.node, Pick, "pick"),
            "/place": ActionClient(self.node, Place, "place"),
            "/pick_and_place": ActionClient(self.node, PickAndPlace, "pick_and_place"),
        }
        try:
            self._wait_for_servers()
        except BaseException:
            self.close()
            raise

    def _on_joint_state(self, msg: JointState) -> None:
        self._joint_state = msg
        if self._arm_path is not None:
            self._arm_path.append(conversions.joint_positions(msg, UR_JOINT_NAMES))

    def _on_scene(self, msg: SceneSnapshot) -> None:
        self._scene = msg

    def _activate(self, name: str, deadline: float) -> None:
        """configure -> activate, trusting the state the node reports (bring_to_active): a
        transition's response can be lost ("failed to send response (timeout)" when the server
        has not yet matched this client; a fresh-clone suite once waited 180 s for a configure
        that had long succeeded), so a call unanswered within CALL_TIMEOUT_S is followed by
        get_state, not by a failure."""
        get_client = self.node.create_client(GetState, f"{name}/get_state")
        change_client = self.node.create_client(ChangeState, f"{name}/change_state")
        transitions = {
            "configure": Transition.TRANSITION_CONFIGURE,
            "activate": Transition.TRANSITION_ACTIVATE,
        }
        try:
            while not (get_client.service_is_ready() and change_client.service_is_ready()):
                self._check_processes()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}/change_state did not appear")
                self._executor.spin_once(timeout_sec=0.1)

            def get_state() -> str | None:
                response = self._answer(get_client, GetState.Request(), CALL_TIMEOUT_S)
                return None if response is None else str(response.current_state.label)

            def change_state(transition: str) -> bool | None:
                request = ChangeState.Request(transition=Transition(id=transitions[transition]))
                response = self._answer(change_client, request, CALL_TIMEOUT_S)
                return None if response is None else bool(response.success)

            settle_by = time.monotonic() + CONFIGURE_TIMEOUT_S
            outcome = bring_to_active(
                name,
                get_state,
                change_state,
                expired=lambda: time.monotonic() > settle_by,
                pause=lambda: self.spin_for(0.5),
            )
            if not outcome.active:
                raise RuntimeError(outcome.message)
            self._say(f"{name} configured and active")
        finally:
            self.node.destroy_client(get_client)
            self.node.destroy_client(change_client)

    def _answer(self, client: Any, request: Any, timeout_s: float) -> Any:
        """The response, or None when none came within `timeout_s` (the request is dropped)."""
        try:
            return self._call(client, request, timeout_s)
        except CallUnansweredError:
            return None

    def _pump(self, slice_s: float) -> None:
        """One slice of waiting: spin this session's executor, and fail at once when a node of
        the cell has died (a dead node would otherwise read as a slow answer)."""
        self._check_processes()
        self._executor.spin_once(timeout_sec=slice_s)

    def change_state(self, name: str, transition_id: int) -> bool:
        """One lifecycle transition of pipeline node `name` (lifecycle_msgs/Transition id);
        whether the node made it. Not from inside a callback of this session."""
        client = self.node.create_client(ChangeState, f"{name}/change_state")
        try:
            request = ChangeState.Request(transition=Transition(id=transition_id))
            # The client is new: the call waits for the service first (discovery), then for
            # the answer.
            response = self._call(client, request, CONFIGURE_TIMEOUT_S)
            return bool(response.success)
        finally:
            self.node.destroy_client(client)

    def _wait_for_servers(self) -> None:
        deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        for name in self._lifecycle_nodes:
            self._activate(name, deadline)
        for ready, name in (
            (self._reset.service_is_ready, "/sim/reset"),
            (self._objects.service_is_ready, "/sim/objects"),
            *((client.server_is_ready, name) for name, client in self._tasks.items()),
        ):
            while not ready():
                self._check_processes()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not appear within {DISCOVERY_TIMEOUT_S} s")
                self._executor.spin_once(timeout_sec=0.1)
        self._say("all nodes are up: /sim/reset, /sim/objects and /pick answer")

    def _check_processes(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.poll()}:\n{process.output()[-2000:]}"
                )

    def spin_for(self, seconds: float) -> None:
        """Run this session's callbacks for `seconds` (wall), e.g. while counting messages."""
        deadline = time.monotonic() + seconds
        while (left_s := deadline - time.monotonic()) > 0.0:
            self._executor.spin_once(timeout_sec=min(0.05, left_s))

    def _wait(self, future: Any, timeout_s: float, what: str) -> Any:
        return wait_for_future(future, timeout_s=timeout_s, what=what, pump=self._pump)

    def _call(self, client: Any, request: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        """A service call of this session (CallUnansweredError, a TimeoutError, naming it)."""
        return call_with_deadline(client, request, timeout_s=timeout_s, pump=self._pump)

    # ---- the cell ----

    def reset(
        self,
        seed: int,
        scene: str,
        obstacles: Sequence[SimObstacle] = (),
        removed_objects: Sequence[str] = (),
    ) -> list[SimObject]:
        """Load the seed's scene (without `removed_objects`); returns its objects."""
        request = SimReset.Request(
            seed=seed,
            scene=scene,
            obstacles=list(obstacles),
            removed_objects=list(removed_objects),
        )
        response = self._call(self._reset, request)
        if not response.success:
            raise RuntimeError(f"/sim/reset failed: {response.message}")
        return list(response.objects)

    def objects(self) -> list[SimObject]:
        return list(self._objects_response().objects)

    def fault(self, request: SimFault.Request) -> str:
        """Inject a fault into the cell (sim-only /sim/fault); returns what was done. Raises
        RuntimeError when the cell refuses it. Not from inside a callback of this session (use
        `run_task`'s `faults`)."""
        response = self._call(self._fault, request)
        if not response.success:
            raise RuntimeError(f"/sim/fault refused: {response.message}")
        self._say(f"fault: {response.message}")
        return str(response.message)

    def _objects_response(self) -> SimObjects.Response:
        return self._call(self._objects, SimObjects.Request())

    def sim_time_s(self) -> float:
        """The simulator's current time (s), from its ground-truth service."""
        return conversions.time_to_seconds(self._objects_response().stamp)

    def wait_for_fresh_scene(self, settle_s: float = 1.0, timeout_s: float = 20.0) -> None:
        """Block until perception has published a scene taken after now (sim time) + settle."""
        after_s = self.sim_time_s() + settle_s
        deadline = time.monotonic() + timeout_s
        while (
            self._scene is None or conversions.time_to_seconds(self._scene.header.stamp) < after_s
        ):
            self._check_processes()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no scene of the current cell within {timeout_s:.0f} s")
            self._executor.spin_once(timeout_sec=0.05)
        # inference_node subscribes on its own schedule: until it holds a scene this fresh, a
        # selection could still run on the cell as it was before a reset.
        status = "inference_node: grasp selection"
        while float(self.diagnostic_values(status, timeout_s=10.0)["scene_stamp_s"]) < after_s:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"inference_node had no scene of the current cell in {timeout_s:.0f} s"
                )

    def latest_scene(self) -> SceneSnapshot | None:
        return self._scene

    def arm_positions(self, max_wait_s: float = 2.0) -> NDArray[np.float64]:
        """The newest arm joint positions (UR order), after spinning briefly for fresh ones."""
        self._joint_state = None
        deadline = time.monotonic() + max_wait_s
        while self._joint_state is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no /joint_states")
            self._executor.spin_once(timeout_sec=0.02)
        return conversions.joint_positions(self._joint_state, UR_JOINT_NAMES)

    @contextmanager
    def recording_arm_path(self) -> Iterator[list[NDArray[np.float64]]]:
        """Collects every arm joint state (UR order) that arrives while the block runs."""
        path: list[NDArray[np.float64]] = []
        self._arm_path = path
        try:
            yield path
        finally:
            self._arm_path = None

    def node_parameters(self, node_name: str, names: Sequence[str]) -> dict[str, Any]:
        """Current values of a pipeline node's parameters (None for an unset one)."""
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python

        client = self.node.create_client(GetParameters, f"{node_name}/get_parameters")
        try:
            response = self._call(client, GetParameters.Request(names=list(names)))
            return {
                name: parameter_value_to_python(value)
                for name, value in zip(names, response.values, strict=True)
            }
        finally:
            self.node.destroy_client(client)

    def diagnostic_values(self, name_prefix: str, timeout_s: float = 5.0) -> dict[str, str]:
        """The key/values of the next /diagnostics status whose name starts with `name_prefix`
        (e.g. "inference_node": its select latency percentiles over its recent calls)."""
        from diagnostic_msgs.msg import DiagnosticArray

        found: dict[str, str] = {}

        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                if status.name.startswith(name_prefix) and not found:
                    found.update({kv.key: kv.value for kv in status.values})

        subscription = self.node.create_subscription(
            DiagnosticArray, "/diagnostics", on_diagnostics, QoSProfile(depth=10)
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not found:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"no /diagnostics status named {name_prefix}* in {timeout_s} s"
                    )
                self._executor.spin_once(timeout_sec=0.05)
            return found
        finally:
            self.node.destroy_subscription(subscription)

    # ---- the task ----

    def pick(
        self,
        goal: Pick.Goal,
        timeout_s: float = 120.0,
        cancel_at_stage: str = "",
        cancel_after_s: float = 0.0,
        on_stage: Callable[[str], None] = lambda _stage: None,
        *,
        on_poll: Callable[[], None] | None = None,
        poll_period_s: float = 0.2,
        faults: Sequence[tuple[str, SimFault.Request]] = (),
    ) -> tuple[Pick.Result, list[str]]:
        """Run one /pick goal; returns its result and the stages reported in feedback.

        `on_poll` runs about every `poll_period_s` (wall) while the goal runs, outside any
        callback, so it may call this session's services (e.g. `objects()` to see which object
        rose during the pick, even when the executor set it back down). `faults`: see
        `run_task`."""
        result, stages = self.run_task(
            "/pick",
            goal,
            timeout_s,
            faults=faults,
            cancel_at_stage=cancel_at_stage,
            cancel_after_s=cancel_after_s,
            on_stage=on_stage,
            on_poll=on_poll,
            poll_period_s=poll_period_s,
        )
        pick_result: Pick.Result = result
        return pick_result, stages

    def run_task(
        self,
        action: str,
        goal: Any,
        timeout_s: float = 180.0,
        *,
        cancel_at_stage: str = "",
        cancel_after_s: float = 0.0,
        on_stage: Callable[[str], None] = lambda _stage: None,
        on_poll: Callable[[], None] | None = None,
        poll_period_s: float = 0.2,
        faults: Sequence[tuple[str, SimFault.Request]] = (),
    ) -> tuple[Any, list[str]]:
        """Run one goal of the executor's `action` ("/pick", "/place", "/pick_and_place");
        returns its result and the stages reported in feedback (see `pick`).

        `faults`: (stage, fault) pairs; each fault is injected (/sim/fault) as soon as feedback
        first reports its stage, in order (a later pair waits for the earlier ones)."""
        client = self._tasks[action]
        stages: list[str] = []
        stage_seen_at: list[float] = []

        def on_feedback(message: Any) -> None:
            stage = message.feedback.stage
            if not stages or stages[-1] != stage:
                stages.append(stage)
                stage_seen_at.append(time.monotonic())
                on_stage(stage)

        goal_handle = self._wait(
            client.send_goal_async(goal, feedback_callback=on_feedback),
            CALL_TIMEOUT_S,
            f"sending the {action} goal",
        )
        if not goal_handle.accepted:
            raise RuntimeError(f"{action} rejected the goal")
        result_future = goal_handle.get_result_async()
        deadline = time.monotonic() + timeout_s
        cancel_sent = False
        next_poll = time.monotonic()
        pending_faults = list(faults)
        while not result_future.done():
            self._check_processes()
            while pending_faults and pending_faults[0][0] in stages:
                self.fault(pending_faults.pop(0)[1])
            if on_poll is not None and time.monotonic() >= next_poll:
                on_poll()
                next_poll = time.monotonic() + poll_period_s
            if time.monotonic() > deadline:
                raise TimeoutError(f"{action} did not finish within {timeout_s:.0f} s")
            if (
                cancel_at_stage
                and not cancel_sent
                and cancel_at_stage in stages
                and time.monotonic() - stage_seen_at[stages.index(cancel_at_stage)]
                >= cancel_after_s
            ):
                goal_handle.cancel_goal_async()
                cancel_sent = True
            self._executor.spin_once(timeout_sec=0.05)
        return result_future.result().result, stages

    # ---- shutdown ----

    def close(self) -> list[int]:
        """Stop every node (SIGINT) and return their exit codes."""
        for client in self._tasks.values():
            client.destroy()
        self._executor.remove_node(self.node)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        return [process.stop(timeout_s=10.0) for process in reversed(self.processes)]

    def __enter__(self) -> SimSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
