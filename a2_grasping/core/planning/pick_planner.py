"""The embedded planner: pick and place plans from analytic IK, OMPL and TOPP-RA.

Pick, for each ranked grasp (best first) and each IK solution of its pre-grasp pose (nearest to
the start first): the approach and lift are straight lines in Cartesian space (IK at every step,
staying on one branch), the transit from the current joints is an OMPL RRTConnect query in
joint space, and the retreat returns to the start joints with the held object's box (from the
cloud, see held_object.py) moving with the gripper.

Place, for each ranked release pose: a transit holding the object to the pose above the release,
a straight descent holding it, a straight ascent with the gripper open, and a retreat to the
start (or a given home). Every state of every segment is collision-checked and kept inside the
joint limits and the safety box. The first candidate that plans completely wins (plans.py
`plan_first`, shared with the moveit_py backend); each segment is then time-parameterised with
TOPP-RA under the scaled velocity and acceleration limits.
"""

from __future__ import annotations

import itertools
from contextlib import nullcontext

import numpy as np
import toppra
import toppra.algorithm
import toppra.constraint
from numpy.typing import NDArray
from ompl import base as ob
from ompl import geometric as og
from ompl import util as ou

from a2_grasping.core.gripper import GripperGeometry, base_from_tool0
from a2_grasping.core.kinematics import (
    JOINT_LOWER_RAD,
    JOINT_UPPER_RAD,
    forward_kinematics,
    inverse_kinematics,
)
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.held_object import holding_the_object
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.planning.plans import (
    PlanFailure,
    PlanningError,
    Segment,
    TaskPlan,
    plan_first,
)

ou.setLogLevel(ou.LogLevel.LOG_WARN)
toppra.setup_logging("WARNING")
FloatArray = NDArray[np.float64]
# (lower, upper) corners of the held object's box in the TCP frame.
HeldBox = tuple[NDArray[np.float64], NDArray[np.float64]]


