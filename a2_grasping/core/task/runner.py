"""Pick (and, from the same parts, place and pick-and-place) as sequences of named segments.

Pick: select -> plan -> transit -> open -> approach -> close -> verify the hold -> lift -> read
the hold once the fingers rest -> verify the target (a scene newer than the lift must show the
named object's place empty; otherwise the object is set back down: WRONG_OBJECT) -> retreat.
Nothing moves on a stale robot state or scene; each segment starts only where the robot is;
every wait is bounded; a cancel stops the arm. The ROS layer implements the ports and maps
TaskError codes to the action results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.kinematics import forward_kinematics
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.planning.plans import PlanFailure, PlanningError, TaskPlan
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.task.codes import TaskError, TaskErrorCode
from a2_grasping.core.task.hold import GripperReading
from a2_grasping.core.task.placing import HeldRecord, check_placement
from a2_grasping.core.task.ports import (
    Arm,
    Choice,
    ChoiceSource,
    FloatArray,
    Gripper,
    MotionPlanner,
    ObjectBox,
    Observation,
    PlaceChoice,
    PlaceSource,
    RobotState,
    RobotStateSource,
    Scenes,
)
from a2_grasping.core.task.target_check import check_target_left
from a2_grasping.core.task.world import collision_world

_PLAN_CODES = {
    PlanFailure.NO_REACHABLE_CANDIDATE: TaskErrorCode.NO_REACHABLE_CANDIDATE,
    PlanFailure.PLANNING_FAILED: TaskErrorCode.PLANNING_FAILED,
    PlanFailure.START_IN_COLLISION: TaskErrorCode.PLANNING_FAILED,
}
Feedback = Callable[[str, float], None]
_Selection = TypeVar("_Selection", Choice, PlaceChoice)


@dataclass(frozen=True)
class PickRequest:
    """A validated pick goal: an instruction to select for, or an explicit choice."""

    instruction: str
    choice: Choice | None
    dry_run: bool
    velocity_scaling: float


@dataclass(frozen=True)
class PlaceGoal:
    """A validated place goal; `held` overrides what the executor remembers from its pick."""

    instruction: str
    held: HeldRecord | None
    dry_run: bool
    velocity_scaling: float


@dataclass
class TaskReport:
    """What a task did, filled as it runs (so a failure still reports how far it got)."""

    chosen_index: int = -1
    grasp_attempts: int = 0  # grasps tried (a pick retries after GRASP_FAILED)
    release_index: int = -1
    reference: ObjectBox | None = None
    released: bool = False
    placement_verified: bool = False
    placed_at_m: FloatArray | None = None
    object_held: bool = False
    gripper_width_m: float = 0.0
    target: ObjectBox | None = None
    target_verified: bool = False
    plan: TaskPlan | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass
class _RetryState:
    """What a pick's next attempt must know about the ones before it."""

    failed_at_m: list[FloatArray] = field(default_factory=list)  # TCP positions
    newer_than_s: float | None = None  # select on a scene captured after this (robot clock)
    executed_m: FloatArray | None = None  # this attempt's grasp, once the arm moves for it


@dataclass(frozen=True)
class TaskPorts:
    """Everything a task talks to; built once by the executor node."""

    planner: MotionPlanner
    arm: Arm
    gripper: Gripper
    robot: RobotStateSource
    scenes: Scenes
    grasps: ChoiceSource
    places: PlaceSource
    publish_plan: Callable[[TaskPlan], None]
    log: Callable[[str], None]


