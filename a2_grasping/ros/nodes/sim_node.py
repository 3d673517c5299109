"""sim_node: the simulated cell behind the topics the real drivers use.

Publishes what a RealSense per camera, the UR driver and the Robotiq driver publish
(`/<cam>/color/image_raw` rgb8, `/<cam>/aligned_depth_to_color/image_raw` 16UC1 mm, their
CameraInfo, `/joint_states`) plus `/clock`; accepts what the UR
`scaled_joint_trajectory_controller` topic and the Robotiq forward-command controller accept, and,
where control_msgs exists, offers the controllers' FollowJointTrajectory and GripperCommand
actions (sim_driver_actions.py).
Sim-only services reset the scene, give ground truth and inject faults (an object moved, removed
or slipping, the joint states or a camera frozen for a while), for tests and benchmarks.

Threading: the physics thread owns the cell (MuJoCo's model and data). Subscriptions and services
never touch the cell: they queue commands that the physics thread applies between steps, so a
reset never blocks a callback beyond a bounded wait, and the cell is never used from two threads.
The cameras render on a thread of their own (`a2_grasping.sim.rendering.RenderWorker`, with its
own MjData and GL context): when a frame is due the physics thread hands it a copy of the state
and steps on, so /joint_states and /clock never wait for a render (the executor aborts a motion
after 0.5 s without a joint state; two renders took longer than that on a loaded machine).
"""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from a2_grasping.ros import conversions, sim_conversions, spin
from a2_grasping.ros.nodes.sim_driver_actions import ArmState, DriverActionServers
from a2_grasping.ros.parameters import declare_config
from a2_grasping.sim.config import SimConfig
from a2_grasping.sim.faults import FaultRequest, FaultSchedule
from a2_grasping.sim.objects import ObjectState, ObstacleSpec, SceneKind
from a2_grasping.sim.rendering import FrameRequest, RenderedFrame, RenderWorker
from a2_grasping.sim.sensor import frame_dropped
from a2_grasping.srv import SimFault, SimObjects, SimReset

if TYPE_CHECKING:
    from a2_grasping.sim.cell import SimCell

# Camera streams: reliable like the RealSense driver's default, so subscribers with either
# reliability match; depth 2 so a slow subscriber gets the newest frames, not a backlog.
CAMERA_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=2,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# As joint_state_broadcaster publishes: reliable, depth 10.
JOINT_STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
)
# What rclpy's and rclcpp's time sources subscribe with (and Gazebo publishes): best effort,
# depth 1. A late clock tick is worthless, and a slow subscriber must never hold up physics.
CLOCK_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT
)
# Commands: reliable, as the ros2_control controllers subscribe (a lost command is a bug).
COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
)

# A reset rebuilds the model (~1 s of mesh loading) and the renderer.
RESET_TIMEOUT_S = 20.0
# A fault is applied between two physics steps (2 ms): this only bounds a stuck physics thread.
FAULT_TIMEOUT_S = 5.0
# Physics falling this far behind the wall clock restarts pacing instead of racing to catch up.
_MAX_LAG_S = 0.5
_STATS_PERIOD_S = 30.0
_THREAD_JOIN_TIMEOUT_S = 10.0
# Rejections: each distinct message at most once per second, all of them at most 5 per second,
# so a flood of bad commands cannot flood the log, and a new reason is never hidden by an old one.
_LOG_THROTTLE_S = 1.0
_LOG_MAX_PER_S = 5


@dataclass
class _Snapshot:
    """What the services report, refreshed by the physics thread after every tick."""

    stamp_s: float
    seed: int
    scene: str
    objects: list[ObjectState]
    arm: ArmState

    @property
    def arm_executing(self) -> bool:
        return self.arm.executing


