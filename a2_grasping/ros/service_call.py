"""The one way this package waits for a service or action answer: bounded by a deadline, stopped
by a cancel, the pending request withdrawn when the wait gives up.

Two kinds of caller use it. A thread that may block while other executor threads deliver the
answer (an action's execute callback) lets `wait_for_future` sleep on the future. A script or
test that owns the node and spins it itself passes `pump`, one slice of its own spinning. The
behaviour-tree client cannot wait at all (a tick must return at once): it keeps the same deadline
and withdrawal in its own state machine (`ros/client/grasp_client.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rclpy.client import Client
from rclpy.task import Future

POLL_S = 0.05

# Waits one slice of at most the given seconds (spinning the caller's executor, or sleeping).
Pump = Callable[[float], object]


class CallUnansweredError(TimeoutError):
    """The service was not available, or did not answer, before the deadline."""


class CallCanceledError(Exception):
    """The caller's cancel was seen while waiting."""


def _never() -> bool:
    return False


def wait_for_future(
    future: Future,
    *,
    timeout_s: float,
    what: str,
    canceled: Callable[[], bool] = _never,
    pump: Pump | None = None,
) -> Any:
    """The future's result (its exception re-raised), waited for at most `timeout_s`.

    Raises CallUnansweredError at the deadline, CallCanceledError when `canceled()` turns true;
    the caller withdraws whatever the future stood for. Without `pump`, other threads must
    complete the future (a multi-threaded executor spinning the node).
    """
    if pump is None:
        done = threading.Event()
        future.add_done_callback(lambda _future: done.set())
        pump = done.wait
    deadline_s = time.monotonic() + timeout_s
    while not future.done():
        if canceled():
            raise CallCanceledError(f"canceled while waiting for {what}")
        if time.monotonic() > deadline_s:
            raise CallUnansweredError(f"{what} did not answer within {timeout_s:.1f} s")
        pump(POLL_S)
    exception = future.exception()
    if exception is not None:
        raise exception
    return future.result()


def call_with_deadline(
    client: Client,
    request: Any,
    *,
    timeout_s: float,
    canceled: Callable[[], bool] = _never,
    pump: Pump | None = None,
) -> Any:
    """The response, waited for at most `timeout_s` (service discovery included); the pending
    request is withdrawn on cancel or timeout, so a late answer is dropped, not delivered."""
    name = client.srv_name
    deadline_s = time.monotonic() + timeout_s
    while not client.service_is_ready():
        if canceled():
            raise CallCanceledError(f"canceled while waiting for {name}")
        if time.monotonic() > deadline_s:
            raise CallUnansweredError(f"{name} is not available")
        if pump is None:
            time.sleep(POLL_S)
        else:
            pump(POLL_S)
    future = client.call_async(request)
    remaining_s = max(0.0, deadline_s - time.monotonic())
    try:
        return wait_for_future(
            future, timeout_s=remaining_s, what=name, canceled=canceled, pump=pump
        )
    except CallUnansweredError:
        client.remove_pending_request(future)
        raise CallUnansweredError(f"{name} did not answer within {timeout_s:.1f} s") from None
    except CallCanceledError:
        client.remove_pending_request(future)
        raise
