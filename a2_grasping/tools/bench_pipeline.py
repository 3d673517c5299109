"""Benchmark of the ROS pipeline on this machine: `a2-grasping bench pipeline --json OUT`.

1. Perception cost per 640x480 camera frame, in-process: message -> numpy conversion, then
   deprojection + transform, workspace crop and voxel downsampling (median of --frames runs).
2. Camera-to-scene latency over DDS: perception_node runs as its own process; two synthetic
   640x480 cameras stream at --camera-hz; latency = scene arrival - image stamp.
3. /select_grasp round trip over DDS in the default (attributes) mode, "the red box" among three
   boxes: inference_node as its own process on the scenes perception publishes; --calls
   sequential calls. The response's mode is recorded.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--frames", type=int, default=30, help="perception frames timed")
    parser.add_argument("--calls", type=int, default=30, help="/select_grasp calls timed")
    parser.add_argument("--camera-hz", type=float, default=10.0, help="synthetic camera rate")
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
    from a2_grasping.tools.synthetic_cameras import SyntheticCamera

    target = (0.5, 0.0, 0.04)
    return [
        SyntheticCamera.looking_at("front_left", (1.0, 0.45, 0.55), target),
        SyntheticCamera.looking_at("front_right", (1.0, -0.45, 0.55), target),
    ]


def _boxes() -> tuple[Any, ...]:
    from a2_grasping.tools.synthetic_rgbd import Box

    return (
        Box((0.5, 0.0), (0.05, 0.06, 0.08), 0.3, (220, 30, 30)),
        Box((0.42, 0.15), (0.04, 0.04, 0.05), -0.2, (30, 200, 40)),
        Box((0.6, -0.15), (0.06, 0.05, 0.04), 0.8, (40, 60, 220)),
    )


def _time_perception_frame(frames: int) -> dict[str, Any]:
    """Per-frame cost of each perception stage on one 640x480 camera."""
    import numpy as np

    from a2_grasping.core.geometry import deproject, voxel_downsample
    from a2_grasping.core.perception_config import PerceptionConfig
    from a2_grasping.ros import conversions
    from a2_grasping.tools.synthetic_cameras import render_frame

    camera = _cameras()[0]
    rendered = render_frame(camera, _boxes(), "rgb8", "16UC1")
    config = PerceptionConfig()
    box = np.asarray(config.workspace_box_m)
    stages: dict[str, list[float]] = {
        "convert": [],
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
            "deproject_transform_crop": (t1, t3),
            "voxel": (t3, t4),
            "total": (t0, t4),
        }.items():
            stages[name].append((end - start) * 1e3)
    result: dict[str, Any] = {name: latency_summary(samples) for name, samples in stages.items()}
    result["geometry_only_median_ms"] = (
        result["total"]["median_ms"] - result["convert"]["median_ms"]
    )
    result["points_after_voxel"] = len(keep)
    return result


def _start_nodes(env: dict[str, str], log_dir: Path) -> list[Any]:
    from a2_grasping.tools.node_process import NodeProcess

    perception_args = ["-p", f"camera_names:=[{','.join(c.name for c in _cameras())}]"]
    perception_args += ["-p", "publish_rate_hz:=30.0"]  # publish as soon as frames arrive
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


def _select_round_trips(
    node: Any, executor: Any, publisher: Any, args: argparse.Namespace
) -> dict[str, Any]:
    from a2_grasping.ros.client import clients
    from a2_grasping.srv import SelectGrasp

    client = node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, 15.0)
    round_trips_ms: list[float] = []
    codes: set[int] = set()
    modes: set[str] = set()
    request = SelectGrasp.Request(instruction="the red box")
    _wait_for_server_scene(node, executor, publisher, client, request)
    for call in range(args.calls + 2):
        publisher.publish()  # keep the scene fresh
        executor.spin_once(timeout_sec=0.05)
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

    from a2_grasping.tools.node_process import local_ros_environment
    from a2_grasping.tools.synthetic_cameras import SyntheticCameraPublisher, render_frame

    env = local_ros_environment(domain_id)
    env["ROS_LOG_DIR"] = str(log_dir / "ros_log")
    nodes = _start_nodes(env, log_dir)
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
    for name in ("convert", "deproject_transform_crop", "voxel", "total"):
        print(
            f"{'perception frame: ' + name:<36}{frame[name]['median_ms']:>12.2f}"
            f"{frame[name]['p95_ms']:>10.2f}"
        )
    for name in ("camera_to_scene_latency", "select_grasp_round_trip"):
        print(f"{name:<36}{results[name]['median_ms']:>12.2f}{results[name]['p95_ms']:>10.2f}")
    print(
        f"geometry per frame {frame['geometry_only_median_ms']:.1f} ms (target "
        f"<= {TARGET_FRAME_MS}); /select_grasp p50 "
        f"{results['select_grasp_round_trip']['median_ms']:.1f} ms (target <= "
        f"{TARGET_SELECT_P50_MS}); written to {args.json}"
    )
    return 0
