"""The hold is read only once the fingers rest: an object that slipped out right at the end of a
motion must not be reported as held because the fingers had not closed on yet."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sensor_msgs.msg import JointState

from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.ros import conversions
from a2_grasping.ros.hardware.controllers import (
    GRIPPER_SETTLE_S,
    Deadline,
    ExecutionError,
    JointStateMonitor,
)

GRIPPER_JOINT = "finger_joint"
RATE_HZ = 200.0


def _publish(monitor: JointStateMonitor, knuckle_at, stop: threading.Event) -> None:
    """Joint states at RATE_HZ of robot time (stamps from 0), the knuckle given by `knuckle_at`."""
    tick = 0
    while not stop.is_set():
        stamp_s = tick / RATE_HZ
        message = JointState(name=[*UR_JOINT_NAMES, GRIPPER_JOINT])
        message.header.stamp = conversions.seconds_to_time(stamp_s)
        message.position = [0.0] * 6 + [float(knuckle_at(stamp_s))]
        monitor.on_joint_state(message)
        tick += 1
        time.sleep(1.0 / RATE_HZ)


def _settled_while(knuckle_at, timeout_s: float = 5.0) -> float:
    monitor = JointStateMonitor(UR_JOINT_NAMES, GRIPPER_JOINT)
    stop = threading.Event()
    feeder = threading.Thread(target=_publish, args=(monitor, knuckle_at, stop), daemon=True)
    feeder.start()
    try:
        while monitor.latest(1.0) is None:
            time.sleep(0.005)
        return monitor.settled_gripper_rad(Deadline(timeout_s), max_age_s=1.0)
    finally:
        stop.set()
        feeder.join(timeout=1.0)


def test_fingers_closing_on_after_a_drop_are_read_where_they_stop():
    def dropped(stamp_s: float) -> float:  # held at 0.45 rad, object gone: closes to 0.8
        return float(np.interp(stamp_s, [0.0, 0.1, 0.4], [0.45, 0.45, 0.8]))

    assert _settled_while(dropped) == pytest.approx(0.8)


def test_fingers_that_rest_on_the_object_are_read_after_one_settle_window():
    started_s = time.monotonic()
    assert _settled_while(lambda _stamp_s: 0.45) == pytest.approx(0.45)
    assert time.monotonic() - started_s >= GRIPPER_SETTLE_S  # robot time ran at least as long


def test_fingers_that_never_rest_end_in_an_error():
    with pytest.raises(ExecutionError, match="did not come to rest"):
        _settled_while(lambda stamp_s: 0.4 + 0.05 * np.sin(20.0 * stamp_s), timeout_s=1.0)
