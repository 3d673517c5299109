"""The `a2-grasping` command: one subcommand per user tool (tools/) and per benchmark (bench/)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType

from a2_grasping import __version__

# (name, help, module, the module's function that adds the subcommand's arguments)
Command = tuple[str, str, ModuleType, Callable[[argparse.ArgumentParser], None]]


def _tools() -> list[Command]:
    from a2_grasping.tools import bag_cli, bt_example, calibration_cli, check_checkpoint, demo

    return [
        (
            "demo",
            "run the main job: the pipeline on this machine, with a report",
            demo,
            demo.add_arguments,
        ),
        (
            "check-checkpoint",
            "verify that weight files load strictly into the networks",
            check_checkpoint,
            check_checkpoint.add_arguments,
        ),
        (
            "bt-example",
            "tick the example behaviour tree (select, pick, report) on a running system",
            bt_example,
            bt_example.add_arguments,
        ),
        ("record", "record topics to a rosbag2 MCAP bag", bag_cli, bag_cli.add_record_arguments),
        (
            "replay",
            "play a bag back with its timing and /clock",
            bag_cli,
            bag_cli.add_replay_arguments,
        ),
        (
            "publish-calibration",
            "publish hand-eye calibration results on /tf_static",
            calibration_cli,
            calibration_cli.add_arguments,
        ),
    ]


def _benchmarks() -> list[Command]:
    from a2_grasping.bench import a2_pick, gpu, model, perception, pipeline, selection, sim, soak

    helps = [
        (model, "model", "time the selection core (CLIP, fusion, candidates, full selection)"),
        (gpu, "gpu", "the published-size models on a CUDA GPU (exit 77: no CUDA, nothing run)"),
        (a2_pick, "a2-pick", "a2 mode through /pick in the simulated cell, random weights"),
        (pipeline, "pipeline", "perception per frame, camera-to-scene, /select_grasp over DDS"),
        (perception, "perception", "what perception and segmentation make of seeded scenes"),
        (selection, "select", "/select_grasp's core in attributes mode on language scenes"),
        (soak, "soak", "thousands of /select_grasp calls and hundreds of picks, cameras out"),
        (sim, "sim", "seeded pick episodes in the simulated cell: success rate, timings, plot"),
    ]
    return [(name, text, module, module.add_arguments) for module, name, text in helps]


def _add(commands: argparse._SubParsersAction[argparse.ArgumentParser], command: Command) -> None:
    name, text, module, add_arguments = command
    add_arguments(
        commands.add_parser(
            name,
            help=text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2-grasping",
        description="Language-conditioned grasping for a UR5e + Robotiq 2F-85 (ROS 2).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _tools():
        _add(commands, command)
    bench = commands.add_parser("bench", help="benchmarks that save JSON").add_subparsers(
        dest="bench", required=True, metavar="BENCHMARK"
    )
    for command in _benchmarks():
        _add(bench, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
