"""perception_node: RGB-D cameras -> one fused scene in the base frame (/a2/scene, /a2/points).

Per camera, colour, depth and CameraInfo are matched by stamp (ApproximateSync); the newest
matched triple is kept. A timer builds the scene from the newest frame of every camera, only
when all of them are fresh and close in time, and publishes it. The timer runs on the steady
clock: its period budgets CPU, which is spent in wall time, while freshness is judged on the
node's clock (simulated time under use_sim_time). On a sim-time timer the frames that arrive
as a replayed bag ends would never be fused, because /clock stops with the bag and the timer
with it (a loaded CI machine once ended a 1.5 s regression bag with no scene at all).

Bad input (unsupported encodings, sizes that disagree with CameraInfo, unregistered depth,
missing extrinsics) is rejected per frame with a throttled log line and a diagnostics entry; the
node keeps running.

A lifecycle node, as nav2's servers are: configure reads the parameters (they may change while
unconfigured) and creates the cameras' subscriptions, extrinsics, filters and publishers;
activate starts publishing scenes; deactivate stops them (frames are still matched, so a
re-activation publishes at once); cleanup releases everything configure made. /diagnostics
reports the state throughout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from a2_grasping.core.frame_filters import CameraFilter
from a2_grasping.core.perception import (
    CameraFrame,
    FrameCloud,
    PerceptionError,
    frame_cloud,
    fuse_frames,
)
from a2_grasping.core.perception_config import CameraConfig, PerceptionConfig
from a2_grasping.core.stats import EventCounts, RollingPercentiles
from a2_grasping.core.sync import ApproximateSync
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions, diagnostics, spin
from a2_grasping.ros.hardware.extrinsics import (
    Extrinsics,
    ExtrinsicsUnavailableError,
    make_extrinsics,
)
from a2_grasping.ros.high_rate import HighRateLane
from a2_grasping.ros.parameters import declare_config, read_config
from a2_grasping.ros.qos import DIAGNOSTICS_QOS, SCENE_QOS

# The cloud for RViz shows the latest scene: reliable (RViz's default), volatile, latest only.
POINTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
LOG_THROTTLE_S = 5.0
STREAMS = ("color", "depth", "info")


@dataclass
class _CameraState:
    config: CameraConfig
    extrinsics: Extrinsics
    sync: ApproximateSync[Image | CameraInfo]
    filter: CameraFilter
    latest: tuple[Image, Image, CameraInfo, Time, float] | None = None  # ..., stamp, stamp_s
    frame: CameraFrame | None = None  # converted `latest`, built at most once per frame
    frame_stamp: Time = field(default_factory=Time)
    cloud: FrameCloud | None = None
    frames_matched: int = 0
    rejections: EventCounts = field(default_factory=EventCounts)
    last_problem: str = ""


class PerceptionNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("perception_node")
        self._config = declare_config(self, PerceptionConfig, reloadable=True)
        for name in self._config.camera_names:
            declare_config(self, CameraConfig, prefix=f"{name}.", reloadable=True)
        self._configured = False  # from configure until cleanup: parameters locked
        self._active = False
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._lock = threading.Lock()  # guards the cameras' `latest` between the two groups
        self._cameras: dict[str, _CameraState] = {}
        # What configure created, for cleanup: the cameras' subscriptions on the high-rate lane,
        # and this node's publishers, timers and the extrinsics' subscriptions.
        self._lane_subscriptions: list[Subscription] = []
        self._made: list[Publisher | Timer | Subscription] = []
        self._reset_counts()
        self._diagnostics_publisher = self.create_publisher(
            DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS
        )
        self._output_group = MutuallyExclusiveCallbackGroup()
        self.create_timer(diagnostics.PERIOD_S, self._publish_diagnostics, self._output_group)
        # Matching is cheap and must keep up with the cameras (3 topics per camera at up to
        # 30 Hz each): on the high-rate lane, which also follows /clock. Scene building is heavier
        # and runs on the node's executor, so it never delays incoming frames.
        self._high_rate = HighRateLane(self)
        if self._config.autostart:
            self.trigger_configure()
            self.trigger_activate()

    def destroy_node(self) -> None:
        self._high_rate.close()
        super().destroy_node()

    # ---- lifecycle ----

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._configured = True
        before = set(self._entities())
        try:
            config = read_config(self, PerceptionConfig)
            configs = {}
            for name in config.camera_names:
                if not self.has_parameter(f"{name}.extrinsics_source"):
                    declare_config(self, CameraConfig, prefix=f"{name}.", reloadable=True)
                configs[name] = read_config(self, CameraConfig, prefix=f"{name}.")
            sources = make_extrinsics(self, configs, config.base_frame)
        except (ValueError, RuntimeError) as error:  # a bad value; TF without tf2_msgs
            self._made = [entity for entity in self._entities() if entity not in before]
            self._release()  # whatever the extrinsics had created
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self._config = config
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=config.queue_size,
            reliability=ReliabilityPolicy.BEST_EFFORT
            if config.image_reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE,
        )
        for name, camera in configs.items():
            self._cameras[name] = _CameraState(
                config=camera,
                extrinsics=sources[name],
                sync=ApproximateSync(STREAMS, config.sync_slop_s, config.queue_size),
                filter=CameraFilter(config),
            )
            for stream, topic, message_type in zip(
                STREAMS, camera.topics(name), (Image, Image, CameraInfo), strict=True
            ):
                self._lane_subscriptions.append(
                    self._high_rate.subscribe(
                        message_type,
                        topic,
                        self._receiver(name, stream),
                        qos,
                    )
                )
        self._scene_publisher = self.create_publisher(SceneSnapshot, config.scene_topic, SCENE_QOS)
        self._points_publisher = self.create_publisher(PointCloud2, config.points_topic, POINTS_QOS)
        self.create_timer(
            1.0 / config.publish_rate_hz,
            self._publish_scene,
            self._output_group,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        # The extrinsics' own subscriptions (a TF listener) go with the rest at cleanup.
        self._made += [entity for entity in self._entities() if entity not in before]
        self._reset_counts()
        self.get_logger().info(
            f"configured: fusing {len(self._cameras)} camera(s) {list(self._cameras)} into "
            f"{config.scene_topic} at {config.publish_rate_hz} Hz once active"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._active = False
        for subscription in self._lane_subscriptions:
            self._high_rate.unsubscribe(subscription)
        for entity in self._made:
            if isinstance(entity, Publisher):
                self.destroy_publisher(entity)
            elif isinstance(entity, Timer):
                self.destroy_timer(entity)
            else:
                self.destroy_subscription(entity)
        self._lane_subscriptions, self._made = [], []
        with self._lock:
            self._cameras = {}
        self._configured = False

    def _lifecycle_name(self) -> str:
        if self._active:
            return "active"
        return "inactive" if self._configured else "unconfigured"

    def _entities(self) -> list[Publisher | Timer | Subscription]:
        return [*self.subscriptions, *self.publishers, *self.timers]

    def _reset_counts(self) -> None:
        self._last_published_s = float("-inf")
        self._scenes_published = 0
        self._not_published = EventCounts()
        self._last_logged_s: dict[str, float] = {}
        self._build_ms = RollingPercentiles()
        self._latency_ms = RollingPercentiles()  # sensor stamp -> scene published

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Parameters change only while unconfigured (configure validates them)."""
        if self._configured and any(p.name != "use_sim_time" for p in parameters):
            return SetParametersResult(
                successful=False,
                reason="perception_node's parameters change only while it is unconfigured: "
                "deactivate, cleanup, set them, configure",
            )
        return SetParametersResult(successful=True)

    # ---- input ----

    def _receiver(self, camera: str, stream: str) -> Callable[[Image | CameraInfo], None]:
        """The subscription callback of one stream of one camera."""

        def receive(msg: Image | CameraInfo) -> None:
            self._on_message(camera, stream, msg)

        return receive

    def _on_message(self, camera: str, stream: str, msg: Image | CameraInfo) -> None:
        state = self._cameras[camera]
        match = state.sync.add(stream, conversions.time_to_seconds(msg.header.stamp), msg)
        if match is None:
            return
        color, depth, info = (match.items[s] for s in STREAMS)
        assert isinstance(color, Image) and isinstance(depth, Image)
        assert isinstance(info, CameraInfo)
        with self._lock:
            state.latest = (color, depth, info, color.header.stamp, match.stamp_s)
            state.frames_matched += 1

    # ---- output ----

    def _publish_scene(self) -> None:
        if not self._active:
            return
        now_s = conversions.clock_seconds(self.get_clock())
        started_s = time.perf_counter()
        frames: dict[str, CameraFrame] = {}
        clouds: dict[str, FrameCloud] = {}
        stamps: dict[str, Time] = {}
        # Every camera's newest frame as of one instant: converting a frame takes long enough
        # (100-300 ms on a loaded machine) for the next frames to arrive meanwhile, and a
        # camera read after them would be a period ahead of one read before (out of sync).
        with self._lock:
            newest = {name: state.latest for name, state in self._cameras.items()}
        for name, state in self._cameras.items():
            frame = self._current_frame(name, state, newest[name], now_s)
            if frame is None:
                return
            frames[name], stamps[name] = frame, state.frame_stamp
            if state.cloud is None:
                state.cloud = frame_cloud(frame.view, self._config)
            clouds[name] = state.cloud
        scene_stamp_s = min(frame.stamp_s for frame in frames.values())
        if scene_stamp_s <= self._last_published_s:
            return  # nothing new since the last scene
        try:
            scene = fuse_frames(frames, self._config, clouds)
        except PerceptionError as error:
            self._skip("cameras_out_of_sync", str(error))
            return
        stamp = min(stamps.values(), key=conversions.time_to_seconds)
        frame_ids = {name: state.config.frame(name) for name, state in self._cameras.items()}
        self._scene_publisher.publish(conversions.scene_to_msg(scene, stamp, stamps, frame_ids))
        self._points_publisher.publish(
            conversions.xyzrgb_to_cloud(
                scene.points_xyz, scene.colors_rgb, stamp, self._config.base_frame
            )
        )
        self._last_published_s = scene_stamp_s
        self._scenes_published += 1
        self._build_ms.add((time.perf_counter() - started_s) * 1e3)
        published_s = conversions.clock_seconds(self.get_clock())
        self._latency_ms.add((published_s - scene_stamp_s) * 1e3)

    def _current_frame(
        self,
        name: str,
        state: _CameraState,
        latest: tuple[Image, Image, CameraInfo, Time, float] | None,
        now_s: float,
    ) -> CameraFrame | None:
        """The camera's frame `latest`, converted once; None (and why, logged) when unusable."""
        if latest is None:
            self._skip("waiting_for_camera", f"no synchronised frame from '{name}' yet")
            return None
        color, depth, info, stamp, stamp_s = latest
        if now_s - stamp_s > self._config.max_frame_age_s:
            self._skip(
                "stale_camera",
                f"newest frame of '{name}' is {now_s - stamp_s:.2f} s old "
                f"(max_frame_age_s={self._config.max_frame_age_s})",
            )
            return None
        if state.frame is not None and state.frame.stamp_s == stamp_s:
            return state.frame
        try:
            base_from_optical = state.extrinsics.base_from_optical(state.config.frame(name), stamp)
            view = conversions.camera_view_from_msgs(name, color, depth, info, base_from_optical)
            view = state.filter.filter(view, stamp_s)  # depth, table alignment, white balance
        except (ValueError, ExtrinsicsUnavailableError) as error:
            reason = (
                "no_extrinsics" if isinstance(error, ExtrinsicsUnavailableError) else "bad_frame"
            )
            state.rejections[reason] += 1
            state.last_problem = str(error)
            self._skip(reason, f"rejected frame of '{name}': {error}")
            with self._lock:
                if state.latest is latest:
                    state.latest = None  # never fuse this frame
            return None
        state.frame, state.frame_stamp, state.cloud = CameraFrame(view, stamp_s), stamp, None
        state.last_problem = ""
        return state.frame

    def _skip(self, reason: str, message: str) -> None:
        """Count why no scene was published; log it, throttled per reason (rclpy throttles per
        call site, which would let one reason hide all the others)."""
        self._not_published[reason] += 1
        now_s = time.monotonic()
        if now_s - self._last_logged_s.get(reason, float("-inf")) >= LOG_THROTTLE_S:
            self._last_logged_s[reason] = now_s
            self.get_logger().warning(f"no scene: {message}")

    def _publish_diagnostics(self) -> None:
        statuses = []
        for name, state in self._cameras.items():
            rejected = sum(state.rejections.values())
            level = diagnostics.WARN if state.last_problem else diagnostics.OK
            if state.frames_matched == 0:
                level = diagnostics.ERROR
            statuses.append(
                diagnostics.status(
                    f"perception_node: camera {name}",
                    name,
                    level,
                    state.last_problem or ("no frames yet" if not state.frames_matched else "ok"),
                    {
                        "frames_matched": state.frames_matched,
                        "frames_rejected": rejected,
                        "rejections": state.rejections.summary(),
                        "out_of_order_dropped": state.sync.dropped_out_of_order,
                        "table_tilt_corrected_deg": state.filter.correction.tilt_deg,
                        "table_shift_corrected_m": state.filter.correction.shift_m,
                        "white_balance_gains": " ".join(f"{g:.3f}" for g in state.filter.gains),
                        "filter_problem": state.filter.problem,
                    },
                )
            )
        statuses.append(
            diagnostics.status(
                "perception_node: scene",
                self._config.base_frame,
                diagnostics.OK if self._scenes_published and self._active else diagnostics.WARN,
                f"{self._scenes_published} scenes published"
                if self._active
                else f"not active ({self._lifecycle_name()}): no scenes are published",
                {
                    "lifecycle_state": self._lifecycle_name(),
                    "scenes_published": self._scenes_published,
                    "not_published": self._not_published.summary(),
                    "build_ms_p50": self._build_ms.percentile(50),
                    "latency_ms_p50": self._latency_ms.percentile(50),
                    "latency_ms_p95": self._latency_ms.percentile(95),
                },
            )
        )
        self._diagnostics_publisher.publish(
            diagnostics.array(self.get_clock().now().to_msg(), statuses)
        )


def main(args: list[str] | None = None) -> int:
    return spin.main(PerceptionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
