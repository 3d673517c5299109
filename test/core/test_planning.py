"""Pick planning: collision-free transit, straight approach and lift, limits and timing."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.core.gripper import GripperGeometry, base_from_tool0
from a2_grasping.core.kinematics import (
    JOINT_LOWER_RAD,
    JOINT_UPPER_RAD,
    forward_kinematics,
    inverse_kinematics,
)
from a2_grasping.core.planning.collision import CollisionChecker, Obstacle
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.pick_planner import (
    EmbeddedPlanner,
    _densify,
    distinct_states,
    time_parameterise,
)
from a2_grasping.core.planning.plans import PlanFailure, PlanningError
from a2_grasping.testing.synthetic_clouds import box_points

GRIPPER = GripperGeometry()
CONFIG = PlannerConfig()
HOME = np.array([0.0, -1.57, 1.57, -1.57, -1.57, 0.0])


def _top_down(x: float, y: float, z: float) -> np.ndarray:
    grasp = np.eye(4)
    grasp[:3, :3] = np.diag([1.0, -1.0, -1.0])  # approach (TCP z) straight down
    grasp[:3, 3] = (x, y, z)
    return grasp


def _box_cloud(x: float, y: float) -> np.ndarray:
    return box_points(np.random.default_rng(0), (0.05, 0.05, 0.06), (x, y), 3000)


def test_pick_plan_reaches_the_grasp_lifts_and_respects_limits():
    checker = CollisionChecker(0.0, GRIPPER, scene_points_m=_box_cloud(0.5, 0.0))
    grasp = _top_down(0.5, 0.0, 0.04)
    plan = EmbeddedPlanner(CONFIG).plan_pick(HOME, grasp[None], checker, velocity_scaling=0.5)
    assert plan.chosen_index == 0
    np.testing.assert_allclose(plan.segment("transit").positions_rad[0], HOME, atol=1e-6)
    # The approach ends at the grasp; the lift rises straight up by lift_height_m.
    reached = forward_kinematics(plan.segment("approach").positions_rad[-1])
    np.testing.assert_allclose(reached, base_from_tool0(grasp, GRIPPER), atol=1e-3)
    lifted = forward_kinematics(plan.segment("lift").positions_rad[-1])[:3, 3]
    np.testing.assert_allclose(lifted - reached[:3, 3], (0, 0, CONFIG.lift_height_m), atol=1e-3)
    approach_xy = [forward_kinematics(q)[:2, 3] for q in plan.segment("approach").positions_rad]
    np.testing.assert_allclose(
        approach_xy, np.repeat(reached[None, :2, 3], len(approach_xy), 0), atol=2e-3
    )
    np.testing.assert_allclose(plan.segment("retreat").positions_rad[-1], HOME, atol=1e-6)
    for name, segment in ((s.name, s.path) for s in plan.segments):
        assert np.all(np.diff(segment.times_s) > 0), name
        assert np.all(segment.positions_rad >= JOINT_LOWER_RAD - 1e-9), name
        assert np.all(segment.positions_rad <= JOINT_UPPER_RAD + 1e-9), name
        assert (
            np.max(np.abs(segment.velocities_rad_s)) <= 0.5 * CONFIG.max_joint_velocity_rad_s + 1e-3
        )
        np.testing.assert_allclose(segment.velocities_rad_s[[0, -1]], 0.0, atol=1e-6)
    checker.ignore_near(None, 0.0)
    assert all(checker.is_free(q) for q in plan.segment("transit").positions_rad)


def test_transit_goes_around_an_obstacle_between_start_and_goal():
    start = np.array([1.2, -1.57, 1.57, -1.57, -1.57, 0.0])
    grasp = _top_down(0.5, -0.2, 0.04)
    pregrasp = grasp.copy()
    pregrasp[2, 3] += CONFIG.pregrasp_distance_m
    goals = inverse_kinematics(base_from_tool0(pregrasp, GRIPPER))
    goal = goals[np.argmin(np.abs(goals - start).sum(axis=1))]
    straight = _densify(np.stack([start, goal]), 0.02)
    middle = forward_kinematics(straight[len(straight) // 2])[:3, 3]
    checker = CollisionChecker(0.0, GRIPPER, obstacles=(Obstacle(tuple(middle), (0.1, 0.1, 0.1)),))
    assert checker.is_free(start) and checker.is_free(goal)
    assert not all(checker.is_free(q) for q in straight)  # the direct motion would hit it

    plan = EmbeddedPlanner(CONFIG).plan_pick(start, grasp[None], checker)
    checker.ignore_near(None, 0.0)
    assert all(checker.is_free(q) for q in plan.segment("transit").positions_rad)


def test_the_robots_own_points_are_told_apart_from_obstacles_near_it():
    import coal
    import pinocchio as pin

    checker = CollisionChecker(0.0, GRIPPER)
    q = np.array([0.4, -1.2, 1.5, -1.9, -1.57, 0.3])
    pin.updateGeometryPlacements(
        checker.model, checker.data, checker.geometry, checker.geometry_data, q
    )
    robot = [
        (g.geometry, checker.geometry_data.oMg[i])
        for i, g in enumerate(checker.geometry.geometryObjects)
        if g.name not in ("table",)
    ]
    meshes = [
        np.asarray(shape.vertices()) @ where.rotation.T + where.translation
        for shape, where in robot
        if not isinstance(shape, coal.Box)
    ]
    surface = np.concatenate(meshes)  # mesh corners: up to 14 cm off the joint axes
    assert checker.robot_points_mask(surface, q, 0.02).all()

    def distance_to_robot(point: np.ndarray) -> float:
        probe = coal.Sphere(1e-6)
        at = coal.Transform3s(np.eye(3), point)
        return min(
            coal.distance(
                shape,
                coal.Transform3s(where.rotation, where.translation),
                probe,
                at,
                coal.DistanceRequest(),
                coal.DistanceResult(),
            )
            for shape, where in robot
        )

    grid = np.stack(np.meshgrid(*[np.linspace(-0.8, 0.8, 17)] * 2, [0.3, 0.6]), -1).reshape(-1, 3)
    distances = np.array([distance_to_robot(p) for p in grid])
    near, far = grid[distances < 0.04], grid[distances > 0.07]
    assert len(near) > 5 and len(far) > 500
    assert checker.robot_points_mask(near, q, 0.05).all()
    assert not checker.robot_points_mask(far, q, 0.05).any()


# The sim's home pose with wrist 1 turned to 0: wrist 2 then swings the gripper past the upper arm.
_WRIST_UP = np.array([0.0, -1.9, 2.0, 0.0, -1.0, 0.0])


def test_the_gripper_folded_into_the_upper_arm_is_a_collision():
    checker = CollisionChecker(0.0, GRIPPER)
    assert checker.is_free(_WRIST_UP)
    folded = _WRIST_UP.copy()
    folded[4] = -1.75
    assert not checker.is_free(folded)
    assert checker.colliding_pairs(folded) == [("upper_arm_link_0", "gripper_finger_pos_y_0")]


def test_a_transit_does_not_pass_the_gripper_through_the_arm():
    checker = CollisionChecker(0.0, GRIPPER)
    goal = _WRIST_UP.copy()
    goal[4] = -2.5
    straight = _densify(np.stack([_WRIST_UP, goal]), 0.02)
    assert checker.is_free(goal)
    assert not all(checker.is_free(q) for q in straight)  # wrist 2 alone sweeps through it

    transit = EmbeddedPlanner(CONFIG)._transit(_WRIST_UP, goal, checker)
    assert transit is not None
    assert all(checker.is_free(q) for q in transit)
    np.testing.assert_allclose(transit[[0, -1]], [_WRIST_UP, goal])


def test_padding_keeps_the_robot_off_obstacles_and_the_cloud_but_not_off_the_table():
    tcp = forward_kinematics(HOME) @ GRIPPER.tool0_from_tcp()  # pointing down
    x, y, tip_z = tcp[:3, 3] + tcp[:3, 2] * GRIPPER.fingertip_z_m
    wall_5mm_below = Obstacle((x, y, tip_z - 0.005 - 0.05), (0.1, 0.1, 0.1))
    assert CollisionChecker(0.0, GRIPPER, obstacles=(wall_5mm_below,), padding_m=0.004).is_free(
        HOME
    )
    padded = CollisionChecker(0.0, GRIPPER, obstacles=(wall_5mm_below,), padding_m=0.006)
    assert {"obstacle_0"} == {other for _, other in padded.colliding_pairs(HOME)}

    grid = np.linspace(-0.1, 0.1, 41)
    cloud = np.stack(np.meshgrid(grid + x, grid + y, [tip_z - 0.02]), -1).reshape(-1, 3)
    assert CollisionChecker(0.0, GRIPPER, scene_points_m=cloud).is_free(HOME)
    cloud_checker = CollisionChecker(0.0, GRIPPER, scene_points_m=cloud, padding_m=0.025)
    assert {"scene"} == {other for _, other in cloud_checker.colliding_pairs(HOME)}

    low = _top_down(0.5, 0.0, 0.02 + GRIPPER.fingertip_z_m)  # fingertips 2 cm above the table
    solutions = inverse_kinematics(base_from_tool0(low, GRIPPER))
    near_table = solutions[np.argmin(np.abs(solutions - HOME).sum(axis=1))]
    assert CollisionChecker(0.0, GRIPPER, padding_m=0.05).is_free(near_table)  # table: not padded


def test_unreachable_grasps_are_refused_as_such():
    checker = CollisionChecker(0.0, GRIPPER)
    with pytest.raises(PlanningError) as raised:
        EmbeddedPlanner(CONFIG).plan_pick(HOME, _top_down(1.5, 0.0, 0.04)[None], checker)
    assert raised.value.failure is PlanFailure.NO_REACHABLE_CANDIDATE


def test_a_start_state_in_collision_is_refused():
    checker = CollisionChecker(0.0, GRIPPER)
    into_table = np.array([0.0, -0.5, 2.3, -1.8, -1.57, 0.0])
    with pytest.raises(PlanningError, match="collides") as raised:
        EmbeddedPlanner(CONFIG).plan_pick(into_table, _top_down(0.5, 0.0, 0.04)[None], checker)
    assert raised.value.failure is PlanFailure.START_IN_COLLISION


def test_the_next_grasp_is_tried_when_the_best_cannot_be_executed():
    checker = CollisionChecker(0.0, GRIPPER, scene_points_m=_box_cloud(0.5, 0.0))
    grasps = np.stack([_top_down(1.5, 0.0, 0.04), _top_down(0.5, 0.0, 0.04)])
    assert EmbeddedPlanner(CONFIG).plan_pick(HOME, grasps, checker).chosen_index == 1


@pytest.mark.parametrize("length_rad", [1e-7, 1e-5, 1e-3, 0.1, 1.0, 2.5])
@pytest.mark.parametrize("scaling", [0.5, 1.0])
def test_straight_paths_of_any_length_are_timed_near_the_optimum(length_rad, scaling):
    """From a near-zero transit (the arm already at the pre-grasp) to a long one. On a straight
    line the joint with the largest offset D bounds the time from below: bang-bang under the
    acceleration limit a (2 sqrt(D/a)), or with a cruise at the velocity limit v (D/v + v/a).
    TOPP-RA on its grid lands 2-4 % above that bound; 10 % allows for its discretisation."""
    start = np.array([0.1, -1.2, 1.3, -1.6, -1.57, 0.2])
    offset = np.random.default_rng(1).normal(size=6)
    offset *= length_rad / np.max(np.abs(offset))
    timed = time_parameterise(np.array([start, start + offset]), CONFIG, scaling)
    v = CONFIG.max_joint_velocity_rad_s * scaling
    a = CONFIG.max_joint_acceleration_rad_s2 * scaling
    bound_s = 2 * np.sqrt(length_rad / a) if length_rad < v * v / a else length_rad / v + v / a
    assert 0.99 * bound_s <= timed.duration_s <= 1.1 * bound_s
    np.testing.assert_allclose(timed.positions_rad[[0, -1]], [start, start + offset], atol=1e-9)
    np.testing.assert_allclose(timed.velocities_rad_s[[0, -1]], 0.0, atol=1e-6)
    assert np.max(np.abs(timed.velocities_rad_s)) <= v * (1 + 1e-3)


@pytest.mark.parametrize("length_rad", [1.1e-9, 1.7e-9, 3e-9, 5e-8])
def test_a_path_shorter_than_a_joint_can_resolve_is_a_still_path(length_rad):
    """TOPP-RA cannot time a straight path of a few 1e-9 rad (it reports the path not
    controllable); a pick whose candidate was sent twice met one of 1.7e-9 rad and failed. Below
    SAME_STATE_RAD the arm is where it should be: the path stands still there."""
    start = np.array([0.1, -1.2, 1.3, -1.6, -1.57, 0.2])
    offset = np.random.default_rng(3).normal(size=6)
    offset *= length_rad / np.max(np.abs(offset))
    timed = time_parameterise(np.array([start, start + offset]), CONFIG, 1.0)
    np.testing.assert_array_equal(timed.positions_rad, [start, start])
    np.testing.assert_array_equal(timed.velocities_rad_s, 0.0)


def test_states_closer_than_a_joint_can_resolve_are_dropped_and_the_goal_is_kept():
    start = np.zeros(6)
    path = np.array(
        [start, start + 4e-8, start + 0.01, start + 0.01 + 3e-8, start + 0.02, start + 0.02 + 6e-8]
    )
    kept = distinct_states(path)
    np.testing.assert_array_equal(kept, [start, start + 0.01, start + 0.02 + 6e-8])


def test_a_pick_from_its_own_pre_grasp_is_planned():
    """After a grasp that closed on nothing the arm rests at the pre-grasp; the same candidate
    sent again needs a transit of (nearly) zero length."""
    checker = CollisionChecker(0.0, GRIPPER, scene_points_m=_box_cloud(0.5, 0.0))
    grasp = _top_down(0.5, 0.0, 0.04)
    planner = EmbeddedPlanner(CONFIG)
    pre_grasp = planner.plan_pick(HOME, grasp[None], checker).segment("transit").positions_rad[-1]
    resting = pre_grasp + np.random.default_rng(2).normal(scale=1e-5, size=6)  # settle noise
    again = planner.plan_pick(resting, grasp[None], checker)
    transit = again.segment("transit")
    np.testing.assert_allclose(transit.positions_rad[0], resting, atol=1e-9)
    assert transit.duration_s < 0.1
    assert again.segment("approach").duration_s > 0.1


def test_every_backend_plan_is_held_to_the_safety_box():
    """plan_first, the loop both planner backends share, refuses a candidate whose timed path
    takes the flange out of the box and falls back to the next one."""
    from a2_grasping.core.kinematics import forward_kinematics
    from a2_grasping.core.planning.paths import TimedPath
    from a2_grasping.core.planning.plans import Segment, flange_outside, plan_first

    home = np.array([0.0, -1.571, 1.571, -1.571, -1.571, 0.0])
    reach_out = home + np.array([0.0, 0.9, -0.9, 0.0, 0.0, 0.0])
    flange = {"home": forward_kinematics(home)[:3, 3], "out": forward_kinematics(reach_out)[:3, 3]}
    # a box that holds the home flange but not the reaching one (which is farther out in x)
    box = [-1.0, float(flange["home"][0]) + 0.05, -1.0, 1.0, -1.0, 1.5]
    assert flange["out"][0] > box[1] + 0.05

    def path(to: np.ndarray) -> TimedPath:
        positions = np.linspace(home, to, 20)
        return TimedPath(np.linspace(0.0, 1.0, 20), positions, np.zeros_like(positions))

    assert flange_outside(path(home), box) is None
    assert flange_outside(path(reach_out), box) == pytest.approx(
        flange["out"][0] - box[1], abs=1e-9
    )

    targets = {0: reach_out, 1: home}

    def plan_one(candidate):
        return (Segment("transit", path(targets[int(candidate[0, 0])])),)

    checker = CollisionChecker(0.0, GRIPPER)
    candidates = [np.full((4, 4), float(i)) for i in (0, 1)]
    config = PlannerConfig(safety_box_m=tuple(box), max_grasps_tried=5)
    chosen = plan_first(home, candidates, plan_one, checker, config=config, what="grasp")
    assert chosen.chosen_index == 1
    with pytest.raises(PlanningError, match="leave the safety box") as refused:
        plan_first(home, candidates[:1], plan_one, checker, config=config, what="grasp")
    assert refused.value.failure is PlanFailure.PLANNING_FAILED
