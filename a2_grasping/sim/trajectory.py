"""A joint trajectory controller for the simulated arm, in the manner of ros2_control's JTC.

Interpolation as in the JTC: positions + velocities give cubic Hermite segments, positions only
give linear segments; the first segment starts at the current commanded state. A new trajectory
replaces the running one from the current state; an empty trajectory stops the arm.

Limits policy (documented contract):
- **refused** (TrajectoryError, the arm keeps doing what it did): joint names that are not
  exactly the controlled joints (any order, no duplicates, no partial goals), no points, times
  not strictly increasing, non-finite values, positions outside the joint limits, given
  velocities above the velocity limit, and segments whose mean speed exceeds the velocity limit.
- **clamped**: the commanded setpoint follows the interpolated reference through a critically
  damped second-order filter whose acceleration and velocity are saturated at the limits. A
  trajectory that demands more acceleration than the limit (e.g. the corners of linear
  segments) is followed with a small lag rather than refused, as a real arm would round them.
- **stop**: an empty trajectory decelerates every joint at the acceleration limit to rest, then
  holds; that takes at most max_velocity / max_acceleration seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Bandwidth of the setpoint filter (rad/s): high enough that the lag on a smooth (toppra)
# trajectory is ~1 ms of motion, low enough to stay stable at the 2 ms physics step.
_FILTER_BANDWIDTH_RAD_S = 40.0
# Tolerance on velocity-limit checks: time parameterisations round, a real driver allows this.
_LIMIT_TOLERANCE = 0.02
# A trajectory counts as finished when the setpoint is this close to its last point.
_SETTLED_POSITION_RAD = 1e-4
_SETTLED_VELOCITY_RAD_S = 1e-3
_REST_TOLERANCE = 1e-9


class TrajectoryError(ValueError):
    """A trajectory the controller refuses; the message names the offending joint/point."""


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits, in the controller's joint order (radians, seconds)."""

    lower_rad: NDArray[np.float64]
    upper_rad: NDArray[np.float64]
    max_velocity_rad_s: NDArray[np.float64]
    max_acceleration_rad_s2: NDArray[np.float64]


@dataclass(frozen=True)
class TrajectoryPlan:
    """A validated trajectory in controller joint order; times are relative to its start."""

    times_s: NDArray[np.float64]  # (K,) strictly increasing, > 0 except possibly the first
    positions_rad: NDArray[np.float64]  # (K, J)
    velocities_rad_s: NDArray[np.float64] | None  # (K, J) or None: linear interpolation

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1])


def validate_trajectory(
    joint_names: Sequence[str],
    times_s: Sequence[float],
    positions_rad: Sequence[Sequence[float]],
    velocities_rad_s: Sequence[Sequence[float]],
    *,
    controlled_joints: Sequence[str],
    limits: JointLimits,
) -> TrajectoryPlan:
    """Check a trajectory message's content and reorder it to the controller's joints.

    Args:
        joint_names: the message's joint names.
        times_s: time_from_start of each point.
        positions_rad: each point's positions, in joint_names order.
        velocities_rad_s: each point's velocities (empty sequences when not given).
        controlled_joints: the controller's joint names, in its order.
        limits: the joint limits in controller order.

    Raises:
        TrajectoryError: naming the first problem found.
    """
    names = list(joint_names)
    _check_names(names, controlled_joints)
    if len(times_s) == 0:
        raise TrajectoryError("no points")
    order = [names.index(joint) for joint in controlled_joints]
    count = len(names)
    times = np.asarray(times_s, dtype=np.float64)
    if not np.all(np.isfinite(times)) or times[0] < 0.0 or np.any(np.diff(times) <= 0.0):
        raise TrajectoryError(
            f"time_from_start must be finite, >= 0 and strictly increasing: {times.tolist()}"
        )
    if times[-1] <= 0.0:
        raise TrajectoryError("the last point must have time_from_start > 0")
    if any(len(p) != count for p in positions_rad):
        raise TrajectoryError(f"every point needs {count} positions")
    positions = np.asarray(positions_rad, dtype=np.float64)[:, order]
    if not np.all(np.isfinite(positions)):
        raise TrajectoryError("positions contain NaN or infinite values")
    for j, joint in enumerate(controlled_joints):
        low, high = limits.lower_rad[j], limits.upper_rad[j]
        outside = np.flatnonzero((positions[:, j] < low) | (positions[:, j] > high))
        if outside.size:
            k = int(outside[0])
            raise TrajectoryError(
                f"point {k}: {joint} = {positions[k, j]:.4f} rad outside its limits "
                f"[{low:.4f}, {high:.4f}]"
            )
    velocities = None
    given = [len(v) for v in velocities_rad_s]
    if any(given):
        if any(g != count for g in given):
            raise TrajectoryError(
                f"velocities must be given for all points with {count} values, or for none"
            )
        velocities = np.asarray(velocities_rad_s, dtype=np.float64)[:, order]
        if not np.all(np.isfinite(velocities)):
            raise TrajectoryError("velocities contain NaN or infinite values")
        _check_speed(np.abs(velocities), limits, controlled_joints, "velocity")
    if len(times) > 1:
        mean_speed = np.abs(np.diff(positions, axis=0)) / np.diff(times)[:, None]
        _check_speed(mean_speed, limits, controlled_joints, "mean segment speed")
    return TrajectoryPlan(times, positions, velocities)


