"""The behaviour-tree client's calls in flight: one state machine per call, advanced on the
client's executor (`_step`), read from the caller's thread without waiting (`done`, `result`,
`stage`, `cancel`). See `grasp_client.py` for the threading rules they rely on.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rclpy.action import ActionClient
from rclpy.client import Client

from a2_grasping.ros import task_conversions
from a2_grasping.ros.client.results import (
    Outcome,
    PickResult,
    PlaceResult,
    ResultT,
    SelectResult,
)
from a2_grasping.srv import SelectGrasp

# After a timed-out goal request, how long to wait for its acceptance so it can be cancelled.
_LATE_ACCEPT_WINDOW_S = 5.0

GoalResultT = TypeVar("GoalResultT", PickResult, PlaceResult)


class PendingCall(abc.ABC, Generic[ResultT]):
    """State shared by the caller's thread (reads, cancel) and the executor (everything else)."""

    def __init__(
        self, what: str, timeout_s: float, server_timeout_s: float, wake: Callable[[], None]
    ) -> None:
        if not timeout_s > 0.0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._what = what
        self._timeout_s = timeout_s
        self._server_timeout_s = server_timeout_s
        self._started_s = time.monotonic()
        self._deadline_s = self._started_s + timeout_s
        self._server_deadline_s = self._started_s + server_timeout_s
        self._wake = wake
        self._lock = threading.Lock()
        self._result: ResultT | None = None
        self._cancel_requested = False

    # ---- caller side: never blocks ----

    def done(self) -> bool:
        return self.result() is not None

    def result(self) -> ResultT | None:
        """None while pending; the final result otherwise. A passed deadline ends the call here
        too (exact to the poll), the executor then cleans up on its side."""
        if time.monotonic() > self._deadline_s:
            self._time_out()
        with self._lock:
            return self._result

    def cancel(self) -> None:
        """Ask to stop. Returns at once; a call that is already done is left as it is."""
        with self._lock:
            if self._result is not None or self._cancel_requested:
                return
            self._cancel_requested = True
        self._wake()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started_s

    # ---- both sides ----

    def _finish(self, result: ResultT) -> bool:
        """Set the result unless one is set already (the first ending wins)."""
        with self._lock:
            if self._result is not None:
                return False
            self._result = result
        return True

    def _time_out(self) -> None:
        if self._finish(self._timeout_result()):
            self._wake()

    def _state(self) -> tuple[bool, bool]:
        with self._lock:
            return self._result is not None, self._cancel_requested

    # ---- executor side (the client's callback group) ----

    def advance(self, now_s: float) -> bool:
        """Advance the call; True once nothing is left to do on the ROS side."""
        return self._step(now_s)

    def fail(self, message: str) -> None:
        """End the call FAILED (an error in the client itself), unless it has ended already."""
        self._finish(self._failure(Outcome.FAILED, message))

    @abc.abstractmethod
    def _timeout_result(self) -> ResultT: ...

    @abc.abstractmethod
    def _failure(self, outcome: Outcome, message: str) -> ResultT: ...

    @abc.abstractmethod
    def _step(self, now_s: float) -> bool:
        """Advance on the executor; True once nothing is left to do on the ROS side."""

    def _before_sending(self, now_s: float, server_ready: Callable[[], bool]) -> bool | None:
        """The common part of a call that is not sent yet: True = settled (ended without being
        sent), False = keep waiting for the server, None = send now."""
        finished, cancel = self._state()
        if finished:
            return True
        if cancel:
            self._finish(self._failure(Outcome.CANCELED, "canceled before it was sent"))
            return True
        if now_s > self._deadline_s:
            self._time_out()
            return True
        if server_ready():
            return None
        if now_s > self._server_deadline_s:
            self._finish(
                self._failure(
                    Outcome.UNAVAILABLE,
                    f"{self._what} is not available (no server within "
                    f"{self._server_timeout_s:.1f} s); nothing was sent",
                )
            )
            return True
        return False


class PendingSelect(PendingCall[SelectResult]):
    """A /select_grasp call in flight. A service request cannot be withdrawn: cancel() and
    timeouts stop waiting for the answer (the server may still compute it)."""

    def __init__(
        self,
        client: Client,
        request: SelectGrasp.Request,
        *,
        service_name: str,
        timeout_s: float,
        server_timeout_s: float,
        wake: Callable[[], None],
    ) -> None:
        super().__init__(f"service {service_name}", timeout_s, server_timeout_s, wake)
        self._client = client
        self._request = request
        self._future: Any = None

    def _failure(self, outcome: Outcome, message: str) -> SelectResult:
        return SelectResult(outcome, message, elapsed_s=self.elapsed_s)

    def _timeout_result(self) -> SelectResult:
        return self._failure(
            Outcome.TIMEOUT, f"{self._what} did not answer within {self._timeout_s:.1f} s"
        )

    def _step(self, now_s: float) -> bool:
        if self._future is None:
            ready = self._before_sending(now_s, self._client.service_is_ready)
            if ready is not None:
                return ready
            self._future = self._client.call_async(self._request)
            self._future.add_done_callback(lambda _future: self._wake())
            return False
        if self._future.done():
            self._finish(self._from_response())
            return True
        finished, cancel = self._state()
        if cancel and not finished:
            self._finish(self._failure(Outcome.CANCELED, "canceled while waiting for the answer"))
        elif now_s > self._deadline_s:
            self._time_out()
        if self._state()[0]:
            self._client.remove_pending_request(self._future)
            return True
        return False

    def _from_response(self) -> SelectResult:
        error = self._future.exception()
        if error is not None:
            return self._failure(Outcome.FAILED, f"{self._what} raised {error!r}")
        return task_conversions.select_result_from_response(self._future.result(), self.elapsed_s)


