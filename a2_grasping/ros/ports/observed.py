"""What the runner observes: the robot's joint states and the perception scene."""

from __future__ import annotations

import threading
import time

from rclpy.clock import Clock

from a2_grasping.core.scene import Scene
from a2_grasping.core.task.ports import Observation, RobotState
from a2_grasping.ros import conversions
from a2_grasping.ros.hardware.controllers import Deadline, JointStateMonitor

POLL_S = 0.05


class RobotStates:
    """The joint-state monitor as the runner's state source; gripper settling on robot time."""

    def __init__(self, monitor: JointStateMonitor, clock: Clock) -> None:
        self._monitor = monitor
        self._clock = clock

    def latest(self, max_age_s: float) -> RobotState | None:
        return self._monitor.latest(max_age_s)

    def missing_joints(self, max_age_s: float) -> list[str]:
        return self._monitor.missing_joints(max_age_s)

    def settled_gripper_rad(self, timeout_s: float, max_age_s: float) -> float:
        return self._monitor.settled_gripper_rad(Deadline(timeout_s, self._clock), max_age_s)


class SceneTopic:
    """The newest scene from the perception topic (the subscription calls `on_scene`); `fresh`
    waits at most input_wait_s (wall time) for one young and new enough."""

    def __init__(self, clock: Clock, input_wait_s: float, max_scene_age_s: float) -> None:
        self._clock = clock
        self._input_wait_s = input_wait_s
        self._max_scene_age_s = max_scene_age_s
        self._observation: Observation | None = None
        self._lock = threading.Lock()

    def on_scene(self, scene: Scene) -> None:
        observation = Observation(
            scene.views, scene.points_xyz, scene.colors_rgb, scene.stamp_s, scene.frame_id
        )
        with self._lock:
            self._observation = observation

    def latest(self) -> Observation | None:
        with self._lock:
            return self._observation

    def now_s(self) -> float:
        return conversions.clock_seconds(self._clock)

    def fresh(self, newer_than_s: float | None = None) -> Observation | None:
        deadline = time.monotonic() + self._input_wait_s
        while True:
            observation = self.latest()
            if observation is not None:
                age_s = self.now_s() - observation.stamp_s
                newer = newer_than_s is None or observation.stamp_s > newer_than_s
                if age_s <= self._max_scene_age_s and newer:
                    return observation
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)
