"""No pipeline node stalls another: each one frozen in turn (SIGSTOP, as a debugger, a swapped-out
process or a hung driver would leave it) while the others keep publishing at their rates, and a
task that needs the frozen node gets a specific answer.

The cause this guards against: sim_node used to render its cameras on the physics thread, and a
publish of camera images that waited on a stopped subscriber (perception_node) held up /clock and
/joint_states with it; the executor, which aborts a motion after 0.5 s without a joint state,
aborted the pick. The cameras now render and publish on a thread of their own. A second cause
was in Fast DDS's shared-memory transport: a listener paused for longer than
healthy_check_timeout_ms (1 s by default) is declared dead and its port regenerated, which
stalled writers and once left the resumed executor deaf to goals; the shipped profile
(config/fastdds_large_data.xml) sets 10 s.
Rates are compared with the same node's rate just before the freeze (not with a fixed figure), so
a loaded machine slows both windows alike.

Fast DDS's shared-memory transport has a window this test must live with (README, "Pitfalls"):
a process stopped while one of its threads holds a shared-memory port's lock blocks every writer
that pushes into that port until it runs again (gdb showed sim_node's /clock publish and
perception_node's scene publish waiting in Port::try_push). Measured here: 2 to 4 freezes in 100
(Intel Xeon model 167). A stall of ours repeats on every freeze (the two causes above
did); the window does not. So a freeze that did not hold is tried again, up to ATTEMPTS times
(each from a fresh reset), and reported as a warning when a later one holds; the test fails when
none does. A window that strikes 4 freezes in 100 fails it about once in 16 000 runs.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sensor_msgs.msg import JointState

from a2_grasping.action import Pick
from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.msg import SceneSnapshot
from a2_grasping.testing.sim_session import SimSession

# The thread method: once (2026-12-08) this test's own process looped inside a Fast DDS
# take of a sample it could not deserialize, one C++ call that the signal method never
# interrupts; the thread method dumps every stack and ends the worker, one failure, not a hang.
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.timeout(300, method="thread")]
WINDOW_S = 4.0
KEPT_RATE = 0.5  # a stream still arrives at half its rate before the freeze, at least
ATTEMPTS = 3  # freezes tried before a stall counts as ours (the window: 2-4 freezes in 100)


@contextmanager
def _frozen(session: SimSession, name: str) -> Iterator[None]:
    process = next(p for p in session.processes if p.name == name)
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


class _Arrivals:
    """Counts messages per stream reaching this session's node.

    The subscriptions are made, and seen to match, before any node is frozen: matching a new
    reader is discovery traffic to every participant, the frozen one included, which is not the
    data flow this test is about (CI once counted 0 joint states in a window whose reader was
    created during the freeze)."""

    STREAMS = ("joint_states", "scene")

    def __init__(self, session: SimSession) -> None:
        self._session = session
        self.counts = dict.fromkeys(self.STREAMS, 0)
        self._subscriptions = [
            session.node.create_subscription(
                JointState, "joint_states", self._count("joint_states"), 50
            ),
            session.node.create_subscription(SceneSnapshot, "a2/scene", self._count("scene"), 1),
        ]
        deadline = time.monotonic() + 30.0
        while min(self.counts.values()) == 0 and time.monotonic() < deadline:
            session.spin_for(0.2)
        assert min(self.counts.values()) > 0, f"streams never arrived: {self.counts}"

    def _count(self, stream: str):
        def on_message(_msg: object) -> None:
            self.counts[stream] += 1

        return on_message

    def within(self, seconds: float) -> dict[str, int]:
        """Messages per stream that arrive within the next `seconds` (wall)."""
        start = dict(self.counts)
        self._session.spin_for(seconds)
        return {stream: self.counts[stream] - start[stream] for stream in self.STREAMS}

    def close(self) -> None:
        for subscription in self._subscriptions:
            self._session.node.destroy_subscription(subscription)


def _held_on_some_freeze(what: str, attempt: Callable[[], str | None]) -> None:
    """Runs `attempt` (None when the cell held, else what went wrong) until it holds, at most
    ATTEMPTS times. An attempt that failed is reported as a warning when a later one held."""
    failures: list[str] = []
    for _ in range(ATTEMPTS):
        failure = attempt()
        if failure is None:
            if failures:
                warnings.warn(
                    f"{what}: {len(failures)} freeze(s) hit Fast DDS's shared-memory window "
                    f"(README, Pitfalls) before one held: {failures}",
                    stacklevel=2,
                )
            return
        failures.append(failure)
    pytest.fail(f"{what}: failed on each of {ATTEMPTS} freezes: {failures}")


@pytest.mark.parametrize("frozen", ["perception_node", "inference_node", "executor_node"])
def test_a_frozen_node_stalls_no_other(session, frozen):
    def attempt() -> str | None:
        session.reset(0, "single")
        session.wait_for_fresh_scene()
        arrivals = _Arrivals(session)
        try:
            before = arrivals.within(WINDOW_S)
            with _frozen(session, frozen):
                during = arrivals.within(WINDOW_S)
        finally:
            arrivals.close()
        session.wait_for_fresh_scene()  # the frozen node catches up once it runs again
        assert before["joint_states"] > 0 and before["scene"] > 0, before
        streams = ["joint_states"] if frozen == "perception_node" else list(_Arrivals.STREAMS)
        slowed = [s for s in streams if during[s] < KEPT_RATE * before[s]]
        return f"{slowed} slowed: {before} before, {during} during" if slowed else None

    _held_on_some_freeze(f"freezing {frozen}", attempt)


def _pick_with_perception_frozen(session: SimSession) -> tuple[Pick.Result, list[float]]:
    """A pick with perception_node stopped as the arm starts to the pre-grasp, for 5 s or until
    the lift starts, whichever comes first; returns the result and the stop and resume times."""
    session.reset(0, "single")
    session.wait_for_fresh_scene()
    process = next(p for p in session.processes if p.name == "perception_node")
    stopped_at: list[float] = []

    def resume() -> None:
        os.kill(process.pid, signal.SIGCONT)
        stopped_at.append(time.monotonic())

    def on_stage(stage: str) -> None:
        if stage == "moving_to_pregrasp" and not stopped_at:
            os.kill(process.pid, signal.SIGSTOP)
            stopped_at.append(time.monotonic())
        elif stage == "lifting" and len(stopped_at) == 1:
            resume()

    def on_poll() -> None:
        if len(stopped_at) == 1 and time.monotonic() - stopped_at[0] >= 5.0:
            resume()

    try:
        result, _stages = session.pick(
            Pick.Goal(instruction="pick up the object"),
            on_stage=on_stage,
            on_poll=on_poll,
        )
    finally:
        os.kill(process.pid, signal.SIGCONT)
    return result, stopped_at


def test_a_pick_survives_perception_frozen_during_its_motion(session):
    """The issue's reproduction. Frozen for 5 s or until the lift, as a pick can reach the lift
    sooner, and its post-lift check, which waits input_wait_s for a scene newer than the lift,
    would then end the pick before a fixed 5 s freeze did. The motion needs only joint states;
    the post-lift check gets its fresh scene once perception runs again."""

    def attempt() -> str | None:
        result, stopped_at = _pick_with_perception_frozen(session)
        assert len(stopped_at) == 2, "perception_node was frozen and resumed during the pick"
        assert stopped_at[1] - stopped_at[0] >= 1.0  # the motion to the object ran without it
        if result.error_code != Pick.Result.NONE:
            return f"pick ended with {result.error_code}: {result.error_message}"
        assert session.objects()[0].height_gain_m >= 0.05
        return None

    _held_on_some_freeze("a pick with perception_node frozen", attempt)


def test_a_pick_with_perception_frozen_is_refused_as_stale(session):
    def attempt() -> str | None:
        session.reset(0, "single")
        session.wait_for_fresh_scene()
        with _frozen(session, "perception_node"):
            session.spin_for(3.0)  # the newest scene grows older than max_input_age_s (2 s)
            result, stages = session.pick(Pick.Goal(instruction="pick up the object"))
        assert "moving_to_pregrasp" not in stages
        if result.select_error_code != SelectErrorCode.STALE_SCENE:
            return f"pick ended with {result.error_code}/{result.select_error_code}: " + (
                result.error_message
            )
        assert result.error_code == Pick.Result.SELECTION_FAILED, result.error_message
        return None

    _held_on_some_freeze("a pick on a stale scene", attempt)