@dataclass
class _Camera:
    name: str
    color_frame: str
    color: Publisher
    color_info: Publisher
    depth: Publisher
    depth_info: Publisher


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_node")
        self._config = declare_config(self, SimConfig)
        self._jobs: queue.SimpleQueue[Callable[[SimCell], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._snapshot_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._log_lock = threading.Lock()
        self._last_log_s: dict[str, float] = {}
        self._recent_logs_s: list[float] = []
        self._time_offset_s = 0.0  # simulated time before the last reset (physics thread)
        # Frame slots per camera since start, dropped ones included (physics thread).
        self._frame_slots = [0] * len(self._config.camera_names)
        self._faults = FaultSchedule(self._config.camera_names)  # physics thread

        self._joint_state_pub = self.create_publisher(
            JointState, self._config.joint_state_topic, JOINT_STATE_QOS
        )
        self._clock_pub = (
            self.create_publisher(Clock, "/clock", CLOCK_QOS)
            if self._config.publish_clock
            else None
        )
        self._cameras = {
            name: _Camera(
                name=name,
                color_frame=f"{name}_color_optical_frame",
                color=self.create_publisher(Image, f"{name}/color/image_raw", CAMERA_QOS),
                color_info=self.create_publisher(
                    CameraInfo, f"{name}/color/camera_info", CAMERA_QOS
                ),
                depth=self.create_publisher(
                    Image, f"{name}/aligned_depth_to_color/image_raw", CAMERA_QOS
                ),
                depth_info=self.create_publisher(
                    CameraInfo, f"{name}/aligned_depth_to_color/camera_info", CAMERA_QOS
                ),
            )
            for name in self._config.camera_names
        }
        commands = MutuallyExclusiveCallbackGroup()
        self.create_subscription(
            JointTrajectory,
            self._config.trajectory_topic,
            self._on_trajectory,
            COMMAND_QOS,
            callback_group=commands,
        )
        self.create_subscription(
            Float64MultiArray,
            self._config.gripper_command_topic,
            self._on_gripper_command,
            COMMAND_QOS,
            callback_group=commands,
        )
        # Reentrant: a reset waits (bounded) for the physics thread; object queries and other
        # resets must still get through meanwhile.
        services = ReentrantCallbackGroup()
        self.create_service(
            SimReset, self._config.reset_service, self._on_reset, callback_group=services
        )
        self.create_service(
            SimObjects, self._config.objects_service, self._on_objects, callback_group=services
        )
        self.create_service(
            SimFault, self._config.fault_service, self._on_fault, callback_group=services
        )
        self._driver_actions = self._start_driver_actions()
        self._render_worker = RenderWorker(self._publish_frames, self._on_render_error)
        self._thread = threading.Thread(target=self._physics_thread, name="sim_physics")
        self._thread.start()

    def _start_driver_actions(self) -> DriverActionServers | None:
        """The drivers' action servers, where control_msgs exists (interfaces/ builds a
        stand-in when the released package is missing)."""
        try:
            import control_msgs.action  # noqa: F401
        except ImportError:
            self.get_logger().info(
                "control_msgs cannot be imported: only the command topics are offered, not the "
                "FollowJointTrajectory / GripperCommand actions"
            )
            return None
        return DriverActionServers(self, self._config, self._jobs.put, self._arm_state)

    def _arm_state(self) -> ArmState | None:
        with self._snapshot_lock:
            return None if self._snapshot is None else self._snapshot.arm

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_THREAD_JOIN_TIMEOUT_S)
        self._render_worker.close(_THREAD_JOIN_TIMEOUT_S)
        if self._driver_actions is not None:
            self._driver_actions.destroy()
        super().destroy_node()

    def _warn_rejected(self, text: str) -> None:
        """A rejected command's warning, throttled per distinct text and overall."""
        now_s = time.monotonic()
        with self._log_lock:
            self._recent_logs_s = [t for t in self._recent_logs_s if now_s - t < 1.0]
            if len(self._recent_logs_s) >= _LOG_MAX_PER_S:
                return
            if now_s - self._last_log_s.get(text, -math.inf) < _LOG_THROTTLE_S:
                return
            self._last_log_s[text] = now_s
            self._recent_logs_s.append(now_s)
        self.get_logger().warning(text)

    # ---- callbacks (executor threads; they only queue work for the physics thread) ----

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        if not self._config.controllers_active:
            self._warn_rejected("trajectory ignored: the trajectory controller is not active")
            return
        command = conversions.trajectory_from_msg(msg)

        def run(cell: SimCell) -> None:
            from a2_grasping.sim.trajectory import TrajectoryError

            try:
                cell.command_trajectory(
                    command.joint_names,
                    command.times_s,
                    command.positions_rad,
                    command.velocities_rad_s,
                )
            except TrajectoryError as error:
                self._warn_rejected(
                    f"trajectory rejected, the arm keeps its current motion: {error}"
                )

        self._jobs.put(run)

    def _on_gripper_command(self, msg: Float64MultiArray) -> None:
        if not self._config.controllers_active:
            self._warn_rejected("gripper command ignored: the gripper controller is not active")
            return
        values = list(msg.data)
        if len(values) != 1:
            self._warn_rejected(
                f"gripper command rejected: expected one value (knuckle position, rad), "
                f"got {len(values)}"
            )
            return
        target = float(values[0])

        def run(cell: SimCell) -> None:
            try:
                cell.command_gripper(target)
            except ValueError as error:
                self._warn_rejected(
                    f"gripper command rejected, the gripper keeps its target: {error}"
                )

        self._jobs.put(run)

    def _on_reset(
        self, request: SimReset.Request, response: SimReset.Response
    ) -> SimReset.Response:
        scene = request.scene or None
        if scene is not None and scene not in {k.value for k in SceneKind}:
            response.success = False
            kinds = ", ".join(repr(k.value) for k in SceneKind)
            response.message = f"unknown scene kind {scene!r}; use one of {kinds}"
            return response
        try:
            obstacles = [sim_conversions.sim_obstacle_from_msg(m) for m in request.obstacles]
        except ValueError as error:
            response.success = False
            response.message = f"invalid obstacle: {error}"
            return response
        done = threading.Event()
        outcome: dict[str, str] = {}
        objects: list[ObjectState] = []
        removed = [str(name) for name in request.removed_objects]

        def run(cell: SimCell) -> None:
            try:
                self._reset(cell, int(request.seed), scene, obstacles, removed)
                objects.extend(cell.object_states())
                # /sim/objects answers the new scene from the moment this reset returns.
                self._update_snapshot(cell, self._now_s(cell))
            except ValueError as error:  # a refused scene (obstacle placement): the old one stays
                outcome["error"] = str(error)
            except Exception as error:  # reported to the caller, the old scene stays
                outcome["error"] = repr(error)
            done.set()

        self._jobs.put(run)
        if not done.wait(RESET_TIMEOUT_S):
            response.success = False
            response.message = f"reset did not finish within {RESET_TIMEOUT_S:.0f} s"
            return response
        if "error" in outcome:
            response.success = False
            response.message = f"reset failed: {outcome['error']}"
            return response
        response.success = True
        response.objects = [sim_conversions.sim_object_to_msg(s) for s in objects]
        return response

    def _on_objects(
        self, request: SimObjects.Request, response: SimObjects.Response
    ) -> SimObjects.Response:
        with self._snapshot_lock:
            snapshot = self._snapshot
        if snapshot is None:
            return response  # still starting: stamp 0, no objects
        response.stamp = conversions.seconds_to_time(snapshot.stamp_s)
        response.seed = snapshot.seed
        response.scene = snapshot.scene
        response.objects = [sim_conversions.sim_object_to_msg(s) for s in snapshot.objects]
        response.arm_executing = snapshot.arm_executing
        return response

    def _on_fault(
        self, request: SimFault.Request, response: SimFault.Response
    ) -> SimFault.Response:
        try:
            fault = sim_conversions.sim_fault_from_msg(request)
        except ValueError as error:
            response.success, response.message = False, f"fault refused: {error}"
            return response
        done = threading.Event()
        outcome: dict[str, str] = {}

        def run(cell: SimCell) -> None:
            try:
                outcome["message"] = self._apply_fault(cell, fault)
            except (KeyError, ValueError) as error:
                outcome["error"] = str(error).strip("'\"")
            done.set()

        self._jobs.put(run)
        if not done.wait(FAULT_TIMEOUT_S):
            response.success = False
            response.message = f"the fault was not applied within {FAULT_TIMEOUT_S:.0f} s"
        elif "error" in outcome:
            response.success, response.message = False, f"fault refused: {outcome['error']}"
        else:
            response.success, response.message = True, outcome["message"]
            self.get_logger().warning(f"fault injected: {outcome['message']}")
        return response

    # ---- physics thread ----

    def _physics_thread(self) -> None:
        try:
            self._simulate()
        except Exception:
            self.get_logger().fatal(f"physics thread failed:\n{traceback.format_exc()}")

    def _simulate(self) -> None:
        from a2_grasping.sim.cell import SimCell  # MuJoCo and its GL context: this thread only

        config = self._config
        cell = SimCell(config)
        self._time_offset_s = 0.0
        tick_s = 1.0 / config.joint_state_rate_hz
        camera_period_s = 1.0 / config.camera_rate_hz
        next_frame_s = 0.0
        anchor_wall_s, anchor_sim_s = time.monotonic(), 0.0
        stats_wall_s, stats_sim_s = anchor_wall_s, 0.0
        self.get_logger().info(
            f"simulating scene '{cell.scene.value}' seed {cell.seed}: "
            f"{', '.join(o.name for o in cell.objects)}"
        )
        try:
            while not self._stop.is_set():
                self._run_jobs(cell)
                now_s = self._now_s(cell)
                self._faults.expire(cell, now_s)
                self._publish_state(cell, now_s)
                if now_s + 1e-9 >= next_frame_s:
                    self._request_frames(cell, now_s)
                    next_frame_s = max(next_frame_s + camera_period_s, now_s)
                cell.step(tick_s)
                if config.real_time_factor > 0.0:
                    sim_s = self._now_s(cell)
                    due_wall_s = anchor_wall_s + (sim_s - anchor_sim_s) / config.real_time_factor
                    ahead_s = due_wall_s - time.monotonic()
                    if ahead_s > 0.0:
                        self._stop.wait(ahead_s)
                    elif ahead_s < -_MAX_LAG_S:
                        anchor_wall_s, anchor_sim_s = time.monotonic(), sim_s
                wall_now = time.monotonic()
                if wall_now - stats_wall_s >= _STATS_PERIOD_S:
                    sim_s = self._now_s(cell)
                    rendered = self._render_worker.take_stats()
                    frames = max(rendered.frames, 1)
                    self.get_logger().info(
                        f"real-time factor {(sim_s - stats_sim_s) / (wall_now - stats_wall_s):.2f} "
                        f"(target {config.real_time_factor or 'max'}), "
                        f"per RGB-D frame {1e3 * rendered.frame_s / frames:.1f} ms "
                        f"(rendering {1e3 * rendered.render_s / frames:.1f} ms), "
                        f"{rendered.frames} frames published, {rendered.replaced} camera periods "
                        "skipped while the renderer was busy"
                    )
                    stats_wall_s, stats_sim_s = wall_now, sim_s
        finally:
            cell.close()

    def _now_s(self, cell: SimCell) -> float:
        return self._time_offset_s + cell.time_s

    def _reset(
        self,
        cell: SimCell,
        seed: int,
        scene: str | None,
        obstacles: list[ObstacleSpec],
        removed: list[str],
    ) -> None:
        # Simulated time stays monotonic across resets: use_sim_time nodes must not see a jump
        # back (their timers and stamps would break). A refused reset leaves the clock alone.
        elapsed_s = self._now_s(cell)
        cell.reset(seed, scene or cell.scene, obstacles, removed)
        self._time_offset_s = elapsed_s
        self._faults.clear()
        with_obstacles = f"; obstacles: {', '.join(o.name for o in obstacles)}" if obstacles else ""
        without = f"; removed: {', '.join(removed)}" if removed else ""
        self.get_logger().info(
            f"reset to scene '{cell.scene.value}' seed {seed}: "
            f"{', '.join(o.name for o in cell.objects)}{with_obstacles}{without}"
        )

    def _apply_fault(self, cell: SimCell, fault: FaultRequest) -> str:
        message = self._faults.apply(cell, fault, self._now_s(cell))
        self._update_snapshot(cell, self._now_s(cell))  # /sim/objects shows it at once
        return message

    def _run_jobs(self, cell: SimCell) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job(cell)

    def _publish_state(self, cell: SimCell, now_s: float) -> None:
        stamp = conversions.seconds_to_time(now_s)
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=stamp))
        if not self._faults.joint_states_frozen(now_s):
            self._joint_state_pub.publish(
                conversions.joint_state(
                    cell.joint_names,
                    cell.joint_positions(),
                    cell.joint_velocities(),
                    stamp,
                )
            )
        self._update_snapshot(cell, now_s)

    def _update_snapshot(self, cell: SimCell, now_s: float) -> None:
        positions = cell.joint_positions()
        arm = ArmState(
            stamp_s=now_s,
            arm_rad=positions[:6],
            setpoint_rad=cell.arm_setpoint_rad,
            executing=cell.arm_executing,
            gripper_rad=float(positions[6]),
        )
        snapshot = _Snapshot(
            stamp_s=now_s,
            seed=cell.seed,
            scene=cell.scene.value,
            objects=cell.object_states(),
            arm=arm,
        )
        with self._snapshot_lock:
            self._snapshot = snapshot

    def _request_frames(self, cell: SimCell, now_s: float) -> None:
        """Hand this camera period's state to the render worker, stamped with the stamp its
        joint state was published with. A frame the drop rate loses is neither rendered nor
        published."""
        cameras = []
        for index, spec in enumerate(cell.cameras):
            frame_index = self._frame_slots[index]
            self._frame_slots[index] = frame_index + 1
            if not self._faults.camera_frozen(spec.name, now_s) and not frame_dropped(
                self._config.camera_drop_rate,
                seed=self._config.sensor_seed,
                camera_index=index,
                frame_index=frame_index,
            ):
                cameras.append(spec.name)
        if cameras:
            self._render_worker.submit(
                FrameRequest(cell.render_scene, cell.render_state(), now_s, tuple(cameras))
            )

    def _publish_frames(self, frames: Sequence[RenderedFrame]) -> None:
        """One camera period's RGB-D frames and their CameraInfo (render thread).

        Converted first, then published stream by stream (camera infos, depth, colour), so the
        cameras' frames complete within one image of each other: perception fuses the newest
        complete frame of every camera and skips a scene whose cameras are a period apart."""
        infos, depths, colors = [], [], []
        for frame in frames:
            camera, spec = self._cameras[frame.camera.name], frame.camera
            stamp = conversions.seconds_to_time(frame.stamp_s)
            info = conversions.intrinsics_to_camera_info(
                spec.intrinsics, spec.width, spec.height, stamp, camera.color_frame
            )
            # Aligned depth shares the colour camera's frame and intrinsics, as on a RealSense.
            infos += [(camera.color_info, info), (camera.depth_info, info)]
            depth = conversions.depth_m_to_image(frame.depth_m, stamp, camera.color_frame, "16UC1")
            depths.append((camera.depth, depth))
            colors.append(
                (camera.color, conversions.rgb_to_image(frame.rgb, stamp, camera.color_frame))
            )
        for publisher, message in (*infos, *depths, *colors):
            publisher.publish(message)

    def _on_render_error(self, text: str) -> None:
        self.get_logger().fatal(f"camera rendering failed, no more frames are published:\n{text}")


def main(args: list[str] | None = None) -> int:
    spin.init(args)
    return spin.run(SimNode())


if __name__ == "__main__":
    raise SystemExit(main())