class EmbeddedPlanner:
    def __init__(self, config: PlannerConfig, gripper: GripperGeometry | None = None) -> None:
        self.config = config
        self.gripper = gripper or GripperGeometry()

    def plan_pick(
        self,
        start_rad: FloatArray,
        grasps_base_from_tcp: FloatArray,
        checker: CollisionChecker,
        velocity_scaling: float = 1.0,
        *,
        retreat: bool = True,
    ) -> TaskPlan:
        """Plan the best plannable grasp of the ranked (K, 4, 4) TCP poses: transit, approach,
        lift and (unless `retreat` is false, e.g. before a place) the retreat to the start.

        Raises PlanningError: START_IN_COLLISION, NO_REACHABLE_CANDIDATE (no grasp has a free
        straight-line approach and lift), PLANNING_FAILED (no transit found within the budget).
        """
        start = np.asarray(start_rad, dtype=np.float64)

        def plan_one(grasp: FloatArray) -> tuple[Segment, ...] | PlanFailure:
            paths = self._pick_paths(start, grasp, checker, retreat)
            if isinstance(paths, PlanFailure):
                return paths
            return self._timed(paths, velocity_scaling)

        return plan_first(
            start,
            list(grasps_base_from_tcp),
            plan_one,
            checker,
            config=self.config,
            what="grasp",
        )

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
    ) -> TaskPlan:
        """Plan the best plannable release of the ranked (K, 4, 4) TCP poses (the gripper opens
        at each): transit and descent holding `held_box`, ascent open, retreat to `home_rad`
        (default: the start). `ignore_at_start_m`: where the held object stood in the cloud (a
        pick just planned from the same cloud), ignored by the transit like the pick's retreat.

        Raises PlanningError as plan_pick.
        """
        start = np.asarray(start_rad, dtype=np.float64)
        home = start if home_rad is None else np.asarray(home_rad, dtype=np.float64)

        def plan_one(release: FloatArray) -> tuple[Segment, ...] | PlanFailure:
            paths = self._place_paths(
                start,
                home,
                release,
                checker,
                held_box=held_box,
                ignore_at_start_m=ignore_at_start_m,
            )
            if isinstance(paths, PlanFailure):
                return paths
            return self._timed(paths, velocity_scaling)

        return plan_first(
            start,
            list(releases_base_from_tcp),
            plan_one,
            checker,
            config=self.config,
            what="place pose",
        )

    def _timed(
        self, paths: list[tuple[str, FloatArray]], velocity_scaling: float
    ) -> tuple[Segment, ...]:
        return tuple(
            Segment(name, time_parameterise(path, self.config, velocity_scaling))
            for name, path in paths
        )

    # ---- segments ----

    def _pick_paths(
        self, start: FloatArray, grasp: FloatArray, checker: CollisionChecker, retreat: bool
    ) -> list[tuple[str, FloatArray]] | PlanFailure:
        straight = self._straight_segments(start, grasp, checker)
        if straight is None:
            return PlanFailure.NO_REACHABLE_CANDIDATE
        approach, lift = straight
        checker.ignore_near(None, 0.0)
        transit = self._transit(start, approach[0], checker)
        if transit is None:
            return PlanFailure.PLANNING_FAILED
        paths = [("transit", transit), ("approach", approach), ("lift", lift)]
        if retreat:
            back = self._retreat(lift[-1], start, grasp, checker)
            if back is None:
                return PlanFailure.PLANNING_FAILED
            paths.append(("retreat", back))
        return paths

    def _place_paths(
        self,
        start: FloatArray,
        home: FloatArray,
        release: FloatArray,
        checker: CollisionChecker,
        *,
        held_box: HeldBox | None,
        ignore_at_start_m: FloatArray | None,
    ) -> list[tuple[str, FloatArray]] | PlanFailure:
        cfg = self.config
        above = release.copy()
        above[2, 3] += cfg.place_approach_m
        support_m, support_radius_m = _support_under(release, held_box, self.gripper)
        holding = checker.holding(*held_box) if held_box is not None else nullcontext()
        with holding:
            checker.ignore_near(None, 0.0)
            solutions = inverse_kinematics(base_from_tool0(above, self.gripper))
            order = np.argsort(np.abs(solutions - start).sum(axis=1))
            descend = None
            for solution in solutions[order]:
                if not self._state_ok(solution, checker):
                    continue
                # The support under the object is what it is set down on, not an obstacle.
                checker.ignore_near(support_m, support_radius_m)
                descend = self._cartesian(solution, above, release, checker)
                checker.ignore_near(None, 0.0)
                if descend is not None:
                    break
            if descend is None:
                return PlanFailure.NO_REACHABLE_CANDIDATE
            transit = self._transit(start, descend[0], checker, ignore_object_at=ignore_at_start_m)
            if transit is None:
                return PlanFailure.PLANNING_FAILED
        checker.ignore_near(support_m, support_radius_m)  # the fingers leave as they came
        ascend = self._cartesian(descend[-1], release, above, checker)
        checker.ignore_near(None, 0.0)
        if ascend is None:
            return PlanFailure.NO_REACHABLE_CANDIDATE
        retreat = self._transit(ascend[-1], home, checker)
        if retreat is None:
            return PlanFailure.PLANNING_FAILED
        return [
            ("transit", transit),
            ("descend", descend),
            ("ascend", ascend),
            ("retreat", retreat),
        ]

    def _straight_segments(
        self, start: FloatArray, grasp: FloatArray, checker: CollisionChecker
    ) -> tuple[FloatArray, FloatArray] | None:
        """(approach, lift) joint paths for one grasp, or None when it cannot be executed."""
        cfg = self.config
        back_off = np.eye(4)
        back_off[2, 3] = -cfg.pregrasp_distance_m
        pregrasp = grasp @ back_off
        lifted = grasp.copy()
        lifted[2, 3] += cfg.lift_height_m
        solutions = inverse_kinematics(base_from_tool0(pregrasp, self.gripper))
        order = np.argsort(np.abs(solutions - start).sum(axis=1))
        for solution in solutions[order]:
            checker.ignore_near(None, 0.0)
            if not self._state_ok(solution, checker):
                continue
            checker.ignore_near(grasp[:3, 3], cfg.object_clearance_radius_m)
            approach = self._cartesian(solution, pregrasp, grasp, checker)
            if approach is None:
                continue
            lift = self._cartesian(approach[-1], grasp, lifted, checker)
            if lift is not None:
                return approach, lift
        return None

    def _cartesian(
        self,
        start: FloatArray,
        from_tcp: FloatArray,
        to_tcp: FloatArray,
        checker: CollisionChecker,
    ) -> FloatArray | None:
        """Joint path along the straight line between two TCP poses (same orientation)."""
        distance = float(np.linalg.norm(to_tcp[:3, 3] - from_tcp[:3, 3]))
        steps = max(2, int(np.ceil(distance / self.config.cartesian_step_m)) + 1)
        path = [start]
        for fraction in np.linspace(0.0, 1.0, steps)[1:]:
            pose = from_tcp.copy()
            pose[:3, 3] = from_tcp[:3, 3] + fraction * (to_tcp[:3, 3] - from_tcp[:3, 3])
            solutions = inverse_kinematics(base_from_tool0(pose, self.gripper))
            if not len(solutions):
                return None
            nearest = solutions[np.argmin(np.abs(solutions - path[-1]).sum(axis=1))]
            if np.max(np.abs(nearest - path[-1])) > self.config.max_joint_step_rad:
                return None  # the IK branch flipped: not a straight line for the arm
            if not self._state_ok(nearest, checker):
                return None
            path.append(nearest)
        return np.asarray(path)

    def _transit(
        self,
        start: FloatArray,
        goal: FloatArray,
        checker: CollisionChecker,
        ignore_object_at: FloatArray | None = None,
    ) -> FloatArray | None:
        """Collision-free joint path (RRTConnect, simplified), densified for timing."""
        checker.ignore_near(ignore_object_at, self.config.object_clearance_radius_m)
        if not self._state_ok(goal, checker):
            return None
        if self._motion_ok(start, goal, checker):
            return self._smooth_and_free(np.stack([start, goal]), checker)
        space = ob.RealVectorStateSpace(6)
        bounds = ob.RealVectorBounds(6)
        for joint in range(6):
            bounds.setLow(joint, float(JOINT_LOWER_RAD[joint]))
            bounds.setHigh(joint, float(JOINT_UPPER_RAD[joint]))
        space.setBounds(bounds)
        setup = og.SimpleSetup(space)
        setup.setStateValidityChecker(
            lambda state: self._state_ok(np.array([state[i] for i in range(6)]), checker)
        )
        information = setup.getSpaceInformation()
        extent = float(space.getMaximumExtent())
        information.setStateValidityCheckingResolution(
            self.config.collision_check_step_rad / extent
        )
        setup.setPlanner(og.RRTConnect(information))
        start_state, goal_state = space.allocState(), space.allocState()
        for joint in range(6):
            start_state[joint], goal_state[joint] = float(start[joint]), float(goal[joint])
        setup.setStartAndGoalStates(start_state, goal_state)
        if not setup.solve(self.config.planning_timeout_s) or not setup.haveExactSolutionPath():
            return None
        setup.simplifySolution(min(0.5, self.config.planning_timeout_s))
        solution = setup.getSolutionPath()
        waypoints = np.array(
            [[solution.getState(i)[j] for j in range(6)] for i in range(solution.getStateCount())]
        )
        return self._smooth_and_free(waypoints, checker)

    def _smooth_and_free(
        self, waypoints: FloatArray, checker: CollisionChecker
    ) -> FloatArray | None:
        """The waypoints densified so that the spline the timing runs along (path_spline) is
        collision-free too, not only the straight segments OMPL checked: at the corners of a path
        grazing an obstacle the spline can cut into it (CI caught one such transit in
        test_transit_goes_around_an_obstacle_between_start_and_goal).
        Coarse steps first (a smoother, faster motion), then steps of the check resolution."""
        step = self.config.collision_check_step_rad
        for factor in (5, 1):
            dense = _densify(waypoints, step * factor)
            if len(dense) < 2 or all(
                self._state_ok(q, checker) for q in sample_path_spline(dense, step)
            ):
                return dense
        return None

    def _retreat(
        self, lifted: FloatArray, start: FloatArray, grasp: FloatArray, checker: CollisionChecker
    ) -> FloatArray | None:
        """Back to the start with the held object moving with the gripper."""
        with holding_the_object(checker, grasp, self.gripper, self.config):
            return self._transit(lifted, start, checker, ignore_object_at=grasp[:3, 3])

    # ---- checks ----

    def _state_ok(self, joints: FloatArray, checker: CollisionChecker) -> bool:
        if np.any(joints < JOINT_LOWER_RAD) or np.any(joints > JOINT_UPPER_RAD):
            return False
        flange = forward_kinematics(joints)[:3, 3]
        box = self.config.safety_box_m
        if np.any(flange < box[0::2]) or np.any(flange > box[1::2]):
            return False
        return checker.is_free(joints)

    def _motion_ok(self, start: FloatArray, goal: FloatArray, checker: CollisionChecker) -> bool:
        return all(
            self._state_ok(state, checker)
            for state in _densify(np.stack([start, goal]), self.config.collision_check_step_rad)
        )


