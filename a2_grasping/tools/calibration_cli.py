"""Publish hand-eye calibration results as static transforms: `a2-grasping publish-calibration`.

Each FILE is a hand-eye result (easy_handeye2's YAML; see a2_grasping/core/hand_eye.py): its
transform goes on /tf_static (transient-local, as static_transform_publisher does), where
perception_node's TF extrinsics and RViz find it; with --namespace, on the cell's own
<namespace>/tf_static (bringup's namespace argument gives a cell its own TF tree). Runs until
Ctrl-C or --duration-s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from a2_grasping.tools.script_node import script_node, stop_on_signals

_SPIN_SLICE_S = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE", help="hand-eye results")
    parser.add_argument(
        "--duration-s", type=float, default=0.0, help="stop after this long (0: until Ctrl-C)"
    )
    parser.add_argument(
        "--namespace",
        default="",
        help="the cell's namespace (bringup's namespace argument): publish on "
        "<namespace>/tf_static",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tf2_msgs.msg import TFMessage

    from a2_grasping.core.hand_eye import load_hand_eye
    from a2_grasping.ros import conversions
    from a2_grasping.ros.qos import TF_STATIC_QOS

    try:
        transforms = [load_hand_eye(path) for path in args.files]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    children = [t.child for t in transforms]
    if len(set(children)) != len(children):
        print(f"error: a frame is calibrated twice: {children}", file=sys.stderr)
        return 2
    with (
        stop_on_signals() as stop,
        script_node("a2_calibration_publisher", namespace=args.namespace) as node,
    ):
        # Relative: a namespaced cell (--namespace) has its own TF tree, <namespace>/tf_static.
        publisher = node.create_publisher(TFMessage, "tf_static", TF_STATIC_QOS)
        topic = node.resolve_topic_name("tf_static")
        stamp = node.get_clock().now().to_msg()
        publisher.publish(
            TFMessage(
                transforms=[
                    conversions.transform_stamped(t.parent, t.child, t.parent_from_child, stamp)
                    for t in transforms
                ]
            )
        )
        for t in transforms:
            print(f"publishing {t.parent} -> {t.child} on {topic}", flush=True)
        started = time.monotonic()
        while not stop.is_set():
            if args.duration_s > 0.0 and time.monotonic() - started >= args.duration_s:
                break
            stop.wait(_SPIN_SLICE_S)
    return 0