def _check_names(names: list[str], controlled_joints: Sequence[str]) -> None:
    if len(set(names)) != len(names):
        raise TrajectoryError(f"duplicate joint names in {names}")
    if set(names) != set(controlled_joints):
        missing = sorted(set(controlled_joints) - set(names))
        unknown = sorted(set(names) - set(controlled_joints))
        raise TrajectoryError(
            f"joint names must be exactly the arm joints: missing {missing}, unknown {unknown}"
        )


def _check_speed(
    speeds: NDArray[np.float64], limits: JointLimits, joints: Sequence[str], what: str
) -> None:
    excess = speeds > limits.max_velocity_rad_s * (1.0 + _LIMIT_TOLERANCE)
    if np.any(excess):
        k, j = (int(i) for i in np.argwhere(excess)[0])
        raise TrajectoryError(
            f"{what} of {joints[j]} at point {k} is {speeds[k, j]:.3f} rad/s, above the "
            f"limit {limits.max_velocity_rad_s[j]:.3f} rad/s"
        )


class TrajectoryFollower:
    """Produces the arm's position setpoint, one physics step at a time.

    Not thread-safe: the simulation thread owns it; commands reach it through the cell.
    """

    def __init__(
        self, limits: JointLimits, initial_rad: NDArray[np.float64], joint_names: Sequence[str]
    ) -> None:
        self._limits = limits
        self._joint_names = tuple(joint_names)
        self._q = np.array(initial_rad, dtype=np.float64)
        self._v = np.zeros_like(self._q)
        self._plan: TrajectoryPlan | None = None
        self._start_s = 0.0
        self._start_q = self._q.copy()
        self._start_v = self._v.copy()
        self._stopping = False
        self._hold_q = self._q.copy()

    @property
    def setpoint_rad(self) -> NDArray[np.float64]:
        return self._q.copy()

    @property
    def setpoint_velocity_rad_s(self) -> NDArray[np.float64]:
        return self._v.copy()

    @property
    def executing(self) -> bool:
        """True while a trajectory runs or the arm is braking to a stop."""
        return self._plan is not None or self._stopping

    @property
    def at_rest(self) -> bool:
        """Nothing running and the setpoint converged onto the hold position (1 nrad): further
        updates would change nothing that matters, so the cell may skip them."""
        return (
            not self.executing
            and bool(np.all(np.abs(self._v) < _REST_TOLERANCE))
            and bool(np.all(np.abs(self._q - self._hold_q) < _REST_TOLERANCE))
        )

    def start(self, plan: TrajectoryPlan, now_s: float) -> None:
        """Replace whatever runs with `plan`, starting from the current setpoint.

        Raises:
            TrajectoryError: when reaching the first point in time would exceed the velocity
                limit (the first segment starts at the current state).
        """
        first_dt = float(plan.times_s[0])
        if first_dt > 0.0:
            speed = np.abs(plan.positions_rad[0] - self._q) / first_dt
            _check_speed(speed[None], self._limits, self._joint_names, "speed to the first point")
        self._plan = plan
        self._start_s = now_s
        self._start_q = self._q.copy()
        self._start_v = self._v.copy()
        self._stopping = False

    def stop(self) -> None:
        """Brake at the acceleration limit, then hold where the arm came to rest."""
        self._plan = None
        self._stopping = bool(np.any(self._v != 0.0))
        self._hold_q = self._q.copy()

    def reset(self, positions_rad: NDArray[np.float64]) -> None:
        """Teleport the setpoint (scene reset): no motion, nothing running."""
        self._q = np.array(positions_rad, dtype=np.float64)
        self._v = np.zeros_like(self._q)
        self._plan = None
        self._stopping = False
        self._hold_q = self._q.copy()

    def update(self, now_s: float, dt_s: float) -> NDArray[np.float64]:
        """Advance the setpoint to `now_s` and return it."""
        limits = self._limits
        if self._stopping:
            dv = np.clip(
                -self._v,
                -limits.max_acceleration_rad_s2 * dt_s,
                limits.max_acceleration_rad_s2 * dt_s,
            )
            self._v += dv
            self._q += self._v * dt_s
            if np.all(np.abs(self._v) < 1e-9):
                self._v[:] = 0.0
                self._stopping = False
                self._hold_q = self._q.copy()
            return self.setpoint_rad
        if self._plan is None:
            reference, reference_v, reference_a = (
                self._hold_q,
                np.zeros_like(self._q),
                np.zeros_like(self._q),
            )
        else:
            reference, reference_v, reference_a = self._sample(now_s - self._start_s)
        omega = _FILTER_BANDWIDTH_RAD_S
        accel = (
            reference_a + omega**2 * (reference - self._q) + 2.0 * omega * (reference_v - self._v)
        )
        accel = np.clip(accel, -limits.max_acceleration_rad_s2, limits.max_acceleration_rad_s2)
        self._v = np.clip(
            self._v + accel * dt_s, -limits.max_velocity_rad_s, limits.max_velocity_rad_s
        )
        self._q = self._q + self._v * dt_s
        if self._plan is not None and now_s - self._start_s >= self._plan.duration_s:
            final = self._plan.positions_rad[-1]
            settled = np.all(np.abs(self._q - final) < _SETTLED_POSITION_RAD) and np.all(
                np.abs(self._v) < _SETTLED_VELOCITY_RAD_S
            )
            if settled:
                self._plan = None
                self._hold_q = final.copy()
        return self.setpoint_rad

    def _sample(
        self, t_s: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Reference position, velocity and acceleration at `t_s` after the start."""
        plan = self._plan
        assert plan is not None
        times = plan.times_s
        if t_s >= times[-1]:
            zero = np.zeros_like(self._q)
            return plan.positions_rad[-1].copy(), zero, zero
        k = int(np.searchsorted(times, t_s, side="right"))  # segment k ends at point k
        v0: NDArray[np.float64] | None
        if k == 0:
            t0, q0, v0 = 0.0, self._start_q, self._start_v
        else:
            t0, q0 = float(times[k - 1]), plan.positions_rad[k - 1]
            v0 = plan.velocities_rad_s[k - 1] if plan.velocities_rad_s is not None else None
        t1, q1 = float(times[k]), plan.positions_rad[k]
        duration = t1 - t0
        if plan.velocities_rad_s is None:
            v = (q1 - q0) / duration
            return q0 + v * (t_s - t0), v, np.zeros_like(v)
        v1 = plan.velocities_rad_s[k]
        assert v0 is not None
        return _hermite(q0, v0, q1, v1, duration_s=duration, t_s=t_s - t0)


def _hermite(
    q0: NDArray[np.float64],
    v0: NDArray[np.float64],
    q1: NDArray[np.float64],
    v1: NDArray[np.float64],
    *,
    duration_s: float,
    t_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cubic through (q0, v0) at 0 and (q1, v1) at duration: position, velocity, acceleration."""
    h = duration_s
    a2 = (3.0 * (q1 - q0) - (2.0 * v0 + v1) * h) / h**2
    a3 = (2.0 * (q0 - q1) + (v0 + v1) * h) / h**3
    t = t_s
    position = q0 + v0 * t + a2 * t**2 + a3 * t**3
    velocity = v0 + 2.0 * a2 * t + 3.0 * a3 * t**2
    acceleration = 2.0 * a2 + 6.0 * a3 * t
    return position, velocity, acceleration
