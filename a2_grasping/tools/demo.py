"""Run the main job on this machine and report what happened.

Today the package provides inference_node (/select_grasp, geometric or A2 selection). The demo
starts the node as its own process (as `ros2 run` would), with the parameters of
config/inference_node.yaml, asks it for a grasp, checks the answer, and writes a JSON report.
With no camera or simulator running yet, the correct answer is NO_SCENE. The report lists the
parts of the full pipeline (simulated cell, perception, pick executor) not built yet.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Parts of the full pipeline that do not exist yet; each entry names the issue that adds it.
NOT_YET_BUILT = (
    "perception_node: cameras -> /a2/scene (issue 5)",
    "simulated UR5e + 2F-85 cell and executor_node /pick (issue 6)",
    "bringup: full launch, URDF, bag replay, behavior-tree client (issue 7)",
)


@dataclass
class DemoReport:
    instruction: str
    ros_domain_id: int
    steps: list[dict[str, object]] = field(default_factory=list)
    ok: bool = False
    not_yet_built: tuple[str, ...] = NOT_YET_BUILT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction", default="pick the red cube", help="what to grasp")
    parser.add_argument(
        "--output-dir", type=Path, default=Path("out/demo"), help="where the report is written"
    )
    parser.add_argument(
        "--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: from the environment)"
    )
    parser.add_argument(
        "--timeout-s", type=float, default=20.0, help="limit for each wait (discovery, calls)"
    )
    parser.set_defaults(run=run)


def _say(message: str) -> None:
    print(f"[a2 demo] {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    import os

    import rclpy
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions

    from a2_grasping.core.errors import SelectErrorCode
    from a2_grasping.ros import clients
    from a2_grasping.srv import SelectGrasp
    from a2_grasping.tools.node_process import NodeProcess, install_prefix, local_ros_environment

    domain_id = args.domain_id
    if domain_id is None:
        domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0"))
    env = local_ros_environment(domain_id)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    report = DemoReport(instruction=args.instruction, ros_domain_id=domain_id)
    params_file = install_prefix() / "share" / "a2_grasping" / "config" / "inference_node.yaml"

    _say(f"1/3 starting inference_node (ROS_DOMAIN_ID={domain_id}, loopback only)")
    node_log = args.output_dir / "inference_node.log"
    context = Context()
    rclpy.init(context=context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
    with NodeProcess(
        "inference_node",
        ["--params-file", str(params_file), "-p", "autostart:=true"],
        env,
        node_log,
    ) as inference:
        node = rclpy.create_node("a2_demo", context=context)
        try:
            client = node.create_client(SelectGrasp, "/select_grasp")
            started_s = time.monotonic()
            clients.wait_for_service(client, args.timeout_s)
            report.steps.append(
                {"step": "discover /select_grasp", "seconds": time.monotonic() - started_s}
            )
            _say(f"2/3 calling /select_grasp: {args.instruction!r}")
            request = SelectGrasp.Request(instruction=args.instruction)
            started_s = time.monotonic()
            response = clients.call(node, client, request, args.timeout_s / 3, attempts=3)
            code = SelectErrorCode(response.error_code)
            report.steps.append(
                {
                    "step": "call /select_grasp",
                    "seconds": time.monotonic() - started_s,
                    "error_code": code.name,
                    "error_message": response.error_message,
                    "candidates": len(response.candidates),
                }
            )
            _say(f"    answer: {code.name}: {response.error_message}")
            # No perception is running, so the only correct answer is NO_SCENE.
            report.ok = code is SelectErrorCode.NO_SCENE
        except TimeoutError as error:
            _say(f"    failed: {error}")
        finally:
            node.destroy_node()
            rclpy.try_shutdown(context=context)
        _say("3/3 stopping inference_node")
    exit_code = inference.poll()
    report.steps.append({"step": "stop inference_node", "exit_code": exit_code})
    report.ok = report.ok and exit_code == 0

    report_path = args.output_dir / "demo_report.json"
    report_path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    _say(f"report: {report_path}  (node log: {node_log})")
    _say("not built yet:")
    for item in NOT_YET_BUILT:
        _say(f"  - {item}")
    _say("result: " + ("OK, the running parts behave as specified" if report.ok else "FAILED"))
    return 0 if report.ok else 1
