"""Example behaviour tree: select a grasp for an instruction, pick it, report.

    Sequence (memory) -> SelectGrasp -> Pick (the selected candidate) -> ReportPick

Runs against a running system (e.g. the launch file's nodes) on ROS_DOMAIN_ID (or
--domain-id): ticks at --rate-hz until the tree ends or --timeout-s passes (then the tree is
stopped, which cancels a running pick), prints the report and the longest tick, and exits 0 on
SUCCESS.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `a2-grasping --help` must not load rclpy
    import py_trees
    from py_trees.common import Status

    from a2_grasping.ros.client.grasp_client import GraspClient


def create_tree(
    client: GraspClient,
    instruction: str,
    *,
    dry_run: bool = False,
    select_timeout_s: float = 15.0,
    pick_timeout_s: float = 120.0,
) -> py_trees.trees.BehaviourTree:
    """select -> pick -> report. The sequence keeps memory: a child that succeeded is not
    ticked again, so the selection is made once per run of the tree."""
    import py_trees

    from a2_grasping.bt.behaviours import Pick, ReportPick, SelectGrasp

    root = py_trees.composites.Sequence(
        "PickByInstruction",
        memory=True,
        children=[
            SelectGrasp("SelectGrasp", client, instruction, timeout_s=select_timeout_s),
            Pick("Pick", client, dry_run=dry_run, timeout_s=pick_timeout_s),
            ReportPick("ReportPick", instruction),
        ],
    )
    return py_trees.trees.BehaviourTree(root)


def create_sorting_tree(
    client: GraspClient,
    color: str,
    receptacle: str,
    *,
    max_objects: int = 8,
    dry_run: bool = False,
    timeout_s: float = 180.0,
) -> py_trees.trees.BehaviourTree:
    """ "Put every <color> object on the <receptacle>": pick-and-place "a <color> object" again
    and again until none is left off the receptacle. The loop ends with SUCCESS when the
    selection finds none (TARGET_NOT_FOUND on the last try, seen in /a2/place_result), FAILURE
    on any other failure, and stops after `max_objects` rounds in any case."""
    import py_trees

    from a2_grasping.bt.behaviours import NothingLeft, PlaceTask

    sentence = f"put a {color} object on the {receptacle}"
    one = PlaceTask(
        "PickAndPlaceOne",
        client,
        sentence,
        kind="pick_and_place",
        dry_run=dry_run,
        timeout_s=timeout_s,
    )
    repeat = py_trees.decorators.Repeat("EveryOne", child=one, num_success=max_objects)
    done = NothingLeft("NothingLeft")
    root = py_trees.composites.Selector("SortObjects", memory=True, children=[repeat, done])
    return py_trees.trees.BehaviourTree(root)


@dataclass(frozen=True)
class TickRun:
    status: Status
    ticks: int
    max_tick_s: float  # the longest tree.tick(), seconds
    duration_s: float
    timed_out: bool


def tick_until_done(
    tree: py_trees.trees.BehaviourTree, period_s: float = 0.1, timeout_s: float = 120.0
) -> TickRun:
    """Tick every period_s until the root is no longer RUNNING; after timeout_s stop the tree
    (terminate(INVALID) cancels what runs). Measures every tick."""
    from py_trees.common import Status

    started = time.monotonic()
    ticks, max_tick_s, timed_out = 0, 0.0, False
    while True:
        tick_started = time.perf_counter()
        tree.tick()
        max_tick_s = max(max_tick_s, time.perf_counter() - tick_started)
        ticks += 1
        if tree.root.status != Status.RUNNING:
            break
        if time.monotonic() - started > timeout_s:
            tree.root.stop(Status.INVALID)
            timed_out = True
            break
        time.sleep(max(0.0, period_s - (time.perf_counter() - tick_started)))
    return TickRun(
        tree.root.status, ticks, max_tick_s, time.monotonic() - started, timed_out=timed_out
    )


def failure_reason(tree: py_trees.trees.BehaviourTree) -> str:
    """The feedback messages of the behaviours that failed, for logs and assertions."""
    from py_trees.common import Status

    return "; ".join(
        f"{node.name}: {node.feedback_message}"
        for node in tree.root.iterate()
        if node.status == Status.FAILURE and node is not tree.root
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction", default="pick the red block", help="what to pick")
    parser.add_argument("--rate-hz", type=float, default=10.0, help="tick rate")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="stop the tree after this")
    parser.add_argument("--dry-run", action="store_true", help="plan the pick, move nothing")
    parser.add_argument("--domain-id", type=int, default=None, help="default: ROS_DOMAIN_ID")
    parser.add_argument(
        "--server-timeout-s", type=float, default=10.0, help="wait this long for the servers"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import py_trees
    from py_trees.common import Status

    from a2_grasping.bt.behaviours import NAMESPACE, REPORT_KEY
    from a2_grasping.ros.client.grasp_client import GraspClient

    with GraspClient(domain_id=args.domain_id) as client:
        try:
            client.wait_for_servers(timeout_s=args.server_timeout_s)
        except TimeoutError as error:
            print(f"[a2 bt] {error}: is the system running on this ROS_DOMAIN_ID?", flush=True)
            return 1
        tree = create_tree(client, args.instruction, dry_run=args.dry_run)
        outcome = tick_until_done(tree, period_s=1.0 / args.rate_hz, timeout_s=args.timeout_s)
    blackboard = py_trees.blackboard.Client(name="bt-example", namespace=NAMESPACE)
    blackboard.register_key(REPORT_KEY, access=py_trees.common.Access.READ)
    if blackboard.exists(REPORT_KEY):
        print(json.dumps(blackboard.get(REPORT_KEY), indent=2), flush=True)
    print(
        f"[a2 bt] {outcome.status.value} after {outcome.duration_s:.1f} s, {outcome.ticks} ticks, "
        f"longest tick {outcome.max_tick_s * 1000:.2f} ms"
        + (" (timed out)" if outcome.timed_out else ""),
        flush=True,
    )
    if outcome.status != Status.SUCCESS:
        print(f"[a2 bt] {failure_reason(tree) or 'stopped'}", flush=True)
    return 0 if outcome.status == Status.SUCCESS else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
