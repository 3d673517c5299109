"""End to end in the simulated cell: sim_node -> perception_node -> inference_node -> executor_node.

All four nodes run as their own processes with the shipped parameter files (the ones the launch
file and the demo use), on one private ROS domain shared by the tests of this module; each test
resets the cell with a seed. Ground truth (/sim/objects) is read only to score the outcome.
"""

from __future__ import annotations

import time

import numpy as np
import pinocchio as pin
import pytest

from a2_grasping.action import Pick
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.planning.collision import CollisionChecker, Obstacle
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.msg import GraspCandidate, SimObstacle
from a2_grasping.ros import conversions
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]


def _box_seed(session: SimSession) -> int:
    """The first seed whose single object is a box (the issue's "a box at a random pose")."""
    for seed in range(40):
        objects = session.reset(seed, "single")
        if objects[0].shape == "box":
            return seed
    raise AssertionError("no box among the first 40 seeds")


def test_a_box_is_picked_and_lifted(session):
    _box_seed(session)
    session.wait_for_fresh_scene()
    result, stages = session.pick(Pick.Goal(instruction="pick up the box"))
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert result.object_held
    assert 0.0 < result.gripper_width_m < 0.085
    assert stages[:3] == ["selecting", "planning", "moving_to_pregrasp"]
    assert stages[-1] == "retreating"
    (box,) = session.objects()
    assert box.height_gain_m >= 0.05


def test_dry_run_plans_and_moves_nothing(session):
    session.reset(3, "single")
    session.wait_for_fresh_scene()
    before = session.arm_positions()
    result, stages = session.pick(Pick.Goal(instruction="pick it", dry_run=True))
    assert result.error_code == Pick.Result.NONE, result.error_message
    assert stages == ["selecting", "planning"]
    assert result.executed_grasp.pose.header.frame_id == "base_link"
    time.sleep(0.5)
    np.testing.assert_allclose(session.arm_positions(), before, atol=1e-3)
    assert session.objects()[0].height_gain_m < 0.005


def test_an_unreachable_grasp_is_refused_without_moving(session):
    session.reset(5, "single")
    session.wait_for_fresh_scene()
    before = session.arm_positions()
    far = np.eye(4)
    far[:3, :3] = np.diag([1.0, -1.0, -1.0])
    far[:3, 3] = (1.5, 0.0, 0.05)  # 1.5 m away: beyond the UR5e's reach
    candidate = GraspCandidate(width_m=0.04)
    candidate.pose.header.frame_id = "base_link"
    candidate.pose.header.stamp = session.latest_scene().header.stamp  # a fresh candidate
    candidate.pose.pose = conversions.matrix_to_pose(far)
    result, _ = session.pick(Pick.Goal(use_candidate=True, candidate=candidate))
    assert result.error_code == Pick.Result.NO_REACHABLE_CANDIDATE, result.error_message
    np.testing.assert_allclose(session.arm_positions(), before, atol=1e-3)


def test_cancel_mid_motion_stops_the_arm(session):
    session.reset(7, "single")
    session.wait_for_fresh_scene()
    result, stages = session.pick(
        Pick.Goal(instruction="pick it"), cancel_at_stage="moving_to_pregrasp", cancel_after_s=0.4
    )
    assert result.error_code == Pick.Result.CANCELED, result.error_message
    assert stages[-1] == "moving_to_pregrasp"
    stopped = session.arm_positions()
    time.sleep(1.0)
    np.testing.assert_allclose(session.arm_positions(), stopped, atol=2e-3)  # still