def _support_under(
    release: FloatArray, held_box: HeldBox | None, gripper: GripperGeometry
) -> tuple[FloatArray, float]:
    """(centre, radius) of the sphere of cloud points a release may come close to: the support
    surface under the object's underside (or under the fingertips without a held box), reaching
    as far sideways as the object's footprint. Place spots keep other objects further away."""
    if held_box is None:
        lower = np.array([-0.5 * gripper.finger_pad_width_m, -0.5 * gripper.max_width_m, 0.0])
        upper = np.array([0.5 * gripper.finger_pad_width_m, 0.5 * gripper.max_width_m, 0.0])
        upper[2] = gripper.fingertip_z_m
    else:
        lower, upper = held_box
    corners = np.array(
        [
            [x, y, z]
            for x in (lower[0], upper[0])
            for y in (lower[1], upper[1])
            for z in (lower[2], upper[2])
        ]
    )
    in_base = corners @ release[:3, :3].T + release[:3, 3]
    bottom = in_base[:, 2].min()
    centre = np.array([*in_base[:, :2].mean(axis=0), bottom])
    radius = float(np.max(np.linalg.norm(in_base[:, :2] - centre[:2], axis=1)))
    return centre, radius + 0.005


def _densify(waypoints: FloatArray, max_step_rad: float) -> FloatArray:
    """Linear interpolation so consecutive states differ by at most `max_step_rad` per joint:
    the time-parameterising spline then cannot bulge far from the checked straight segments."""
    dense = [waypoints[0]]
    for a, b in itertools.pairwise(waypoints):
        count = max(1, int(np.ceil(np.max(np.abs(b - a)) / max_step_rad)))
        dense.extend(a + (b - a) * (i / count) for i in range(1, count + 1))
    return np.asarray(dense)


