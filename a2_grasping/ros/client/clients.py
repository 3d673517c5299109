"""Blocking service calls with timeouts, for scripts and tests (never inside a node callback).

Inside a node, call services with `await client.call_async(...)` from a callback in a reentrant
group instead: blocking there would stall the executor.
"""

from __future__ import annotations

from typing import Any

from rclpy.client import Client
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


def wait_for_service(client: Client, timeout_s: float) -> None:
    """Raise TimeoutError naming the service when it does not appear in time.

    Discovery of a service in a freshly started process takes up to about 3 s.
    """
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise TimeoutError(f"service {client.srv_name} did not appear within {timeout_s:.1f} s")


def call(node: Node, client: Client, request: Any, timeout_s: float, attempts: int = 1) -> Any:
    """Call and wait for the response, spinning `node` meanwhile; TimeoutError on no answer.

    `attempts` > 1 re-sends after each timeout. Only for idempotent services (SelectGrasp is):
    right after discovery a response can be lost because the server has not yet matched the
    client's response reader, and the caller would otherwise wait out the full timeout.

    A node belongs to one executor at a time: adding it to the call's executor takes it out of
    the one it was in, so it is handed back afterwards. Without that, a caller that spins its
    own executor between calls silently stops receiving its subscriptions.
    """
    # rclpy leaves node.executor pointing at an executor the node was removed from.
    owner = node.executor if node.executor and node in node.executor.get_nodes() else None
    for _ in range(attempts):
        future = client.call_async(request)
        executor = SingleThreadedExecutor(context=node.context)
        try:
            executor.add_node(node)
            executor.spin_until_future_complete(future, timeout_sec=timeout_s)
        finally:
            executor.remove_node(node)
            executor.shutdown(timeout_sec=1.0)
            node.executor = owner
        if future.done():
            exception = future.exception()
            if exception is not None:
                raise exception
            return future.result()
        client.remove_pending_request(future)
    raise TimeoutError(
        f"{client.srv_name} did not answer within {timeout_s:.1f} s ({attempts} attempts)"
    )
