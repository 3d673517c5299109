"""Blocking service calls with timeouts, for scripts and tests (never inside a node callback).

Inside a node, call services with `await client.call_async(...)` from a callback in a reentrant
group instead: blocking there would stall the executor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rclpy.client import Client
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future

from a2_grasping.ros.service_call import CallUnansweredError, call_with_deadline
from a2_grasping.srv import SelectGrasp

# After a BUSY or NO_SCENE answer, the next request goes out this much later: often enough to be
# served promptly, not so often that the server spends its time refusing.
PASS_OVER_PAUSE_S = 0.1


def wait_for_service(client: Client, timeout_s: float) -> None:
    """Raise TimeoutError naming the service when it does not appear in time.

    Discovery of a service in a freshly started process takes up to about 3 s.
    """
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise TimeoutError(f"service {client.srv_name} did not appear within {timeout_s:.1f} s")


@contextmanager
def _spinning(node: Node) -> Iterator[SingleThreadedExecutor]:
    """An executor of its own for `node` while a blocking call waits.

    A node belongs to one executor at a time: adding it to the call's executor takes it out of
    the one it was in, so it is handed back afterwards. Without that, a caller that spins its
    own executor between calls silently stops receiving its subscriptions.
    """
    # rclpy leaves node.executor pointing at an executor the node was removed from.
    owner = node.executor if node.executor and node in node.executor.get_nodes() else None
    executor = SingleThreadedExecutor(context=node.context)
    try:
        executor.add_node(node)
        yield executor
    finally:
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)
        node.executor = owner  # type: ignore[assignment]  # None is accepted: no executor


def _result(future: Future) -> Any:
    exception = future.exception()
    if exception is not None:
        raise exception
    return future.result()


def call(node: Node, client: Client, request: Any, timeout_s: float, attempts: int = 1) -> Any:
    """Call and wait for the response, spinning `node` meanwhile; TimeoutError on no answer.

    `attempts` > 1 re-sends after each timeout. Only for idempotent services (SelectGrasp is):
    right after discovery a response can be lost because the server has not yet matched the
    client's response reader, and the caller would otherwise wait out the full timeout.
    """
    for _ in range(attempts):
        with _spinning(node) as executor:
            try:
                return call_with_deadline(
                    client,
                    request,
                    timeout_s=timeout_s,
                    pump=lambda slice_s: executor.spin_once(timeout_sec=slice_s),
                )
            except CallUnansweredError:
                continue
    raise CallUnansweredError(
        f"{client.srv_name} did not answer within {timeout_s:.1f} s ({attempts} attempts)"
    )


def select_grasp(
    node: Node,
    client: Client,
    request: Any,
    *,
    within_s: float,
    resend_after_s: float,
    wait_for_scene: bool = False,
) -> Any:
    """/select_grasp for a caller that is the server's only client (tests, benchmarks, replay).

    A request unanswered after `resend_after_s` is sent again (a response can be lost right
    after discovery) and is still waited for: a first selection on a loaded machine can simply
    take longer. The re-sent copy then meets the running one and is answered BUSY, which is
    passed over, as is NO_SCENE with `wait_for_scene` (the server discovers the scene topic on
    its own schedule, so a first call can precede its first scene). Any other answer is returned;
    at `within_s` the last answer passed over is, or TimeoutError when there was none.
    """
    passing = {SelectGrasp.Response.BUSY}
    if wait_for_scene:
        passing.add(SelectGrasp.Response.NO_SCENE)
    deadline_s = time.monotonic() + within_s
    pending: list[Future] = []
    last_sent_s = -math.inf
    passed_over = None
    try:
        with _spinning(node) as executor:
            while time.monotonic() < deadline_s:
                now_s = time.monotonic()
                if now_s - last_sent_s > (resend_after_s if pending else PASS_OVER_PAUSE_S):
                    pending.append(client.call_async(request))
                    last_sent_s = now_s
                executor.spin_once(timeout_sec=0.02)
                for future in [f for f in pending if f.done()]:
                    pending.remove(future)
                    response = _result(future)
                    if response.error_code not in passing:
                        return response
                    passed_over = response
    finally:
        for future in pending:
            client.remove_pending_request(future)
    if passed_over is not None:
        return passed_over
    raise TimeoutError(f"{client.srv_name} did not answer within {within_s:.1f} s")