class TaskRunner:
    def __init__(
        self, config: ExecutorConfig, ports: TaskPorts, segmentation: SegmentationConfig
    ) -> None:
        """`segmentation`: how place verification cuts objects out of a scene, the settings
        selection uses (config/cell.yaml), so both see the same objects."""
        self.config = config
        self.ports = ports
        self.reading = GripperReading(
            config.gripper_open_rad,
            config.gripper_closed_rad,
            config.hold_margin_rad,
            ports.planner.gripper.max_width_m,
        )
        # What the gripper holds since the last successful pick (None: nothing known).
        self.held: HeldRecord | None = None
        self.segmentation = segmentation

    # ---- pick ----

    def pick(
        self,
        request: PickRequest,
        report: TaskReport,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """Run a pick; TaskError, CanceledError or ExecutionError end it early.

        An instruction gets up to `max_grasp_attempts` grasps: after GRASP_FAILED the arm returns
        to where the pick started (out of the cameras' view of the table), and the next grasp is
        selected on a scene captured after that, away from the grasps that failed.
        """
        attempts = 1 if request.choice is not None else self.config.max_grasp_attempts
        retry = _RetryState()
        for attempt in range(1, attempts + 1):
            report.grasp_attempts = attempt
            try:
                self._pick_once(request, report, feedback, canceled, retry)
                return
            except TaskError as error:
                if error.code is not TaskErrorCode.GRASP_FAILED or retry.executed_m is None:
                    raise
                if attempt == attempts:
                    if attempts == 1:
                        raise
                    raise TaskError(
                        error.code, f"{error.message} (grasp {attempt} of {attempts})"
                    ) from None
                retry.failed_at_m.append(retry.executed_m)
                self.ports.log(
                    f"grasp attempt {attempt} of {attempts} failed ({error}); returning to the "
                    "start to select again"
                )
                feedback("returning", 0.2)
                assert report.plan is not None  # the grasp was executed from it
                self._back_to_start(report.plan, canceled)
                retry.newer_than_s = self.ports.scenes.now_s()

    def _pick_once(
        self,
        request: PickRequest,
        report: TaskReport,
        feedback: Feedback,
        canceled: Callable[[], bool],
        retry: _RetryState,
    ) -> None:
        retry.executed_m = None
        state = self.fresh_state(wait=True)
        choice = request.choice
        if choice is None:
            feedback("selecting", 0.05)
            newer_than_s = retry.newer_than_s
            if newer_than_s is not None and self.ports.scenes.fresh(newer_than_s) is None:
                raise TaskError(
                    TaskErrorCode.STALE_STATE,
                    f"no scene after the failed grasp within {self.config.input_wait_s} s: "
                    "nothing to select the next grasp from",
                )
            choice = self._selected(
                lambda newer_s: self.ports.grasps.choose(request.instruction, canceled, newer_s),
                newer_than_s,
            )
            choice = self._away_from(choice, retry.failed_at_m)
        report.target = choice.target
        observation = self.fresh_observation()
        feedback("planning", 0.15)
        planner = self.ports.planner
        checker = collision_world(observation, planner.config, planner.gripper, state.arm_rad)
        plan = self._planned(
            lambda: planner.plan_pick(
                state.arm_rad, choice.poses, checker, velocity_scaling=request.velocity_scaling
            )
        )
        report.plan, report.chosen_index = plan, plan.chosen_index
        self.ports.publish_plan(plan)
        if request.dry_run:
            self.ports.log(f"dry run: planned grasp {plan.chosen_index}, moved nothing")
            return
        retry.executed_m = choice.poses[plan.chosen_index][:3, 3].copy()
        self.run_pick_segments(
            plan, choice.target, observation, report, feedback=feedback, canceled=canceled
        )
        if choice.target is not None:
            self.held = HeldRecord(choice.target, choice.poses[plan.chosen_index])

    def _selected(
        self, select: Callable[[float | None], _Selection], newer_than_s: float | None = None
    ) -> _Selection:
        """`select(newer_than_s)`, asked again while the server answers STALE_SCENE.

        That answer means only that the server's newest scene was older than it accepts when the
        request came (a dropped frame, a camera that paused, perception or the server itself
        slower than its rate on a loaded computer), not that the instruction is wrong: the
        selection is asked again on a scene captured after the refusal, for as long as such
        scenes keep coming within input_wait_s of the first answer. Then the refusal stands;
        nothing has moved either way.
        """
        deadline = time.monotonic() + self.config.input_wait_s
        while True:
            try:
                return select(newer_than_s)
            except TaskError as error:
                if error.select_error_code != SelectErrorCode.STALE_SCENE:
                    raise
                refused_at_s = self.ports.scenes.now_s()
                if (
                    time.monotonic() >= deadline
                    or self.ports.scenes.fresh(newer_than_s=refused_at_s) is None
                ):
                    raise
                self.ports.log(f"{error.message}; selecting again on a scene captured after it")
                newer_than_s = refused_at_s

    def _away_from(self, choice: Choice, failed_at_m: list[FloatArray]) -> Choice:
        """The candidates farther than retry_exclusion_radius_m from every failed grasp."""
        if not failed_at_m:
            return choice
        failed = np.asarray(failed_at_m)
        distance = np.linalg.norm(choice.poses[:, None, :3, 3] - failed[None], axis=2)
        keep = np.all(distance > self.config.retry_exclusion_radius_m, axis=1)
        if not np.any(keep):
            raise TaskError(
                TaskErrorCode.GRASP_FAILED,
                f"every candidate of the new selection lies within "
                f"{self.config.retry_exclusion_radius_m} m of a grasp that already failed",
            )
        return Choice(choice.poses[keep], choice.target)

    def _back_to_start(self, plan: TaskPlan, canceled: Callable[[], bool]) -> None:
        """After a failed grasp the arm rests above it (or, when the object was lost during the
        retreat, already at the start): run the plan's retreat when it has not run."""
        retreat = plan.segment("retreat")
        state = self.fresh_state()
        offset = float(np.max(np.abs(state.arm_rad - retreat.positions_rad[-1])))
        if offset > self.config.start_tolerance_rad:
            self.run_segment(retreat, canceled)

    # ---- place ----

    def place(
        self,
        goal: PlaceGoal,
        report: TaskReport,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """Put down what the gripper holds, where the instruction says, and verify it."""
        state = self.fresh_state(wait=True)
        if not self.reading.holding(state.gripper_rad):
            self.held = None
            raise TaskError(
                TaskErrorCode.NOT_HOLDING,
                f"the gripper holds nothing (knuckle {state.gripper_rad:.3f} rad); nothing moved",
            )
        held = goal.held or self.held
        if held is None:
            raise TaskError(
                TaskErrorCode.INVALID_GOAL,
                "what the gripper holds is unknown (no pick by this executor since start-up): "
                "give held_object and grasp_pose from the Pick result",
            )
        feedback("selecting_place", 0.05)
        place = self._selected(
            lambda newer_s: self.ports.places.choose_place(
                goal.instruction, held.held_object(), canceled, newer_than_s=newer_s
            )
        )
        report.reference = place.reference
        observation = self.fresh_observation()
        feedback("planning", 0.15)
        planner = self.ports.planner
        checker = self._world_holding(
            observation, state.arm_rad, base_from_tcp_at(state.arm_rad, planner), held
        )
        plan = self._planned(
            lambda: planner.plan_place(
                state.arm_rad,
                place.releases,
                checker,
                held.box_in_tcp(),
                velocity_scaling=goal.velocity_scaling,
            )
        )
        report.plan, report.release_index = plan, plan.chosen_index
        self.ports.publish_plan(plan)
        if goal.dry_run:
            self.ports.log(f"dry run: planned release {plan.chosen_index}, moved nothing")
            return
        self.run_place_segments(
            plan, place, held, observation, report, feedback=feedback, canceled=canceled
        )

    def pick_and_place(
        self,
        pick: PickRequest,
        place_instruction: str,
        report: TaskReport,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """Pick the named object and place it; both halves planned before anything moves."""
        state = self.fresh_state(wait=True)
        feedback("selecting", 0.03)
        choice = pick.choice or self._selected(
            lambda newer_s: self.ports.grasps.choose(pick.instruction, canceled, newer_s)
        )
        report.target = choice.target
        if choice.target is None:
            raise TaskError(
                TaskErrorCode.SELECTION_FAILED,
                "the grasp selection named no object, so its size is unknown for the place",
            )
        observation = self.fresh_observation()
        feedback("planning", 0.08)
        planner = self.ports.planner
        checker = collision_world(observation, planner.config, planner.gripper, state.arm_rad)
        pick_plan = self._planned(
            lambda: planner.plan_pick(
                state.arm_rad,
                choice.poses,
                checker,
                velocity_scaling=pick.velocity_scaling,
                retreat=False,
            )
        )
        report.chosen_index = pick_plan.chosen_index
        grasp = choice.poses[pick_plan.chosen_index]
        held = HeldRecord(choice.target, grasp)
        feedback("selecting_place", 0.1)
        place = self._place_for_pick(place_instruction, choice.target, held, canceled)
        report.reference = place.reference
        lifted = pick_plan.segment("lift").positions_rad[-1]
        # The place half plans without the object's own points: it will be in the hand, and
        # the spot it leaves may be where it goes.
        place_checker = self._world_holding(observation, state.arm_rad, grasp, held)
        place_plan = self._planned(
            lambda: planner.plan_place(
                lifted,
                place.releases,
                place_checker,
                held.box_in_tcp(),
                velocity_scaling=pick.velocity_scaling,
                home_rad=state.arm_rad,
                ignore_at_start_m=grasp[:3, 3],
            )
        )
        report.release_index = place_plan.chosen_index
        plan = pick_plan.then(place_plan)
        report.plan = plan
        self.ports.publish_plan(plan)
        if pick.dry_run:
            self.ports.log(
                f"dry run: planned grasp {pick_plan.chosen_index} and release "
                f"{place_plan.chosen_index}, moved nothing"
            )
            return
        self.run_pick_segments(
            pick_plan, choice.target, observation, report, feedback=feedback, canceled=canceled
        )
        self.held = held
        self.run_place_segments(
            place_plan, place, held, observation, report, feedback=feedback, canceled=canceled
        )

    def _place_for_pick(
        self,
        place_instruction: str,
        target: ObjectBox,
        held: HeldRecord,
        canceled: Callable[[], bool],
    ) -> PlaceChoice:
        """The place for an object not yet picked (its spot is still occupied: the selection is
        told where it stands); refused before motion when the place is relative to the object
        itself."""
        moving_xy_m = target.base_from_box[:2, 3]
        place = self._selected(
            lambda newer_s: self.ports.places.choose_place(
                place_instruction, held.held_object(), canceled, moving_xy_m, newer_s
            )
        )
        if place.reference is not None and target.footprint_contains(
            place.reference.base_from_box[:2, 3]
        ):
            raise TaskError(
                TaskErrorCode.INVALID_GOAL,
                f"'{place_instruction}' is relative to {place.reference.description}, the object "
                "being moved: name another object to place it by",
            )
        return place

    def _world_holding(
        self,
        observation: Observation,
        arm_rad: FloatArray,
        base_from_tcp: FloatArray,
        held: HeldRecord,
    ) -> CollisionChecker:
        """The collision world without the held object's points, the object in the hand at
        `base_from_tcp` (the planner carries it with the gripper)."""
        planner = self.ports.planner
        return collision_world(
            observation,
            planner.config,
            planner.gripper,
            arm_rad,
            held_at=(base_from_tcp, held.box_in_tcp()),
        )

    def run_place_segments(
        self,
        plan: TaskPlan,
        place: PlaceChoice,
        held: HeldRecord,
        before: Observation,
        report: TaskReport,
        *,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """transit, descend, open, ascend, retreat; then a fresh scene must show the object in
        the region where nothing rested in `before` (PLACE_FAILED otherwise)."""
        feedback("moving_to_place", 0.55)
        self.run_segment(plan.segment("transit"), canceled)
        feedback("descending", 0.7)
        self.run_segment(plan.segment("descend"), canceled)
        feedback("releasing", 0.75)
        self.move_gripper(self.config.gripper_open_rad)
        report.released, report.object_held, self.held = True, False, None
        feedback("ascending", 0.8)
        self.run_segment(plan.segment("ascend"), canceled)
        feedback("retreating", 0.85)
        self.run_segment(plan.segment("retreat"), canceled)
        feedback("verifying_place", 0.95)
        after = self.ports.scenes.fresh(newer_than_s=self.ports.scenes.now_s())
        if after is None:
            raise TaskError(
                TaskErrorCode.STALE_STATE,
                f"no scene after the release within {self.config.input_wait_s} s: where the "
                "object rests could not be verified",
            )
        check = check_placement(
            after,
            place.region,
            held,
            self.ports.planner.config.table_height_m,
            self.segmentation,
            before=before,
            table_margin_m=self.config.table_margin_m,
        )
        if not check.in_region or check.placed is None:
            raise TaskError(TaskErrorCode.PLACE_FAILED, f"released, but {check.message}")
        report.placement_verified = True
        report.placed_at_m = check.placed.centroid_m.copy()
        self.ports.log(f"place verified: {check.message}")

    def run_pick_segments(
        self,
        plan: TaskPlan,
        target: ObjectBox | None,
        before: Observation,
        report: TaskReport,
        *,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """transit, open, approach, close, verify, lift, verify target, and the retreat when the
        plan has one."""
        cfg = self.config
        feedback("moving_to_pregrasp", 0.25)
        self.run_segment(plan.segment("transit"), canceled)
        feedback("opening", 0.45)
        self.move_gripper(cfg.gripper_open_rad)
        feedback("approaching", 0.5)
        self.run_segment(plan.segment("approach"), canceled)
        feedback("closing", 0.6)
        closed_at = self.move_gripper(cfg.gripper_closed_rad)
        feedback("verifying", 0.65)
        report.gripper_width_m = self.reading.width_m(closed_at)
        if not self.reading.holding(closed_at):
            self.move_gripper(cfg.gripper_open_rad)
            self.run_segment(plan.segment("lift"), canceled)  # back up, empty-handed
            raise TaskError(
                TaskErrorCode.GRASP_FAILED,
                f"the gripper closed on nothing (knuckle {closed_at:.3f} rad)",
            )
        feedback("lifting", 0.75)
        self.run_segment(plan.segment("lift"), canceled)
        after_lift_rad = self.settled_gripper_rad()
        report.object_held = self.reading.holding(after_lift_rad)
        report.gripper_width_m = self.reading.width_m(after_lift_rad)
        if not report.object_held:
            raise TaskError(TaskErrorCode.GRASP_FAILED, "the object slipped out during the lift")
        if target is not None:
            feedback("verifying_target", 0.85)
            self.verify_target(target, before, plan.segment("lift"), feedback, canceled)
            report.target_verified = True
        if "retreat" in plan.names:
            feedback("retreating", 0.9)
            self.run_segment(plan.segment("retreat"), canceled)
            report.object_held = self.reading.holding(self.settled_gripper_rad())
            if not report.object_held:
                raise TaskError(
                    TaskErrorCode.GRASP_FAILED, "the object was lost during the retreat"
                )

    def verify_target(
        self,
        target: ObjectBox,
        before: Observation,
        lift: TimedPath,
        feedback: Feedback,
        canceled: Callable[[], bool],
    ) -> None:
        """Refuse to carry anything but the target: a fresh scene must show its place empty.

        A wrong object, or no fresh scene to judge by, is set back down where it was lifted from.
        """
        lifted_at_s = self.ports.scenes.now_s()
        after = self.ports.scenes.fresh(newer_than_s=lifted_at_s)
        if after is None:
            feedback("setting_down", 0.9)
            self.set_down(lift, canceled)
            raise TaskError(
                TaskErrorCode.STALE_STATE,
                f"no scene newer than the lift arrived within {self.config.input_wait_s} s: the "
                "held object could not be verified, so it was set back down",
            )
        check = check_target_left(
            target.base_from_box,
            target.extents_m,
            before.points_xyz,
            after.points_xyz,
            self.ports.planner.config.lift_height_m,
        )
        if not check.target_left:
            feedback("setting_down", 0.9)
            self.set_down(lift, canceled)
            what = (
                "the target was not visible before the grasp"
                if not check.observable
                else f"the target is still on the table ({check.summary()})"
            )
            raise TaskError(
                TaskErrorCode.WRONG_OBJECT,
                f"{what}: the lifted object was set back down where it came from",
            )
        self.ports.log(f"target verified: {check.summary()}")

    def set_down(self, lift: TimedPath, canceled: Callable[[], bool]) -> None:
        """Back down the lift, open, and up again empty-handed."""
        self.run_segment(lift.reversed(), canceled)
        self.move_gripper(self.config.gripper_open_rad)
        self.run_segment(lift, canceled)

    # ---- shared steps ----

    def fresh_state(self, wait: bool = False) -> RobotState:
        cfg = self.config
        deadline = time.monotonic() + (cfg.input_wait_s if wait else 0.0)
        while (state := self.ports.robot.latest(cfg.max_joint_state_age_s)) is None:
            if time.monotonic() >= deadline:
                missing = self.ports.robot.missing_joints(cfg.max_joint_state_age_s)
                raise TaskError(
                    TaskErrorCode.STALE_STATE,
                    f"no joint state younger than {cfg.max_joint_state_age_s} s on "
                    f"{cfg.joint_states_topic} for {', '.join(missing) or 'every joint'}",
                )
            time.sleep(0.02)
        return state

    def fresh_observation(self) -> Observation:
        observation = self.ports.scenes.fresh()
        if observation is None:
            raise TaskError(
                TaskErrorCode.STALE_STATE,
                f"no scene younger than {self.config.max_scene_age_s} s on "
                f"{self.config.scene_topic}: the collision environment is unknown, nothing is "
                "moved",
            )
        return observation

    def run_segment(self, path: TimedPath, canceled: Callable[[], bool]) -> None:
        state = self.fresh_state()
        offset = float(np.max(np.abs(state.arm_rad - path.positions_rad[0])))
        if offset > self.config.start_tolerance_rad:
            raise TaskError(
                TaskErrorCode.STALE_STATE,
                f"the robot is {offset:.3f} rad away from the plan's start "
                f"(tolerance {self.config.start_tolerance_rad}); refusing to execute",
            )
        self.ports.arm.execute(
            path,
            self.config.goal_tolerance_rad,
            path.duration_s + self.config.execution_margin_s,
            canceled,
        )

    def move_gripper(self, position_rad: float) -> float:
        cfg = self.config
        return self.ports.gripper.move(
            position_rad, cfg.gripper_timeout_s, cfg.max_joint_state_age_s
        )

    def settled_gripper_rad(self) -> float:
        """Where the fingers rest after a motion: a dropped object shows only once they stop."""
        cfg = self.config
        return self.ports.robot.settled_gripper_rad(
            cfg.gripper_timeout_s, cfg.max_joint_state_age_s
        )

    @staticmethod
    def _planned(plan: Callable[[], TaskPlan]) -> TaskPlan:
        try:
            return plan()
        except PlanningError as error:
            raise TaskError(_PLAN_CODES[error.failure], error.message) from None


def base_from_tcp_at(arm_rad: FloatArray, planner: MotionPlanner) -> FloatArray:
    """Where the TCP is at these joints (UR5e forward kinematics and the gripper's TCP offset)."""
    pose: FloatArray = forward_kinematics(arm_rad) @ planner.gripper.tool0_from_tcp()
    return pose