# Seed 8 is one 60 mm yellow cube at (0.462, -0.197). The wall stands between it and the gripper's
# home position: 0.30 m tall, above the scene cloud's ceiling (0.22 m), so the planner knows its
# top only from the collision cloud of the depth images; 10 cm across both x and y (wider than the
# 85 mm stroke: never a grasp target). The cameras (+x side) never see its back face: the part
# behind the front face is known only as the occlusion shadow (occlusion_depth_m); without the
# shadow the planner takes it for free space (a 10 cm wall was clipped in 1 of 7 runs that way).
# It stands 8 cm from the arm at home, outside the robot self-filter (robot_filter_radius_m,
# 5 cm): points that close to the arm are taken for the arm. The held cube passes it on the
# retreat (knocked out of the hand in 3 of 8 runs before the held object was checked), and the
# retreat's wrist turns can swing the cube into the arm itself (CI lost it once; 7 of 21 runs
# passed it within 10 cm of the arm, one 1.3 cm inside the forearm's mesh, before self-collision
# was checked; >= 15 cm in 24 of 24 after). Nothing else tells the pipeline about the wall.
WALL = SimObstacle(name="wall", center_m=[0.42, -0.07, 0.15], size_m=[0.10, 0.10, 0.30])


def _clearance_m(checker: CollisionChecker, joints: np.ndarray) -> float:
    """Distance from the robot at `joints` to the checker's obstacles (negative: penetration)."""
    pin.computeDistances(
        checker.model, checker.data, checker.geometry, checker.geometry_data, joints
    )
    geometry = checker.geometry
    return min(
        result.min_distance
        for pair, result in zip(
            geometry.collisionPairs, checker.geometry_data.distanceResults, strict=True
        )
        if geometry.geometryObjects[pair.second].name.startswith("obstacle")
    )


def _wall_hits(checker: CollisionChecker, path: list[np.ndarray]) -> int:
    return sum(
        any("obstacle" in name for pair in checker.colliding_pairs(q) for name in pair)
        for q in path
    )


def test_a_plan_goes_around_an_obstacle_between_start_and_goal(session):
    session.reset(8, "single", [WALL])
    session.wait_for_fresh_scene()
    start = session.arm_positions()
    stage_starts: dict[str, int] = {}
    with session.recording_arm_path() as path:
        result, _ = session.pick(
            Pick.Goal(instruction="pick up the yellow cube"),
            on_stage=lambda stage: stage_starts.setdefault(stage, len(path)),
        )
    assert result.error_code == Pick.Result.NONE, result.error_message
    (cube,) = session.objects()
    assert cube.height_gain_m >= 0.05

    # Scored with the planner's robot model against the true wall (not the perceived cloud).
    wall = Obstacle(
        (WALL.center_m[0], WALL.center_m[1], WALL.center_m[2]),
        (WALL.size_m[0], WALL.size_m[1], WALL.size_m[2]),
    )
    checker = CollisionChecker(0.0, GripperGeometry(), obstacles=(wall,))
    assert _clearance_m(checker, start) > PlannerConfig().robot_filter_radius_m + 0.02
    pregrasp = path[stage_starts["opening"]]  # the arm at rest at the end of the transit
    direct = [start + t * (pregrasp - start) for t in np.linspace(0.0, 1.0, 60)]
    assert _wall_hits(checker, direct) > 0, "the wall must stand in the way of the direct motion"
    assert len(path) > 500  # the whole pick at 125 Hz
    assert _wall_hits(checker, path) == 0


def _fresh(candidate: GraspCandidate, session: SimSession) -> GraspCandidate:
    """The candidate stamped with the newest scene's stamp (a fresh goal)."""
    candidate.pose.header.stamp = session.latest_scene().header.stamp
    return candidate


def _copy(candidate: GraspCandidate) -> GraspCandidate:
    copied = GraspCandidate()
    copied.pose.header.frame_id = candidate.pose.header.frame_id
    copied.pose.pose = conversions.matrix_to_pose(conversions.pose_to_matrix(candidate.pose.pose))
    copied.width_m, copied.approach_depth_m = candidate.width_m, candidate.approach_depth_m
    copied.score, copied.quality = candidate.score, candidate.quality
    return copied


