"""Benchmark of the ROS pipeline on this machine: `a2-grasping bench pipeline --json OUT`.

1. Perception cost per 640x480 camera frame, in-process: message -> numpy conversion, the
   real-camera filters of the shipped configuration (flying pixels, bilateral, temporal, table
   alignment and white balance, refitted once a second as in the node), then deprojection +
   transform, workspace crop and voxel downsampling (median of --frames runs).
2. Camera-to-scene latency over DDS: perception_node runs as its own process; two synthetic
   640x480 cameras stream at --camera-hz; latency = scene arrival - image stamp.
2b. Real camera rates: two cameras stream at --input-hz (30, a RealSense's rate) for
   --input-seconds; perception_node builds scenes at its publish_rate_hz from the newest frames
   and drops the rest. Reported: scene rate, frames sent and used per camera, the share dropped,
   scene latency, and perception_node's CPU share.
3. /select_grasp round trip over DDS in the default (attributes) mode, "the red box" among three
   boxes: inference_node as its own process on the scenes perception publishes; --calls
   sequential calls, each once inference_node holds the scene of a frame published just before
   (not timed). The response's mode is recorded.
Both nodes are started with the installed executables, on a private ROS domain, loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_FRAME_MS = 15.0
TARGET_SELECT_P50_MS = 100.0  # attributes mode (issue 14); `bench select` measures it in-process
INFERENCE_STATUS = "inference_node: grasp selection"  # its /diagnostics status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--frames", type=int, default=30, help="perception frames timed")
    parser.add_argument("--calls", type=int, default=30, help="/select_grasp calls timed")
    parser.add_argument("--camera-hz", type=float, default=10.0, help="synthetic camera rate")
    parser.add_argument(
        "--input-hz", type=float, default=30.0, help="camera rate of the real-rate phase"
    )
    parser.add_argument(
        "--input-seconds", type=float, default=10.0, help="length of the real-rate phase"
    )
    parser.add_argument(
        "--scene-hz",
        type=float,
        default=30.0,
        help="perception_node's publish_rate_hz (30: a scene as soon as frames arrive, for the "
        "latency; 5: the cell's configured rate, for the real-rate phase's figures)",
    )
    parser.add_argument("--domain-id", type=int, default=0, help="0: reserve a free one")
    parser.set_defaults(run=run)


def latency_summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "min_ms": ordered[0],
        "count": len(ordered),
    }


def _cameras() -> list[Any]:
    from a2_grasping.testing.synthetic_cameras import SyntheticCamera

    target = (0.5, 0.0, 0.04)
    return [
        SyntheticCamera.looking_at("front_left", (1.0, 0.45, 0.55), target),
        SyntheticCamera.looking_at("front_right", (1.0, -0.45, 0.55), target),
    ]


def _boxes() -> tuple[Any, ...]:
    from a2_grasping.testing.synthetic_rgbd import Box

    return (
        Box((0.5, 0.0), (0.05, 0.06, 0.08), 0.3, (220, 30, 30)),
        Box((0.42, 0.15), (0.04, 0.04, 0.05), -0.2, (30, 200, 40)),
        Box((0.6, -0.15), (0.06, 0.05, 0.04), 0.8, (40, 60, 220)),
    )


def _time_perception_frame(frames: int) -> dict[str, Any]:
    """Per-frame cost of each perception stage on one 640x480 camera."""
    import numpy as np

    from a2_grasping.core.frame_filters import CameraFilter
    from a2_grasping.core.geometry import deproject, voxel_downsample
    from a2_grasping.ros import conversions
    from a2_grasping.testing.synthetic_cameras import render_frame

    camera = _cameras()[0]
    rendered = render_frame(camera, _boxes(), "rgb8", "16UC1")
    config = shipped_perception_config()
    box = np.asarray(config.workspace_box_m)
    camera_filter = CameraFilter(config)
    stages: dict[str, list[float]] = {
        "convert": [],
        "filters": [],
        "deproject_transform_crop": [],
        "voxel": [],
        "total": [],
    }
    for run in range(frames + 1):  # the first run warms up caches and is not counted
        t0 = time.perf_counter()
        view = conversions.camera_view_from_msgs(
            camera.name, rendered.color, rendered.depth, rendered.info, camera.base_from_optical
        )
        t1 = time.perf_counter()
        view = camera_filter.filter(view, stamp_s=0.2 * run)  # a 5 Hz scene rate's frames
        t2 = time.perf_counter()
        points, pixels = deproject(
            view.depth_m,
            view.intrinsics,
            view.base_from_camera,
            min_depth_m=config.min_depth_m,
            max_depth_m=config.max_depth_m,
            box_m=box,
        )
        t3 = time.perf_counter()
        keep = voxel_downsample(points, config.voxel_size_m)
        _ = view.color_rgb.reshape(-1, 3)[pixels[keep]]
        t4 = time.perf_counter()
        if run == 0:
            continue
        for name, (start, end) in {
            "convert": (t0, t1),
            "filters": (t1, t2),
            "deproject_transform_crop": (t2, t3),
            "voxel": (t3, t4),
            "total": (t0, t4),
        }.items():
            stages[name].append((end - start) * 1e3)
    result: dict[str, Any] = {name: latency_summary(samples) for name, samples in stages.items()}
    result["geometry_only_median_ms"] = (
        result["total"]["median_ms"]
        - result["convert"]["median_ms"]
        - result["filters"]["median_ms"]
    )
    result["points_after_voxel"] = len(keep)
    return result


def shipped_perception_config() -> Any:
    """PerceptionConfig of the installed config/perception_node.yaml (its filter settings)."""
    from a2_grasping.bench.perception import node_configs

    return node_configs(None)[0]


def _filter_arguments() -> list[str]:
    """The shipped filter settings as perception_node overrides (the synthetic cameras' table
    is brown: no white balance against it)."""
    import dataclasses

    config = shipped_perception_config()
    names = (
        "edge_filter_jump_m",
        "edge_filter_keep_m",
        "bilateral_sigma_m",
        "bilateral_kernel_px",
        "temporal_alpha",
        "temporal_delta_m",
        "align_to_table",
        "table_height_m",
    )
    values = dataclasses.asdict(config)
    arguments = [part for name in names for part in ("-p", f"{name}:={values[name]}")]
    return [*arguments, "-p", "white_balance:=false"]


def _start_nodes(env: dict[str, str], log_dir: Path, scene_hz: float) -> list[Any]:
    from a2_grasping.testing.node_process import NodeProcess

    perception_args = ["-p", "autostart:=true"]
    perception_args += ["-p", f"camera_names:=[{','.join(c.name for c in _cameras())}]"]
    perception_args += ["-p", f"publish_rate_hz:={scene_hz}", *_filter_arguments()]
    for camera in _cameras():
        perception_args += camera.parameters()
    return [
        NodeProcess("perception_node", perception_args, env, log_dir / "perception_node.log"),
        NodeProcess(
            "inference_node", ["-p", "autostart:=true"], env, log_dir / "inference_node.log"
        ),
    ]


def _scene_latency(node: Any, executor: Any, publisher: Any, args: argparse.Namespace) -> Any:
    """Stream camera frames at --camera-hz; latency of each scene from its image stamp."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from a2_grasping.msg import SceneSnapshot
    from a2_grasping.ros import conversions

    latencies_ms: list[float] = []

    def on_scene(msg: SceneSnapshot) -> None:
        now_s = conversions.clock_seconds(node.get_clock())
        latencies_ms.append((now_s - conversions.time_to_seconds(msg.header.stamp)) * 1e3)

    qos = QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE
    )
    node.create_subscription(SceneSnapshot, "/a2/scene", on_scene, qos)
    period_s = 1.0 / args.camera_hz
    deadline = time.monotonic() + 30.0
    while len(latencies_ms) < args.frames + 3:  # the first scenes include discovery
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(latencies_ms)} scenes in 30 s")
        publisher.publish()
        next_s = time.monotonic() + period_s
        while time.monotonic() < next_s:
            executor.spin_once(timeout_sec=max(0.0, next_s - time.monotonic()))
    return latency_summary(latencies_ms[3 : 3 + args.frames])


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _input_rate(
    node: Any, executor: Any, publisher: Any, args: argparse.Namespace, *, perception_pid: int
) -> dict[str, Any]:
    """Both cameras at --input-hz for --input-seconds: what perception makes of them."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from a2_grasping.msg import SceneSnapshot
    from a2_grasping.ros import conversions

    latencies_ms: list[float] = []

    def on_scene(msg: SceneSnapshot) -> None:
        now_s = conversions.clock_seconds(node.get_clock())
        latencies_ms.append((now_s - conversions.time_to_seconds(msg.header.stamp)) * 1e3)

    qos = QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE
    )
    subscription = node.create_subscription(SceneSnapshot, "/a2/scene", on_scene, qos)
    period_s = 1.0 / args.input_hz
    sent = 0
    cpu_start_s, started_s = _process_cpu_s(perception_pid), time.monotonic()
    next_s = started_s
    while time.monotonic() - started_s < args.input_seconds:
        publisher.publish()
        sent += 1
        next_s += period_s
        while time.monotonic() < next_s:
            executor.spin_once(timeout_sec=max(0.0, next_s - time.monotonic()))
    elapsed_s = time.monotonic() - started_s
    cpu_s = _process_cpu_s(perception_pid) - cpu_start_s
    node.destroy_subscription(subscription)
    scenes = len(latencies_ms)
    return {
        "camera_hz_requested": args.input_hz,
        "camera_hz_sent": sent / elapsed_s,
        "scene_hz_configured": args.scene_hz,
        "scene_hz": scenes / elapsed_s,
        "frames_sent_per_camera": sent,
        "frames_used_per_camera": scenes,
        "dropped_share": 1.0 - scenes / max(1, sent),
        "scene_latency": latency_summary(latencies_ms) if latencies_ms else None,
        "perception_cpu_cores": cpu_s / elapsed_s,
    }


def _wait_for_server_scene(
    node: Any, executor: Any, publisher: Any, client: Any, request: Any, *, timeout_s: float = 15.0
) -> None:
    """Call until the server has a scene: its subscription is discovered on its own schedule,
    independently of ours, so a first call can meet NO_SCENE even while scenes flow to us."""
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SelectGrasp

    deadline_s = time.monotonic() + timeout_s
    while True:
        publisher.publish()
        executor.spin_once(timeout_sec=0.05)
        response = clients.select_grasp(
            node, client, request, within_s=timeout_s, resend_after_s=5.0
        )
        if response.error_code != SelectGrasp.Response.NO_SCENE:
            return
        if time.monotonic() > deadline_s:
            raise TimeoutError(f"inference_node received no scene in {timeout_s:.0f} s")
        time.sleep(0.1)


class _ServerSceneStamp:
    """The newest scene stamp inference_node reports holding (its diagnostics' scene_stamp_s)."""

    def __init__(self, node: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self.stamp_s = 0.0
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, message: Any) -> None:
        for status in message.status:
            if status.name.startswith(INFERENCE_STATUS):
                for entry in status.values:
                    if entry.key == "scene_stamp_s":
                        self.stamp_s = max(self.stamp_s, float(entry.value))


def _wait_for_fresh_scene(
    executor: Any, publisher: Any, server: _ServerSceneStamp, *, timeout_s: float = 60.0
) -> None:
    """Publish a frame and wait until inference_node holds a scene at least that new, as the
    other clients do (SimSession.wait_for_fresh_scene). Calling right after publishing met the
    previous scene, which a loaded machine can make older than max_input_age_s: STALE_SCENE.
    A frame lost on the way (best effort) is followed by another every 2 s."""
    from a2_grasping.ros import conversions

    stamp_s = conversions.time_to_seconds(publisher.publish())
    deadline_s = time.monotonic() + timeout_s
    republish_s = time.monotonic() + 2.0
    while server.stamp_s < stamp_s - 0.001:  # diagnostics carry stamps to the millisecond
        if time.monotonic() > deadline_s:
            raise TimeoutError(f"inference_node held no scene of the new frame in {timeout_s} s")
        if time.monotonic() > republish_s:
            publisher.publish()
            republish_s = time.monotonic() + 2.0
        executor.spin_once(timeout_sec=0.05)


def _select_round_trips(
    node: Any, executor: Any, publisher: Any, args: argparse.Namespace
) -> dict[str, Any]:
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SelectGrasp

    client = node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, 15.0)
    server = _ServerSceneStamp(node)
    round_trips_ms: list[float] = []
    codes: set[int] = set()
    modes: set[str] = set()
    request = SelectGrasp.Request(instruction="the red box")
    _wait_for_server_scene(node, executor, publisher, client, request)
    for call in range(args.calls + 2):
        _wait_for_fresh_scene(executor, publisher, server)  # not part of the round trip
        started = time.perf_counter()
        response = clients.call(node, client, request, 10.0)
        if call >= 2:  # warm-up: discovery of the response path
            round_trips_ms.append((time.perf_counter() - started) * 1e3)
            codes.add(int(response.error_code))
            modes.add(response.mode)
    return {
        "select_grasp_round_trip": latency_summary(round_trips_ms),
        "select_grasp_error_codes": sorted(codes),
        "select_grasp_modes": sorted(modes),
        "select_grasp_server_stages_ms_last_call": dict(
            zip(response.timing_stages, response.timing_ms, strict=True)
        ),
    }


