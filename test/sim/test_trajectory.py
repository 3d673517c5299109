"""The joint trajectory controller's validation and setpoint generation (no physics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from a2_grasping.sim.config import ARM_JOINTS
from a2_grasping.sim.trajectory import (
    JointLimits,
    TrajectoryError,
    TrajectoryFollower,
    validate_trajectory,
)

DT_S = 0.002
LIMITS = JointLimits(
    lower_rad=np.full(6, -2 * math.pi),
    upper_rad=np.full(6, 2 * math.pi),
    max_velocity_rad_s=np.full(6, math.pi),
    max_acceleration_rad_s2=np.full(6, 5.0),
)


def _plan(times, positions, velocities=(), names=ARM_JOINTS):
    velocities = velocities or [()] * len(times)
    return validate_trajectory(
        names, times, positions, velocities, controlled_joints=ARM_JOINTS, limits=LIMITS
    )


def _run(follower, t0, duration_s):
    """Step the follower; return (times, setpoints (N, 6))."""
    times, setpoints = [], []
    t = t0
    for _ in range(round(duration_s / DT_S)):
        t += DT_S
        times.append(t)
        setpoints.append(follower.update(t, DT_S))
    return np.array(times), np.array(setpoints)


def test_joint_order_is_the_controllers():
    reversed_names = ARM_JOINTS[::-1]
    plan = _plan([1.0], [[0.0, 0.1, 0.2, 0.3, 0.4, 0.5]], names=reversed_names)
    np.testing.assert_allclose(plan.positions_rad[0], [0.5, 0.4, 0.3, 0.2, 0.1, 0.0])


@pytest.mark.parametrize(
    ("names", "times", "positions", "velocities", "match"),
    [
        (ARM_JOINTS[:5], [1.0], [[0.0] * 5], (), "missing"),
        ((*ARM_JOINTS[:5], "elbow"), [1.0], [[0.0] * 6], (), "unknown"),
        ((*ARM_JOINTS[:5], ARM_JOINTS[0]), [1.0], [[0.0] * 6], (), "duplicate"),
        (ARM_JOINTS, [1.0, 1.0], [[0.0] * 6] * 2, (), "strictly increasing"),
        (ARM_JOINTS, [0.0], [[0.0] * 6], (), "> 0"),
        (ARM_JOINTS, [1.0], [[0.0] * 5], (), "6 positions"),
        (ARM_JOINTS, [1.0], [[math.nan] + [0.0] * 5], (), "NaN"),
        (ARM_JOINTS, [1.0], [[0.0, 0.0, 7.0, 0.0, 0.0, 0.0]], (), "elbow_joint = 7.0000"),
        (ARM_JOINTS, [1.0], [[0.0] * 6], [[4.0] + [0.0] * 5], "velocity of shoulder_pan"),
        (ARM_JOINTS, [0.5, 1.0], [[0.0] * 6, [3.0] + [0.0] * 5], (), "mean segment speed"),
        (ARM_JOINTS, [1.0, 2.0], [[0.0] * 6] * 2, [[0.0] * 6, []], "for all points"),
    ],
)
def test_bad_trajectories_are_refused_with_a_specific_reason(
    names, times, positions, velocities, match
):
    with pytest.raises(TrajectoryError, match=match):
        _plan(times, positions, list(velocities), names=names)


def test_reaches_the_goal_within_limits_and_reports_completion():
    follower = TrajectoryFollower(LIMITS, np.zeros(6), ARM_JOINTS)
    goal = np.array([1.0, -0.5, 0.8, 0.0, 0.3, -1.0])
    follower.start(_plan([0.5, 1.5], [list(goal / 3), list(goal)]), now_s=0.0)
    assert follower.executing
    _, q = _run(follower, 0.0, 2.5)
    np.testing.assert_allclose(q[-1], goal, atol=1e-4)
    assert not follower.executing
    v = np.diff(q, axis=0) / DT_S
    a = np.diff(v, axis=0) / DT_S
    assert np.max(np.abs(v)) <= math.pi + 1e-9
    assert np.max(np.abs(a)) <= 5.0 + 1e-6


def test_cubic_segments_track_a_smooth_trajectory_closely():
    follower = TrajectoryFollower(LIMITS, np.zeros(6), ARM_JOINTS)
    t = np.linspace(0.1, 2.0, 20)
    q_ref = 0.5 * (1 - np.cos(np.pi * t / 2.0))  # smooth, peak acceleration 1.2 rad/s^2
    v_ref = 0.5 * np.pi / 2.0 * np.sin(np.pi * t / 2.0)
    positions = [[p] * 6 for p in q_ref]
    velocities = [[v] * 6 for v in v_ref]
    follower.start(_plan(list(t), positions, velocities), now_s=0.0)
    times, q = _run(follower, 0.0, 2.0)
    expected = 0.5 * (1 - np.cos(np.pi * times / 2.0))
    assert np.max(np.abs(q[:, 0] - expected)) < 0.01


def test_empty_trajectory_stops_within_the_braking_bound_and_holds():
    follower = TrajectoryFollower(LIMITS, np.zeros(6), ARM_JOINTS)
    follower.start(_plan([3.0], [[3.0] * 6]), now_s=0.0)
    _, q = _run(follower, 0.0, 1.5)
    moving = np.abs(np.diff(q[-2:], axis=0)[0]) / DT_S
    assert np.all(moving > 0.5), "mid-motion before the stop"
    follower.stop()
    bound_s = math.pi / 5.0  # max velocity / max acceleration
    _, q_after = _run(follower, 1.5, bound_s + 0.01)
    assert not follower.executing
    _, q_hold = _run(follower, 1.5 + bound_s + 0.01, 0.5)
    np.testing.assert_allclose(q_hold, np.repeat(q_after[-1:], len(q_hold), axis=0), atol=1e-9)
    assert np.all(q_after[-1] < 3.0)


def test_a_new_trajectory_replaces_the_running_one():
    follower = TrajectoryFollower(LIMITS, np.zeros(6), ARM_JOINTS)
    follower.start(_plan([2.0], [[2.0] * 6]), now_s=0.0)
    _run(follower, 0.0, 0.5)
    follower.start(_plan([1.5], [[-0.5] * 6]), now_s=0.5)
    _, q = _run(follower, 0.5, 2.5)
    np.testing.assert_allclose(q[-1], np.full(6, -0.5), atol=1e-4)
    assert np.max(q) < 2.0


def test_first_point_too_fast_from_the_current_state_is_refused():
    follower = TrajectoryFollower(LIMITS, np.zeros(6), ARM_JOINTS)
    with pytest.raises(TrajectoryError, match="speed to the first point of shoulder_pan_joint"):
        follower.start(_plan([0.1], [[1.0] + [0.0] * 5]), now_s=0.0)
    assert not follower.executing
