"""What task logic needs from the outside world, as small protocols the ROS layer implements.

Arm and gripper are the controller adapters (topic or action backends), the state source is the
joint-state monitor, scenes come from the perception topic, grasp and place choices from the
selection services, and the planner is the embedded one or moveit_py. Task code sees only these
shapes, so it runs and is tested without ROS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.planning.plans import TaskPlan
from a2_grasping.core.scene import CameraView
from a2_grasping.core.selection.place_regions import HeldObject, PlaceRegion

FloatArray = NDArray[np.float64]
HeldBox = tuple[FloatArray, FloatArray]  # (lower, upper) in the TCP frame


@dataclass(frozen=True)
class RobotState:
    arm_rad: FloatArray  # (6,) in planning order
    arm_velocity_rad_s: FloatArray  # (6,)
    gripper_rad: float
    stamp_s: float  # of the joint state message
    received_monotonic_s: float  # local arrival time, for staleness checks


@dataclass(frozen=True)
class Observation:
    """What the cameras saw at `stamp_s`: every view (for the collision world) and the fused
    scene cloud (for checks of where objects are)."""

    views: tuple[CameraView, ...]
    points_xyz: NDArray[np.float32]
    colors_rgb: NDArray[np.uint8]
    stamp_s: float
    frame_id: str


@dataclass(frozen=True)
class ObjectBox:
    """An object as segmented: its box in the base frame and a description for messages."""

    base_from_box: FloatArray  # (4, 4), box centre, z up
    extents_m: FloatArray  # (3,) full lengths
    description: str
    color: str = ""  # base colour name

    def footprint_contains(self, xy_m: FloatArray) -> bool:
        """Whether a base-frame point (x, y) lies over this box's footprint: two objects on a
        table never do over each other's, so another box's centre inside means the same object
        seen in another scene."""
        local = (np.asarray(xy_m, dtype=np.float64) - self.base_from_box[:2, 3]) @ (
            self.base_from_box[:2, :2]
        )
        return bool(np.all(np.abs(local) <= 0.5 * np.asarray(self.extents_m)[:2]))


@dataclass(frozen=True)
class Choice:
    """Ranked TCP poses (grasps or releases) and the object they concern."""

    poses: FloatArray  # (K, 4, 4) base_from_tcp, best first
    target: ObjectBox | None  # grasps: the object to lift; places: the reference object


class Arm(Protocol):
    def execute(
        self,
        path: TimedPath,
        goal_tolerance_rad: float,
        timeout_s: float,
        canceled: Callable[[], bool],
    ) -> None:
        """Run `path` and return once the arm rests at its end; ExecutionError / CanceledError
        (after stopping the arm) otherwise."""
        ...

    def stop(self, timeout_s: float) -> bool:
        """Stop now; True once the arm is still."""
        ...


class Gripper(Protocol):
    def move(self, position_rad: float, timeout_s: float, max_state_age_s: float) -> float:
        """Command a knuckle angle; return where the fingers settled (they stop on an object)."""
        ...


class RobotStateSource(Protocol):
    def latest(self, max_age_s: float) -> RobotState | None: ...

    def missing_joints(self, max_age_s: float) -> list[str]:
        """Joints not heard from within `max_age_s` (why `latest` gave None)."""
        ...

    def settled_gripper_rad(self, timeout_s: float, max_age_s: float) -> float:
        """The knuckle angle once the fingers have come to rest (robot time)."""
        ...


class Scenes(Protocol):
    def fresh(self, newer_than_s: float | None = None) -> Observation | None:
        """The newest observation once it is fresh enough (and stamped after `newer_than_s`),
        waiting a bounded time; None when none arrived."""
        ...

    def now_s(self) -> float:
        """The robot's clock (simulated time under use_sim_time)."""
        ...


class ChoiceSource(Protocol):
    def choose(
        self, instruction: str, canceled: Callable[[], bool], newer_than_s: float | None = None
    ) -> Choice:
        """Ask the selection service, on a scene captured after `newer_than_s` (robot clock)
        when given; TaskError (SELECTION_FAILED, SERVER_UNAVAILABLE, ...)."""
        ...


@dataclass(frozen=True)
class PlaceChoice:
    """Ranked release poses for the held object, and the region they serve."""

    releases: FloatArray  # (K, 4, 4) base_from_tcp, best first
    reference: ObjectBox | None
    region: PlaceRegion


class PlaceSource(Protocol):
    def choose_place(
        self,
        instruction: str,
        held: HeldObject,
        canceled: Callable[[], bool],
        moving_xy_m: FloatArray | None = None,
        newer_than_s: float | None = None,
    ) -> PlaceChoice:
        """Ask the place service, on a scene captured after `newer_than_s` (robot clock) when
        given; TaskError (SELECTION_FAILED, SERVER_UNAVAILABLE, ...). `moving_xy_m`: where the
        object to be moved stands (a pick-and-place, before the pick)."""
        ...


class MotionPlanner(Protocol):
    config: PlannerConfig
    gripper: GripperGeometry

    def plan_pick(
        self,
        start_rad: FloatArray,
        grasps_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        velocity_scaling: float = 1.0,
        *,
        retreat: bool = True,
    ) -> TaskPlan: ...

    def plan_place(
        self,
        start_rad: FloatArray,
        releases_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        held_box: HeldBox | None,
        velocity_scaling: float = 1.0,
        *,
        home_rad: FloatArray | None = None,
        ignore_at_start_m: FloatArray | None = None,
    ) -> TaskPlan: ...
