"""An rclpy ActionClient that may send goals from any thread.

rclpy's ActionClient (Jazzy, as installed) sends a goal, cancel or result request and only then
records the request's sequence number in its pending table, without a lock. When the request is
sent from a thread other than the one spinning the client (our executor sends trajectories from
the task thread) and that thread is preempted between the two steps, the executor can take the
response first, finds no pending request and drops it ("Ignoring unexpected goal response").
The caller then waits out its timeout and reports a rejection while the controller has in fact
accepted the goal and moves the arm. Seen on a loaded 2-core machine in the driver-actions e2e
test.

Here sending and recording happen under one lock, and a response is handled only after taking
that lock, so it always finds its request. (The BT client, ros/client/grasp_client.py, avoids the
race another way: it makes every call on the executor, in one mutually exclusive group.)
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient


class ThreadSafeActionClient(ActionClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_lock = threading.Lock()

    def send_goal_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._request_lock:
            return super().send_goal_async(*args, **kwargs)

    def _cancel_goal_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._request_lock:
            return super()._cancel_goal_async(*args, **kwargs)

    def _get_result_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._request_lock:
            return super()._get_result_async(*args, **kwargs)

    async def execute(self, taken_data: Any) -> None:
        # A response's request was sent inside the lock; once we hold it, it is recorded.
        with self._request_lock:
            pass
        await super().execute(taken_data)