def _run_dds(args: argparse.Namespace, domain_id: int, log_dir: Path) -> dict[str, Any]:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from a2_grasping.testing.node_process import local_ros_environment
    from a2_grasping.testing.synthetic_cameras import SyntheticCameraPublisher, render_frame

    env = local_ros_environment(domain_id)
    env["ROS_LOG_DIR"] = str(log_dir / "ros_log")
    nodes = _start_nodes(env, log_dir, args.scene_hz)
    context = Context()
    rclpy.init(context=context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = rclpy.create_node("a2_bench_pipeline", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        publisher = SyntheticCameraPublisher(
            node, {c.name: render_frame(c, _boxes(), "rgb8", "16UC1") for c in _cameras()}
        )
        results = {"camera_to_scene_latency": _scene_latency(node, executor, publisher, args)}
        results["real_camera_rate"] = _input_rate(
            node, executor, publisher, args, perception_pid=nodes[0].pid
        )
        results.update(_select_round_trips(node, executor, publisher, args))
        executor.remove_node(node)
        node.destroy_node()
        return results
    finally:
        rclpy.try_shutdown(context=context)
        for process in nodes:
            process.stop(timeout_s=10.0)


def run(args: argparse.Namespace) -> int:
    from a2_grasping.core.policy.hardware import read_cpu_info

    results: dict[str, Any] = {
        "cpu": read_cpu_info().describe(),
        "perception_frame_640x480": _time_perception_frame(args.frames),
    }
    with tempfile.TemporaryDirectory(prefix="a2_bench_pipeline_") as log_dir:
        if args.domain_id:
            results.update(_run_dds(args, args.domain_id, Path(log_dir)))
        else:
            from domain_coordinator import domain_id

            with domain_id() as reserved:
                results.update(_run_dds(args, reserved, Path(log_dir)))
    results["targets"] = {
        "perception_frame_geometry_ms": TARGET_FRAME_MS,
        "select_grasp_p50_ms": TARGET_SELECT_P50_MS,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    frame = results["perception_frame_640x480"]
    print(f"{'stage':<36}{'median ms':>12}{'p95 ms':>10}")
    for name in ("convert", "filters", "deproject_transform_crop", "voxel", "total"):
        print(
            f"{'perception frame: ' + name:<36}{frame[name]['median_ms']:>12.2f}"
            f"{frame[name]['p95_ms']:>10.2f}"
        )
    for name in ("camera_to_scene_latency", "select_grasp_round_trip"):
        print(f"{name:<36}{results[name]['median_ms']:>12.2f}{results[name]['p95_ms']:>10.2f}")
    rate = results["real_camera_rate"]
    print(
        f"2 cameras at {rate['camera_hz_sent']:.1f} Hz: scenes at {rate['scene_hz']:.1f} Hz "
        f"(configured {rate['scene_hz_configured']}), {100 * rate['dropped_share']:.0f} % of "
        f"frames dropped by design, perception_node {rate['perception_cpu_cores']:.2f} cores"
    )
    print(
        f"geometry per frame {frame['geometry_only_median_ms']:.1f} ms (target "
        f"<= {TARGET_FRAME_MS}); /select_grasp p50 "
        f"{results['select_grasp_round_trip']['median_ms']:.1f} ms (target <= "
        f"{TARGET_SELECT_P50_MS}); written to {args.json}"
    )
    return 0