def path_spline(path: FloatArray) -> toppra.SplineInterpolator:
    """The joint-space curve a timed path follows: a clamped cubic spline through the waypoints,
    parameterised by arc length."""
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    return toppra.SplineInterpolator(arc, path, bc_type="clamped")


# Joint states closer than this (every joint, rad) are one state: far below any encoder's
# resolution, and TOPP-RA cannot time a path shorter than about 1e-8 rad (measured: every
# straight path of 1.1e-9 to 3e-9 rad "not controllable", every one from 1e-8 rad timed). A
# candidate sent twice left a transit of 1.7e-9 rad that failed the pick.
SAME_STATE_RAD = 1e-7


def distinct_states(path: FloatArray) -> FloatArray:
    """The path without states within SAME_STATE_RAD of the one kept before them; it still
    ends exactly at the path's last state."""
    kept = [path[0]]
    for state in path[1:]:
        if np.max(np.abs(state - kept[-1])) > SAME_STATE_RAD:
            kept.append(state)
    last = path[-1]
    while len(kept) > 1 and np.max(np.abs(last - kept[-2])) <= SAME_STATE_RAD:
        kept.pop()
    if len(kept) > 1:
        kept[-1] = last
    return np.asarray(kept)


def sample_path_spline(path: FloatArray, max_step_rad: float) -> FloatArray:
    """States along path_spline at most `max_step_rad` of arc length apart."""
    path = distinct_states(path)
    if len(path) < 2:
        return path
    spline = path_spline(path)
    end = float(spline.path_interval[1])
    count = max(2, int(np.ceil(end / max_step_rad)) + 1)
    return np.asarray(spline(np.linspace(0.0, end, count)))


def time_parameterise(
    path: FloatArray, config: PlannerConfig, velocity_scaling: float, sample_period_s: float = 0.02
) -> TimedPath:
    """Fastest timing of `path` (starting and ending at rest) under scaled joint limits."""
    scaling = float(np.clip(velocity_scaling, 1e-3, 1.0))
    velocity = np.full(6, config.max_joint_velocity_rad_s * scaling)
    acceleration = np.full(6, config.max_joint_acceleration_rad_s2 * scaling)
    path = distinct_states(path)
    if len(path) < 2:
        still = np.repeat(path[:1], 2, axis=0)
        return TimedPath(np.array([0.0, sample_period_s]), still, np.zeros_like(still))
    # Parameterised by arc length itself, not arc / total: normalised, a path under ~3 mrad
    # (e.g. from where a failed grasp left the arm back to the same pre-grasp) has tiny path
    # derivatives and TOPP-RA finds it "not controllable" (measured: 0 of 10 straight paths of
    # 1e-7..1e-3 rad solved normalised, 10 of 10 at every length from 1e-7 to 1 rad by arc).
    spline = path_spline(path)
    constraints = [
        toppra.constraint.JointVelocityConstraint(np.c_[-velocity, velocity]),
        toppra.constraint.JointAccelerationConstraint(np.c_[-acceleration, acceleration]),
    ]
    algorithm = toppra.algorithm.TOPPRA(constraints, spline, parametrizer="ParametrizeConstAccel")
    trajectory = algorithm.compute_trajectory(0.0, 0.0)
    if trajectory is None:
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
        raise PlanningError(
            PlanFailure.PLANNING_FAILED,
            f"time parameterisation failed: a path of {len(path)} points, "
            f"{float(steps.sum()):.6f} rad long, shortest step {float(steps.min()):.2e} rad, "
            f"last step {float(steps[-1]):.2e} rad",
        )
    count = max(2, int(np.ceil(trajectory.duration / sample_period_s)) + 1)
    times = np.linspace(0.0, trajectory.duration, count)
    return TimedPath(times, np.asarray(trajectory(times)), np.asarray(trajectory(times, 1)))
