"""A service call from a thread that may block (an action's execute callback) while other
executor threads deliver the response: bounded by a deadline, stopped by a cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rclpy.client import Client

POLL_S = 0.05


class CallUnansweredError(Exception):
    """The service was not available, or did not answer, before the deadline."""


class CallCanceledError(Exception):
    """The caller's cancel was seen while waiting."""


def call_with_deadline(
    client: Client, request: Any, *, timeout_s: float, canceled: Callable[[], bool]
) -> Any:
    """The response, waited for at most `timeout_s` (service discovery included); the pending
    request is withdrawn on cancel or timeout, so a late answer is dropped, not delivered."""
    name = client.srv_name
    deadline = time.monotonic() + timeout_s
    while not client.service_is_ready():
        if canceled():
            raise CallCanceledError(f"canceled while waiting for {name}")
        if time.monotonic() > deadline:
            raise CallUnansweredError(f"{name} is not available")
        time.sleep(POLL_S)
    future = client.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    while not done.wait(timeout=POLL_S):
        if canceled():
            client.remove_pending_request(future)
            raise CallCanceledError(f"canceled while waiting for {name}")
        if time.monotonic() > deadline:
            client.remove_pending_request(future)
            raise CallUnansweredError(f"{name} did not answer within {timeout_s:.1f} s")
    return future.result()
