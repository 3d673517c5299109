"""The `a2-grasping` command."""

from __future__ import annotations

import argparse
import sys

from a2_grasping import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2-grasping",
        description="Language-conditioned grasping for a UR5e + Robotiq 2F-85 (ROS 2).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from a2_grasping.bench import a2_pick as bench_a2_pick
    from a2_grasping.bench import gpu as bench_gpu
    from a2_grasping.bench import model as bench_model
    from a2_grasping.bench import perception as bench_perception
    from a2_grasping.bench import pipeline as bench_pipeline
    from a2_grasping.bench import selection as bench_select
    from a2_grasping.bench import sim as bench_sim
    from a2_grasping.bench import soak as bench_soak
    from a2_grasping.tools import bag_cli, bt_example, calibration_cli, check_checkpoint, demo

    demo.add_arguments(
        commands.add_parser(
            "demo",
            help="run the main job: the pipeline on this machine, with a report",
            description=demo.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    check_checkpoint.add_arguments(
        commands.add_parser(
            "check-checkpoint",
            help="verify that weight files load strictly into the networks",
            description=check_checkpoint.__doc__,
        )
    )
    bt_example.add_arguments(
        commands.add_parser(
            "bt-example",
            help="tick the example behaviour tree (select, pick, report) on a running system",
            description=bt_example.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bag_cli.add_record_arguments(
        commands.add_parser(
            "record",
            help="record topics to a rosbag2 MCAP bag",
            description=bag_cli.__doc__,
        )
    )
    bag_cli.add_replay_arguments(
        commands.add_parser(
            "replay",
            help="play a bag back with its timing and /clock",
            description=bag_cli.__doc__,
        )
    )
    calibration_cli.add_arguments(
        commands.add_parser(
            "publish-calibration",
            help="publish hand-eye calibration results on /tf_static",
            description=calibration_cli.__doc__,
        )
    )
    bench = commands.add_parser("bench", help="benchmarks that save JSON").add_subparsers(
        dest="bench", required=True, metavar="BENCHMARK"
    )
    bench_model.add_arguments(
        bench.add_parser(
            "model",
            help="time the selection core (CLIP, fusion, candidates, full selection)",
            description=bench_model.__doc__,
        )
    )
    bench_gpu.add_arguments(
        bench.add_parser(
            "gpu",
            help="the published-size models on a CUDA GPU (exit 77: no CUDA, nothing measured)",
            description=bench_gpu.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_a2_pick.add_arguments(
        bench.add_parser(
            "a2-pick",
            help="a2 mode through /pick in the simulated cell, published-size random weights",
            description=bench_a2_pick.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_pipeline.add_arguments(
        bench.add_parser(
            "pipeline",
            help="time perception per frame, camera-to-scene latency, /select_grasp over DDS",
            description=bench_pipeline.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_perception.add_arguments(
        bench.add_parser(
            "perception",
            help="what perception and segmentation make of seeded scenes, per sensor profile",
            description=bench_perception.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_select.add_arguments(
        bench.add_parser(
            "select",
            help="time /select_grasp's core in attributes mode on the cell's language scenes",
            description=bench_select.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_soak.add_arguments(
        bench.add_parser(
            "soak",
            help="thousands of /select_grasp calls and hundreds of picks, cameras dropping out",
            description=bench_soak.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    bench_sim.add_arguments(
        bench.add_parser(
            "sim",
            help="seeded pick episodes in the simulated cell: success rate, timings, plot",
            description=bench_sim.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
