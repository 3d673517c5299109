"""The robot state from /joint_states messages that each carry some of the joints.

A real cell publishes the arm and the gripper separately: the UR driver's joint_state_broadcaster
sends the six arm joints, the Robotiq driver (or a second broadcaster) the knuckle joint, each
at its own rate, and with `use_mock_hardware` it is the same. So joints are merged by name, each
keeping its own sample and arrival time, and a state exists only while every joint the task uses
is fresh: one stopped driver makes the whole state stale instead of leaving an old value in it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from a2_grasping.core.task.ports import RobotState


@dataclass(frozen=True)
class _JointSample:
    position: float
    velocity: float | None  # None: the message carried none; differentiated from positions
    stamp_s: float
    received_s: float


class JointStateMerger:
    """Newest sample per joint; `state` assembles the arm + gripper state when all are fresh."""

    def __init__(self, arm_joints: Sequence[str], gripper_joint: str) -> None:
        self._arm_joints = tuple(arm_joints)
        self._gripper_joint = gripper_joint
        self._wanted = frozenset((*self._arm_joints, gripper_joint))
        self._lock = threading.Lock()
        self._samples: dict[str, _JointSample] = {}
        self._velocity_estimates: dict[str, float] = {}

    def update(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float],
        stamp_s: float,
        received_s: float,
    ) -> None:
        """One message's joints (others' joints are ignored; a non-finite value is dropped, so
        that joint goes stale rather than carrying a wrong number)."""
        with_velocity = len(velocities) == len(names)
        with self._lock:
            for index, name in enumerate(names):
                if name not in self._wanted or index >= len(positions):
                    continue
                position = float(positions[index])
                if not math.isfinite(position) or not math.isfinite(stamp_s):
                    continue
                velocity = float(velocities[index]) if with_velocity else None
                if velocity is not None and not math.isfinite(velocity):
                    velocity = None
                previous = self._samples.get(name)
                if previous is not None and stamp_s > previous.stamp_s:
                    self._velocity_estimates[name] = (position - previous.position) / (
                        stamp_s - previous.stamp_s
                    )
                self._samples[name] = _JointSample(position, velocity, stamp_s, received_s)

    def missing(self, now_s: float, max_age_s: float) -> list[str]:
        """Joints with no sample received within `max_age_s` of `now_s` (for messages)."""
        with self._lock:
            return [
                name
                for name in (*self._arm_joints, self._gripper_joint)
                if name not in self._samples or now_s - self._samples[name].received_s > max_age_s
            ]

    def ages(self, now_s: float) -> dict[str, float | None]:
        """Per wanted joint, how long ago its newest sample arrived (None: never)."""
        with self._lock:
            return {
                name: now_s - self._samples[name].received_s if name in self._samples else None
                for name in (*self._arm_joints, self._gripper_joint)
            }

    def state(self, now_s: float, max_age_s: float) -> RobotState | None:
        """The arm + gripper state, or None unless every joint arrived within `max_age_s` of
        `now_s` (both on the receiving clock). Its stamp and arrival are the oldest joint's."""
        with self._lock:
            samples = [self._samples.get(name) for name in (*self._arm_joints, self._gripper_joint)]
            estimates = dict(self._velocity_estimates)
        present = [s for s in samples if s is not None]
        if len(present) < len(samples) or any(now_s - s.received_s > max_age_s for s in present):
            return None
        arm = present[: len(self._arm_joints)]
        velocity = [
            s.velocity if s.velocity is not None else estimates.get(name, 0.0)
            for name, s in zip(self._arm_joints, arm, strict=True)
        ]
        return RobotState(
            np.array([s.position for s in arm], dtype=np.float64),
            np.array(velocity, dtype=np.float64),
            present[-1].position,
            min(s.stamp_s for s in present),
            min(s.received_s for s in present),
        )
