"""`a2-grasping record` and `a2-grasping replay`: thin command lines over
`a2_grasping.ros.bags.bag_recorder` and `a2_grasping.ros.bags.bag_player`.

Both run on the ROS domain of the environment (ROS_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE) and
point Fast DDS at the package's large-data profile unless one is set, since camera images exceed
the default shared-memory segment. SIGINT/SIGTERM stop either cleanly (the bag is closed and
complete). A bag that cannot be read ends `replay` with one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from a2_grasping.tools.script_node import script_node, stop_on_signals

# How often the record loop looks at the clock and the stop flag (s).
_SPIN_SLICE_S = 0.05


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, required=True, help="new bag directory")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--topics", nargs="+", metavar="TOPIC", help="topics to record")
    which.add_argument("--all", action="store_true", help="record every topic that appears")
    parser.add_argument(
        "--duration-s",
        type=float,
        default=0.0,
        help="stop after this many seconds of the recorder's clock (0: until Ctrl-C)",
    )
    parser.add_argument(
        "--use-sim-time",
        action="store_true",
        help="stamp with /clock (and count --duration-s in it), as for a simulator's topics",
    )
    parser.add_argument("--compress", action="store_true", help="zstd chunk compression")
    parser.set_defaults(run=run_record)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="bag directory (or a single .mcap file)")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor (2: twice as fast)")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", default=(), help="only these")
    parser.add_argument("--loop", action="store_true", help="play again until Ctrl-C")
    parser.add_argument(
        "--no-clock", action="store_true", help="do not publish /clock from the bag's timeline"
    )
    parser.add_argument(
        "--wait-for-subscribers-s",
        type=float,
        default=0.0,
        help="first wait up to this long for a subscriber on every played topic",
    )
    parser.set_defaults(run=run_replay)


def run_record(args: argparse.Namespace) -> int:
    from rclpy.executors import SingleThreadedExecutor
    from rosbags.rosbag2.errors import WriterError

    from a2_grasping.ros.bags.bag_recorder import TopicRecorder
    from a2_grasping.ros.bags.bags import BagWriter

    try:
        writer = BagWriter(
            args.output, compress=args.compress, custom_data={"recorded_by": "a2-grasping record"}
        )
    except WriterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with stop_on_signals() as stop, script_node("a2_bag_recorder", args.use_sim_time) as node:
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        recorder = TopicRecorder(node, writer, args.topics or (), all_topics=args.all)
        started_ns: int | None = None
        wall_started_s = time.monotonic()
        while not stop.is_set():
            executor.spin_once(timeout_sec=_SPIN_SLICE_S)
            now_ns = node.get_clock().now().nanoseconds
            if started_ns is None and now_ns > 0:  # sim time: 0 until the first /clock
                started_ns = now_ns
            if (
                args.duration_s > 0.0
                and started_ns is not None
                and now_ns - started_ns >= args.duration_s * 1e9
            ):
                break
        counts = recorder.close()
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)
    print(f"recorded {sum(counts.values())} messages in {time.monotonic() - wall_started_s:.1f} s")
    print(f"{'topic':<50}{'messages':>10}{'dropped':>10}")
    for topic in sorted(counts):
        print(f"{topic:<50}{counts[topic]:>10}{recorder.dropped[topic]:>10}")
    for topic, reason in sorted(recorder.skipped.items()):
        print(f"skipped {topic}: {reason}", file=sys.stderr)
    for topic in recorder.missing():
        if topic not in recorder.skipped:
            print(f"never appeared: {topic}", file=sys.stderr)
    if recorder.failed:
        print(f"{recorder.failed} writes failed, last: {recorder.last_error}", file=sys.stderr)
    print(f"bag: {args.output}")
    return 1 if recorder.failed else 0


def run_replay(args: argparse.Namespace) -> int:
    from a2_grasping.ros.bags.bag_player import BagPlayer
    from a2_grasping.ros.bags.bags import BagError

    if not args.rate > 0.0:
        print(f"error: --rate must be > 0, got {args.rate}", file=sys.stderr)
        return 2
    with stop_on_signals() as stop, script_node("a2_bag_player") as node:
        try:
            with BagPlayer(
                node, args.bag, args.topics, args.rate, publish_clock=not args.no_clock
            ) as player:
                if args.wait_for_subscribers_s > 0.0:
                    unmatched = player.wait_for_subscribers(
                        player.topics, args.wait_for_subscribers_s
                    )
                    if unmatched:
                        print(f"warning: no subscriber on {unmatched}", file=sys.stderr)
                summary = player.play(loop=args.loop, stop=stop)
        except BagError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(
        f"replayed {sum(summary.published.values())} messages of a "
        f"{summary.bag_duration_s:.2f} s bag in {summary.wall_s:.2f} s "
        f"({summary.loops} loop(s){', stopped' if summary.stopped else ''})"
    )
    for topic in sorted(summary.published):
        print(f"{topic:<50}{summary.published[topic]:>10}")
    return 0
