"""Bring the bringup's lifecycle nodes to active and confirm they got there.

`ros2 run a2_grasping lifecycle_activator inference_node executor_node [--ros-args ...]`:
for each named node (relative to this process's namespace, as the launch starts it in the
cell's) it reads the state with `<node>/get_state` and asks `<node>/change_state` for the
transition towards active (configure, activate), reading the state again after every call:
a response that was lost or timed out may still have changed it, so the state the node reports
decides, never one event or one response (the rules: `a2_grasping.bringup.bring_to_active`).
Exit 0 once every node reports active; exit 1 with a line naming each node that is not and its
state (the launch then fails). Options before `--ros-args`: `--timeout-s` (how long a node may
take to appear and to settle, default 300: configuring inference_node loads its models),
`--attempts` (tries per transition, default 3).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from a2_grasping.bringup import Activation, bring_to_active
from a2_grasping.ros import spin

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
}
# get_state is answered at once, unless the node's executor is busy with a transition.
GET_STATE_TIMEOUT_S = 10.0
# A configure loads models: CLIP ViT-L takes tens of seconds on a CPU.
CHANGE_STATE_TIMEOUT_S = 180.0
PAUSE_S = 0.5


def _call(
    node: Node, executor: SingleThreadedExecutor, client: Client, request: object, timeout_s: float
) -> Any:
    """The response, or None when none came within timeout_s."""
    future = client.call_async(request)
    executor.spin_until_future_complete(future, timeout_sec=timeout_s)
    if not future.done():
        client.remove_pending_request(future)
        return None
    return future.result()


def activate(
    node: Node, names: Sequence[str], *, timeout_s: float, attempts: int
) -> list[Activation]:
    """Bring each node to active in turn; how each ended."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    outcomes = []
    try:
        for name in names:
            deadline = time.monotonic() + timeout_s
            get_client = node.create_client(GetState, f"{name}/get_state")
            change_client = node.create_client(ChangeState, f"{name}/change_state")
            while not (get_client.service_is_ready() and change_client.service_is_ready()):
                if time.monotonic() > deadline:
                    break
                executor.spin_once(timeout_sec=0.1)

            def get_state(client: Client = get_client) -> str | None:
                if not client.service_is_ready():
                    return None
                response = _call(node, executor, client, GetState.Request(), GET_STATE_TIMEOUT_S)
                return None if response is None else str(response.current_state.label)

            def change_state(
                transition: str, client: Client = change_client, name: str = name
            ) -> bool | None:
                node.get_logger().info(f"{name}: {transition}")
                request = ChangeState.Request(transition=Transition(id=TRANSITIONS[transition]))
                response = _call(node, executor, client, request, CHANGE_STATE_TIMEOUT_S)
                if response is None:
                    node.get_logger().warning(f"{name}: no answer to {transition}; checking")
                    return None
                if not response.success:
                    node.get_logger().warning(f"{name}: {transition} failed")
                return bool(response.success)

            def expired(until_s: float = deadline) -> bool:
                return time.monotonic() > until_s

            outcome = bring_to_active(
                name,
                get_state,
                change_state,
                attempts=attempts,
                expired=expired,
                pause=lambda: time.sleep(PAUSE_S),
            )
            node.destroy_client(get_client)
            node.destroy_client(change_client)
            outcomes.append(outcome)
    finally:
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)
    return outcomes


def main(args: list[str] | None = None) -> int:
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="lifecycle_activator", description=__doc__)
    parser.add_argument("nodes", nargs="+", help="lifecycle nodes to bring to active")
    parser.add_argument("--timeout-s", type=float, default=300.0)
    parser.add_argument("--attempts", type=int, default=3)
    options = parser.parse_args(remove_ros_args(argv)[1:])
    spin.init(argv)
    node = rclpy.create_node("lifecycle_activator")
    try:
        outcomes = activate(
            node, options.nodes, timeout_s=options.timeout_s, attempts=options.attempts
        )
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    failed = [outcome for outcome in outcomes if not outcome.active]
    for outcome in failed:
        print(f"lifecycle_activator: FAILED: {outcome.message}", file=sys.stderr, flush=True)
    if not failed:
        print(f"lifecycle_activator: active: {', '.join(options.nodes)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