def test_malformed_candidate_fields_are_refused_before_any_motion(session):
    session.reset(3, "single")
    session.wait_for_fresh_scene()
    planned, _ = session.pick(Pick.Goal(instruction="pick it", dry_run=True))
    assert planned.error_code == Pick.Result.NONE, planned.error_message
    good = _copy(planned.executed_grasp)

    def field(name: str, value: float) -> GraspCandidate:
        candidate = _copy(good)
        setattr(candidate, name, value)
        return _fresh(candidate, session)

    def stamped(seconds: float) -> GraspCandidate:
        candidate = _copy(good)
        candidate.pose.header.stamp = conversions.seconds_to_time(seconds)
        return candidate

    # stamp 0 (1970-01-01, and the start of simulated time) must be older than the age limit
    max_age_s = session.node_parameters("executor_node", ["max_scene_age_s"])["max_scene_age_s"]
    while session.sim_time_s() < max_age_s + 2.0:
        time.sleep(0.5)
    now_s = conversions.time_to_seconds(session.latest_scene().header.stamp)

    cases = [
        (field("width_m", -0.02), Pick.Result.INVALID_GOAL, "width_m"),
        (field("width_m", float("nan")), Pick.Result.INVALID_GOAL, "width_m"),
        (field("width_m", 0.5), Pick.Result.INVALID_GOAL, "width_m"),
        (field("approach_depth_m", float("nan")), Pick.Result.INVALID_GOAL, "approach_depth_m"),
        (field("approach_depth_m", -0.01), Pick.Result.INVALID_GOAL, "approach_depth_m"),
        (stamped(0.0), Pick.Result.STALE_STATE, "stamp"),
        (stamped(now_s + 60.0), Pick.Result.STALE_STATE, "future"),
    ]
    start = session.arm_positions()
    with session.recording_arm_path() as path:
        for candidate, code, words in cases:
            result, stages = session.pick(Pick.Goal(use_candidate=True, candidate=candidate))
            assert result.error_code == code, (words, result.error_message)
            assert words in result.error_message and stages == []
            session.arm_positions()  # spins until the next joint state: one sample per goal
    assert len(path) >= len(cases)
    assert float(np.max(np.abs(np.asarray(path) - start))) < 1e-3, "a refused goal moved the arm"


def test_the_same_candidate_twice_is_planned_both_times(session):
    """A grasp over empty table closes on nothing and leaves the arm above it; the same
    candidate again starts where the arm already is (a transit of zero length)."""
    session.reset(3, "single")
    session.wait_for_fresh_scene()
    planned, _ = session.pick(Pick.Goal(instruction="pick it", dry_run=True))
    assert planned.error_code == Pick.Result.NONE, planned.error_message
    beside = _copy(planned.executed_grasp)
    pose = conversions.pose_to_matrix(beside.pose.pose)
    (obj,) = session.objects()
    pose[1, 3] += 0.15 if obj.pose.position.y < 0.0 else -0.15  # over empty table
    beside.pose.pose = conversions.matrix_to_pose(pose)
    for _ in range(2):
        session.wait_for_fresh_scene(settle_s=0.3)
        result, stages = session.pick(
            Pick.Goal(use_candidate=True, candidate=_fresh(_copy(beside), session))
        )
        assert result.error_code == Pick.Result.GRASP_FAILED, result.error_message
        assert "closing" in stages and result.grasp_attempts == 1


def test_executor_diagnostics_describe_the_robot_and_the_last_task(session):
    session.reset(3, "single")
    session.wait_for_fresh_scene()
    result, _ = session.pick(Pick.Goal(instruction="pick it", dry_run=True))
    assert result.error_code == Pick.Result.NONE, result.error_message
    robot = session.diagnostic_values("executor_node: robot")
    assert robot["controller_interface"] == "topic"
    assert robot["arm_connected"] == "True" and robot["gripper_connected"] == "True"
    assert float(robot["joint_state_age_s_max"]) < float(robot["max_joint_state_age_s"])
    assert robot["holding"] == "False" and float(robot["gripper_rad"]) < 0.05
    tasks = session.diagnostic_values("executor_node: tasks")
    assert tasks["state"] == "active" and tasks["running"] == "none"
    assert tasks["last_task"] == "pick" and tasks["last_result"] == "NONE"