class _PendingGoal(PendingCall[GoalResultT]):
    """An action goal in flight, with the newest feedback. cancel() sends a cancel request once the
    goal is accepted; the handle ends when the executor reports the stopped goal."""

    def __init__(
        self,
        client: ActionClient,
        action_name: str,
        goal: Any,
        *,
        timeout_s: float,
        server_timeout_s: float,
        wake: Callable[[], None],
    ) -> None:
        super().__init__(f"action {action_name}", timeout_s, server_timeout_s, wake)
        self._client = client
        self._goal = goal
        self._goal_future: Any = None
        self._goal_handle: Any = None
        self._result_future: Any = None
        self._cancel_sent = False
        self._stages: list[str] = []
        self._progress = 0.0

    @property
    def stage(self) -> str:
        """The newest feedback stage ("" before the first feedback)."""
        with self._lock:
            return self._stages[-1] if self._stages else ""

    @property
    def progress(self) -> float:
        """The newest feedback progress in [0, 1]."""
        with self._lock:
            return self._progress

    @property
    def stages(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._stages)

    @property
    def cancel_sent(self) -> bool:
        """Whether a cancel request went to the server (after cancel() or a timeout)."""
        return self._cancel_sent

    def _on_feedback(self, message: Any) -> None:
        with self._lock:
            stage = str(message.feedback.stage)
            if not self._stages or self._stages[-1] != stage:
                self._stages.append(stage)
            self._progress = float(message.feedback.progress)

    def _timeout_result(self) -> GoalResultT:
        return self._failure(
            Outcome.TIMEOUT,
            f"{self._what} did not finish within {self._timeout_s:.1f} s "
            f"(last stage: {self.stage or 'none'}); the goal is being cancelled",
        )

    def _step(self, now_s: float) -> bool:
        if self._goal_future is None:
            ready = self._before_sending(now_s, self._client.server_is_ready)
            if ready is not None:
                return ready
            self._goal_future = self._client.send_goal_async(
                self._goal, feedback_callback=self._on_feedback
            )
            self._goal_future.add_done_callback(lambda _future: self._wake())
            return False
        if self._goal_handle is None:
            return self._step_goal_sent(now_s)
        return self._step_active(now_s)

    def _step_goal_sent(self, now_s: float) -> bool:
        if not self._goal_future.done():
            if now_s > self._deadline_s:
                self._time_out()
            # Ended already (timeout): keep watching a while so a late acceptance is cancelled.
            return self._state()[0] and now_s > self._deadline_s + _LATE_ACCEPT_WINDOW_S
        error = self._goal_future.exception()
        if error is not None:
            self._finish(self._failure(Outcome.FAILED, f"sending the goal raised {error!r}"))
            return True
        goal_handle = self._goal_future.result()
        if not goal_handle.accepted:
            self._finish(
                self._failure(
                    Outcome.FAILED,
                    f"{self._what} rejected the goal (the executor runs one pick at a time)",
                )
            )
            return True
        self._goal_handle = goal_handle
        self._result_future = goal_handle.get_result_async()
        self._result_future.add_done_callback(lambda _future: self._wake())
        return self._step_active(now_s)

    def _step_active(self, now_s: float) -> bool:
        if self._result_future.done():
            self._finish(self._from_result())
            return True
        if now_s > self._deadline_s:
            self._time_out()
        finished, cancel = self._state()
        if (cancel or finished) and not self._cancel_sent:
            self._goal_handle.cancel_goal_async()
            self._cancel_sent = True
        # Ended here (timeout): the cancel is sent, nothing is left to wait for.
        return finished

    @abc.abstractmethod
    def _from_result(self) -> GoalResultT:
        """The finished goal's result message as the caller's result."""


class PendingPick(_PendingGoal[PickResult]):
    """A /pick goal in flight."""

    def _failure(self, outcome: Outcome, message: str) -> PickResult:
        return PickResult(
            outcome,
            message,
            stages=self.stages,
            dry_run=bool(self._goal.dry_run),
            elapsed_s=self.elapsed_s,
        )

    def _from_result(self) -> PickResult:
        error = self._result_future.exception()
        if error is not None:
            return self._failure(Outcome.FAILED, f"getting the result raised {error!r}")
        return task_conversions.pick_result_from_msg(
            self._result_future.result().result,
            stages=self.stages,
            dry_run=bool(self._goal.dry_run),
            elapsed_s=self.elapsed_s,
        )


class PendingPlace(_PendingGoal[PlaceResult]):
    """A /place or /pick_and_place goal in flight: the same handle as a pick, a PlaceResult."""

    def _failure(self, outcome: Outcome, message: str) -> PlaceResult:
        return PlaceResult(
            outcome,
            message,
            stages=self.stages,
            dry_run=bool(self._goal.dry_run),
            elapsed_s=self.elapsed_s,
        )

    def _from_result(self) -> PlaceResult:
        error = self._result_future.exception()
        if error is not None:
            return self._failure(Outcome.FAILED, f"getting the result raised {error!r}")
        return task_conversions.place_result_from_msg(
            self._result_future.result().result,
            stages=self.stages,
            dry_run=bool(self._goal.dry_run),
            elapsed_s=self.elapsed_s,
        )
