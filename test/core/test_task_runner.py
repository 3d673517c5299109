"""The core task runner over its ports, without ROS: sequences, refusals, and what moves.

The ports are in-memory stand-ins (a recording arm, a scripted gripper, a fixed scene source);
the planner and collision world are the real ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.planning.pick_planner import EmbeddedPlanner
from a2_grasping.core.planning.plans import TaskPlan
from a2_grasping.core.scene import CameraView
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.task.codes import TaskError, TaskErrorCode
from a2_grasping.core.task.goals import check_candidate
from a2_grasping.core.task.ports import Choice, ObjectBox, Observation, RobotState
from a2_grasping.core.task.runner import PickRequest, PlaceGoal, TaskPorts, TaskReport, TaskRunner

HOME = np.array([0.0, -1.571, 1.571, -1.571, -1.571, 0.0])
CONFIG = ExecutorConfig(input_wait_s=0.2)


class RecordingArm:
    """Jumps to each segment's end; remembers what it ran."""

    def __init__(self, robot: FakeRobot) -> None:
        self.robot = robot
        self.segments: list[TimedPath] = []

    def execute(self, path, goal_tolerance_rad, timeout_s, canceled):
        self.segments.append(path)
        self.robot.arm_rad = path.positions_rad[-1].copy()

    def stop(self, timeout_s):
        return True


class FakeRobot:
    def __init__(self, gripper_rad: float = 0.0) -> None:
        self.arm_rad = HOME.copy()
        self.gripper_rad = gripper_rad

    def latest(self, max_age_s):
        return RobotState(self.arm_rad.copy(), np.zeros(6), self.gripper_rad, 0.0, 0.0)

    def missing_joints(self, max_age_s):
        return []

    def settled_gripper_rad(self, timeout_s, max_age_s):
        return self.gripper_rad


class ScriptedGripper:
    """Closing stops at `closes_at` (an object of that width, or nothing: fully closed)."""

    def __init__(self, robot: FakeRobot, closes_at: float) -> None:
        self.robot = robot
        self.closes_at = closes_at
        self.commands: list[float] = []

    def move(self, position_rad, timeout_s, max_state_age_s):
        self.commands.append(position_rad)
        self.robot.gripper_rad = min(position_rad, self.closes_at)
        return self.robot.gripper_rad


class FixedScenes:
    def __init__(self, observation: Observation | None) -> None:
        self.observation = observation

    def fresh(self, newer_than_s=None):
        return self.observation

    def now_s(self):
        return 1.0


class NoService:
    def choose(self, instruction, canceled):
        raise AssertionError("the explicit choice must be used")

    def choose_place(self, instruction, held, canceled, moving_xy_m=None, newer_than_s=None):
        raise AssertionError("no place expected")


def _empty_view() -> CameraView:
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (0.5, 0.0, 1.0)
    return CameraView(
        np.zeros((8, 8, 3), np.uint8),
        np.zeros((8, 8), np.float32),
        np.array([[8.0, 0, 4], [0, 8.0, 4], [0, 0, 1]]),
        pose,
    )


def _runner(closes_at: float, observation: Observation | None = None, gripper_rad=0.0):
    robot = FakeRobot(gripper_rad)
    arm = RecordingArm(robot)
    gripper = ScriptedGripper(robot, closes_at)
    if observation is None:
        observation = Observation(
            (_empty_view(),),
            np.zeros((0, 3), np.float32),
            np.zeros((0, 3), np.uint8),
            1.0,
            "base_link",
        )
    plans: list[TaskPlan] = []
    ports = TaskPorts(
        planner=EmbeddedPlanner(PlannerConfig(), GripperGeometry()),
        arm=arm,
        gripper=gripper,
        robot=robot,
        scenes=FixedScenes(observation),
        grasps=NoService(),
        places=NoService(),
        publish_plan=plans.append,
        log=lambda _text: None,
    )
    return TaskRunner(CONFIG, ports, SegmentationConfig()), arm, gripper, plans


def _top_down(x: float, y: float, z: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (x, y, z)
    return pose


def _pick(runner, **request):
    report, stages = TaskReport(), []
    fields = {"instruction": "", "choice": Choice(_top_down(0.5, 0.0, 0.03)[None], None)}
    fields.update({"dry_run": False, "velocity_scaling": 0.5, **request})
    runner.pick(PickRequest(**fields), report, lambda s, _p: stages.append(s), lambda: False)
    return report, stages


def test_a_pick_runs_its_named_segments_in_order_with_the_gripper_between():
    runner, arm, gripper, plans = _runner(closes_at=0.4)
    report, stages = _pick(runner)
    assert plans[0].names == ("transit", "approach", "lift", "retreat")
    assert len(arm.segments) == 4
    assert gripper.commands == [CONFIG.gripper_open_rad, CONFIG.gripper_closed_rad]
    assert stages == [
        "planning", "moving_to_pregrasp", "opening", "approaching", "closing", "verifying",
        "lifting", "retreating",
    ]  # fmt: skip
    assert report.object_held and 0.0 < report.gripper_width_m < 0.085
    np.testing.assert_allclose(arm.segments[-1].positions_rad[-1], HOME, atol=1e-6)


def test_closing_on_nothing_backs_up_open_and_fails():
    runner, arm, gripper, _ = _runner(closes_at=1.0)  # the fingers close fully
    with pytest.raises(TaskError) as raised:
        _pick(runner)
    assert raised.value.code is TaskErrorCode.GRASP_FAILED
    assert gripper.commands[-1] == CONFIG.gripper_open_rad  # opened again
    assert len(arm.segments) == 3  # transit, approach, lift (empty-handed): no retreat


def test_a_dry_run_plans_and_moves_nothing():
    runner, arm, gripper, plans = _runner(closes_at=0.4)
    report, _ = _pick(runner, dry_run=True)
    assert plans and report.chosen_index == 0
    assert arm.segments == [] and gripper.commands == []


def test_no_scene_is_stale_state_before_any_motion():
    runner, arm, _, _ = _runner(closes_at=0.4)
    runner.ports.scenes.observation = None  # type: ignore[attr-defined]
    with pytest.raises(TaskError) as raised:
        _pick(runner)
    assert raised.value.code is TaskErrorCode.STALE_STATE and arm.segments == []


def test_placing_with_an_empty_gripper_moves_nothing():
    runner, arm, _, _ = _runner(closes_at=0.4, gripper_rad=0.0)
    with pytest.raises(TaskError) as raised:
        runner.place(
            PlaceGoal("next to the ball", None, False, 0.5),
            TaskReport(),
            lambda *_: None,
            lambda: False,
        )
    assert raised.value.code is TaskErrorCode.NOT_HOLDING and arm.segments == []


def test_placing_without_knowing_what_is_held_is_refused():
    runner, arm, _, _ = _runner(closes_at=0.4, gripper_rad=0.4)  # holding, but no pick record
    with pytest.raises(TaskError) as raised:
        runner.place(
            PlaceGoal("next to the ball", None, False, 0.5),
            TaskReport(),
            lambda *_: None,
            lambda: False,
        )
    assert raised.value.code is TaskErrorCode.INVALID_GOAL and "unknown" in raised.value.message
    assert arm.segments == []


def test_a_pick_remembers_what_it_holds_for_the_place():
    runner, _, _, _ = _runner(closes_at=0.4)
    box = np.eye(4)
    box[:3, 3] = (0.5, 0.0, 0.02)
    target = ObjectBox(box, np.array([0.04, 0.04, 0.04]), "red box", "red")
    runner.ports.scenes.observation = Observation(  # type: ignore[attr-defined]
        (_empty_view(),),
        np.array([[0.5, 0.0, 0.03]], np.float32),  # seen before, gone after: verified
        np.zeros((1, 3), np.uint8),
        1.0,
        "base_link",
    )
    report = TaskReport()
    request = PickRequest("", Choice(_top_down(0.5, 0.0, 0.02)[None], target), False, 0.5)
    scenes = iter([runner.ports.scenes.observation])

    class Scenes(FixedScenes):
        def fresh(self, newer_than_s=None):
            if newer_than_s is None:
                return next(scenes)
            return Observation(
                (_empty_view(),),
                np.zeros((0, 3), np.float32),
                np.zeros((0, 3), np.uint8),
                2.0,
                "base_link",
            )

    runner.ports = TaskPorts(**{**runner.ports.__dict__, "scenes": Scenes(None)})
    runner.pick(request, report, lambda *_: None, lambda: False)
    assert report.target_verified
    assert runner.held is not None and runner.held.target is target
    lower, upper = runner.held.box_in_tcp()
    np.testing.assert_allclose(upper - lower, [0.04, 0.04, 0.04], atol=1e-9)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("width_m", -0.02, TaskErrorCode.INVALID_GOAL),
        ("width_m", 0.5, TaskErrorCode.INVALID_GOAL),
        ("width_m", float("nan"), TaskErrorCode.INVALID_GOAL),
        ("approach_depth_m", -0.01, TaskErrorCode.INVALID_GOAL),
        ("approach_depth_m", float("inf"), TaskErrorCode.INVALID_GOAL),
        ("stamp_s", 0.0, TaskErrorCode.STALE_STATE),  # 1970: stale
        ("stamp_s", 1010.0, TaskErrorCode.STALE_STATE),  # 10 s in the future
    ],
)
def test_candidate_fields_are_refused_naming_the_field(field, value, code):
    fields = {"width_m": 0.04, "approach_depth_m": 0.01, "stamp_s": 999.0}
    fields[field] = value
    with pytest.raises(TaskError) as raised:
        check_candidate(**fields, now_s=1000.0, max_age_s=5.0, max_width_m=0.085)
    assert raised.value.code is code
    assert field.removesuffix("_s").replace("stamp", "stamp") in raised.value.message
    check_candidate(
        width_m=0.04,
        approach_depth_m=0.01,
        stamp_s=999.0,
        now_s=1000.0,
        max_age_s=5.0,
        max_width_m=0.085,
    )


class ClosesOn:
    """Closing stops where the script says, one entry per close (1.0: on nothing)."""

    def __init__(self, robot: FakeRobot, closes: list[float]) -> None:
        self.robot = robot
        self.closes = closes
        self.commands: list[float] = []

    def move(self, position_rad, timeout_s, max_state_age_s):
        self.commands.append(position_rad)
        if position_rad > CONFIG.gripper_open_rad:
            position_rad = min(position_rad, self.closes.pop(0))
        self.robot.gripper_rad = position_rad
        return position_rad


class RankedGrasps:
    """A selection service answering the same ranking every time; remembers each request."""

    def __init__(self, poses: np.ndarray, robot: FakeRobot) -> None:
        self.poses = poses
        self.robot = robot
        self.requests: list[tuple[str, float | None, np.ndarray]] = []

    def choose(self, instruction, canceled, newer_than_s=None):
        self.requests.append((instruction, newer_than_s, self.robot.arm_rad.copy()))
        return Choice(self.poses.copy(), None)


FIRST, SECOND = _top_down(0.5, 0.0, 0.03), _top_down(0.45, 0.1, 0.03)


def _retrying_runner(closes: list[float], poses=(FIRST, SECOND), **config):
    runner, arm, _, plans = _runner(closes_at=1.0)
    robot = arm.robot
    gripper = ClosesOn(robot, closes)
    grasps = RankedGrasps(np.stack(poses), robot)
    ports = dataclasses.replace(runner.ports, gripper=gripper, grasps=grasps)
    runner = TaskRunner(dataclasses.replace(CONFIG, **config), ports, SegmentationConfig())
    return runner, arm, grasps, plans


def _pick_instruction(runner):
    report, stages = TaskReport(), []
    request = PickRequest("the red cube", None, False, 0.5)
    runner.pick(request, report, lambda s, _p: stages.append(s), lambda: False)
    return report, stages


def test_a_grasp_that_closes_on_nothing_is_retried_from_the_start_away_from_it():
    runner, arm, grasps, plans = _retrying_runner([1.0, 0.4], max_grasp_attempts=2)
    report, stages = _pick_instruction(runner)
    assert report.object_held and report.grasp_attempts == 2
    # the failed attempt: transit, approach, lift, then its retreat back to the start
    assert len(arm.segments) == 4 + 4
    np.testing.assert_allclose(arm.segments[3].positions_rad[-1], HOME, atol=1e-6)
    # selected again from the start, on a scene newer than the return, without the failed grasp
    (_, first_newer, _), (_, second_newer, arm_at_second) = grasps.requests
    assert first_newer is None and second_newer == 1.0
    np.testing.assert_allclose(arm_at_second, HOME, atol=1e-6)
    np.testing.assert_allclose(arm.segments[5].positions_rad[-1], arm.segments[6].positions_rad[0])
    grasped = arm.segments[5].positions_rad[-1]  # the second approach ends at the grasp
    from a2_grasping.core.kinematics import forward_kinematics

    tcp = forward_kinematics(grasped) @ GripperGeometry().tool0_from_tcp()
    np.testing.assert_allclose(tcp[:3, 3], SECOND[:3, 3], atol=1e-3)
    assert len(plans) == 2 and stages.count("selecting") == 2 and "returning" in stages


def test_attempts_end_at_max_grasp_attempts_with_grasp_failed():
    runner, _arm, grasps, _ = _retrying_runner([1.0, 1.0, 1.0], max_grasp_attempts=2)
    with pytest.raises(TaskError) as raised:
        _pick_instruction(runner)
    assert raised.value.code is TaskErrorCode.GRASP_FAILED
    assert "(grasp 2 of 2)" in raised.value.message and len(grasps.requests) == 2


def test_one_attempt_means_no_retry():
    runner, arm, grasps, _ = _retrying_runner([1.0, 0.4], max_grasp_attempts=1)
    with pytest.raises(TaskError) as raised:
        _pick_instruction(runner)
    assert raised.value.code is TaskErrorCode.GRASP_FAILED and len(grasps.requests) == 1
    assert len(arm.segments) == 3


def test_a_retry_with_only_failed_neighbourhoods_left_fails_without_moving_again():
    near = _top_down(0.51, 0.0, 0.03)  # 1 cm from the first: inside the 2 cm exclusion
    runner, arm, _grasps, _ = _retrying_runner([1.0, 0.4], poses=(FIRST, near))
    with pytest.raises(TaskError) as raised:
        _pick_instruction(runner)
    assert raised.value.code is TaskErrorCode.GRASP_FAILED
    assert "already failed" in raised.value.message
    assert len(arm.segments) == 4  # the failed attempt and its return, nothing after


class StaleOnce(RankedGrasps):
    """A selection service whose first `refusals` answers are `first_code` (a select code)."""

    def __init__(self, poses, robot, first_code: SelectErrorCode, refusals: int = 1) -> None:
        super().__init__(poses, robot)
        self.first_code = first_code
        self.refusals = refusals

    def choose(self, instruction, canceled, newer_than_s=None):
        if len(self.requests) < self.refusals:
            self.requests.append((instruction, newer_than_s, self.robot.arm_rad.copy()))
            raise TaskError(TaskErrorCode.SELECTION_FAILED, "refused", int(self.first_code))
        return super().choose(instruction, canceled, newer_than_s)


def _stale_once_runner(first_code: SelectErrorCode, observation_after: bool, refusals: int = 1):
    runner, arm, _, _plans = _retrying_runner([0.4])
    grasps = StaleOnce(np.stack([FIRST]), arm.robot, first_code, refusals)
    scenes = runner.ports.scenes
    if not observation_after:
        scenes = FixedScenes(None)
    ports = dataclasses.replace(runner.ports, grasps=grasps, scenes=scenes)
    return TaskRunner(CONFIG, ports, SegmentationConfig()), arm, grasps


def test_a_stale_scene_answer_is_asked_again_on_a_scene_captured_after_it():
    runner, arm, grasps = _stale_once_runner(SelectErrorCode.STALE_SCENE, observation_after=True)
    report, _stages = _pick_instruction(runner)
    assert report.object_held and report.grasp_attempts == 1
    (_, first_newer, _), (_, second_newer, _) = grasps.requests
    assert first_newer is None and second_newer == 1.0  # FixedScenes.now_s at the refusal
    assert len(arm.segments) == 4


def test_stale_scene_answers_are_asked_again_while_newer_scenes_come():
    runner, _arm, grasps = _stale_once_runner(
        SelectErrorCode.STALE_SCENE, observation_after=True, refusals=3
    )
    report, _stages = _pick_instruction(runner)
    assert report.object_held and len(grasps.requests) == 4


def test_a_stale_scene_answer_stands_when_no_newer_scene_comes():
    runner, arm, grasps = _stale_once_runner(SelectErrorCode.STALE_SCENE, observation_after=False)
    with pytest.raises(TaskError) as raised:
        _pick_instruction(runner)
    assert raised.value.code is TaskErrorCode.SELECTION_FAILED
    assert raised.value.select_error_code == SelectErrorCode.STALE_SCENE
    assert len(grasps.requests) == 1 and arm.segments == []


def test_other_selection_refusals_are_not_asked_again():
    runner, arm, grasps = _stale_once_runner(SelectErrorCode.NO_SCENE, observation_after=True)
    with pytest.raises(TaskError) as raised:
        _pick_instruction(runner)
    assert raised.value.select_error_code == SelectErrorCode.NO_SCENE
    assert len(grasps.requests) == 1 and arm.segments == []


class PlaceBy:
    """A place service whose reference is a given object box (the releases never matter: the
    runner must refuse before planning them)."""

    def __init__(self, reference: ObjectBox) -> None:
        self.reference = reference

    def choose_place(self, instruction, held, canceled, moving_xy_m=None, newer_than_s=None):
        from a2_grasping.core.selection.place_regions import PlaceRegion
        from a2_grasping.core.task.ports import PlaceChoice

        centre = self.reference.base_from_box[:2, 3]
        region = PlaceRegion(centre, 0.05, 0.15, 0.0, np.pi, 0.0)
        return PlaceChoice(_top_down(0.6, 0.1, 0.05)[None], self.reference, region)


def _box(x: float, y: float, description: str) -> ObjectBox:
    pose = np.eye(4)
    pose[:3, 3] = (x, y, 0.025)
    return ObjectBox(pose, np.array([0.06, 0.03, 0.05]), description, "pink")


def test_a_place_relative_to_the_object_being_moved_is_refused_before_any_motion():
    """'put the pink block next to the pink block': the place's reference is the picked object
    (segmented again in the place's scene, a few millimetres apart)."""
    runner, arm, gripper, plans = _runner(closes_at=0.4)
    target = _box(0.5, 0.0, "pink box (6.0 x 3.0 x 5.0 cm at x 0.50 y 0.00)")
    same = _box(0.503, -0.002, "pink box (6.0 x 3.0 x 5.0 cm at x 0.50 y -0.00)")
    runner = TaskRunner(
        CONFIG, dataclasses.replace(runner.ports, places=PlaceBy(same)), SegmentationConfig()
    )
    request = PickRequest(
        "the pink block", Choice(_top_down(0.5, 0.0, 0.03)[None], target), False, 0.5
    )
    with pytest.raises(TaskError) as refused:
        runner.pick_and_place(
            request, "next to the pink block", TaskReport(), lambda *_: None, lambda: False
        )
    assert refused.value.code is TaskErrorCode.INVALID_GOAL
    assert "the object being moved" in refused.value.message
    assert arm.segments == [] and gripper.commands == [] and plans == []


def test_a_place_relative_to_another_object_goes_on_to_planning():
    runner, *_ = _runner(closes_at=0.4)
    target = _box(0.5, 0.0, "pink box")
    other = _box(0.5, 0.12, "pink box 2")
    places = PlaceBy(other)
    runner = TaskRunner(
        CONFIG, dataclasses.replace(runner.ports, places=places), SegmentationConfig()
    )
    request = PickRequest(
        "the pink block", Choice(_top_down(0.5, 0.0, 0.03)[None], target), True, 0.5
    )
    report = TaskReport()
    try:
        runner.pick_and_place(
            request, "next to the pink block", report, lambda *_: None, lambda: False
        )
    except TaskError as error:  # the release pose may be unplannable; never the self-reference
        assert "the object being moved" not in error.message
    assert report.reference is other


class PlaceAt:
    """A place service that answers one release pose and records where the moving object is."""

    def __init__(self, release: np.ndarray, reference: ObjectBox) -> None:
        self.release, self.reference = release, reference
        self.moving_xy_m = None

    def choose_place(self, instruction, held, canceled, moving_xy_m=None, newer_than_s=None):
        from a2_grasping.core.selection.place_regions import PlaceRegion
        from a2_grasping.core.task.ports import PlaceChoice

        self.moving_xy_m = moving_xy_m
        region = PlaceRegion(self.reference.base_from_box[:2, 3], 0.05, 0.15, 0.0, np.pi, 0.0)
        return PlaceChoice(self.release[None], self.reference, region)


def test_a_pick_and_place_plans_its_place_without_the_object_it_moves():
    """The place half is planned from the scene seen before the pick: the object's own points
    must not block a release where it stands now (it will be in the hand), and the place service
    is told where it stands."""
    from a2_grasping.testing.synthetic_rgbd import Box, look_at, pinhole, render

    block = Box((0.5, 0.0), (0.06, 0.03, 0.05), yaw_rad=0.0, color_rgb=(230, 80, 160))
    pose, k = look_at((0.9, 0.4, 0.6), (0.5, 0.0, 0.02)), pinhole(320, 240, 69.0)
    _, depth = render((block,), pose, k, (240, 320))
    view = CameraView(np.zeros((240, 320, 3), np.uint8), depth, k, pose, name="front")
    observation = Observation(
        (view,), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), 1.0, "base_link"
    )
    runner, arm, _gripper, plans = _runner(closes_at=0.4, observation=observation)
    target = _box(0.5, 0.0, "pink box")
    grasp = _top_down(0.5, 0.0, 0.03)
    release = grasp.copy()
    release[2, 3] += 0.01  # the object's underside 1 cm above the table, where it stood
    places = PlaceAt(release, _box(0.5, 0.15, "blue box"))
    runner = TaskRunner(
        CONFIG, dataclasses.replace(runner.ports, places=places), SegmentationConfig()
    )
    report = TaskReport()
    runner.pick_and_place(
        PickRequest("the pink block", Choice(grasp[None], target), True, 0.5),
        "next to the blue box",
        report,
        lambda *_: None,
        lambda: False,
    )
    np.testing.assert_allclose(places.moving_xy_m, (0.5, 0.0))
    assert report.release_index == 0 and len(plans) == 1  # planned (a dry run: nothing moved)
    assert arm.segments == []


class StalePlaceOnce(PlaceAt):
    """A place service whose first answer is STALE_SCENE (the server's newest scene too old)."""

    def __init__(self, release: np.ndarray, reference: ObjectBox) -> None:
        super().__init__(release, reference)
        self.newer_than: list[float | None] = []

    def choose_place(self, instruction, held, canceled, moving_xy_m=None, newer_than_s=None):
        self.newer_than.append(newer_than_s)
        if len(self.newer_than) == 1:
            raise TaskError(TaskErrorCode.SELECTION_FAILED, "stale", SelectErrorCode.STALE_SCENE)
        return super().choose_place(instruction, held, canceled, moving_xy_m, newer_than_s)


def test_a_stale_scene_answer_to_the_place_is_asked_again_on_a_scene_captured_after_it():
    """As for grasps: on a loaded machine /select_place answered STALE_SCENE (2.5 s old scenes)
    twice in 20 pick-and-place episodes; the second request must admit a scene captured after
    the refusal, or the server refuses it again."""
    runner, _arm, _gripper, _plans = _runner(closes_at=0.4)
    grasp = _top_down(0.5, 0.0, 0.03)
    release = grasp.copy()
    release[2, 3] += 0.01
    places = StalePlaceOnce(release, _box(0.5, 0.15, "blue box"))
    runner = TaskRunner(
        CONFIG, dataclasses.replace(runner.ports, places=places), SegmentationConfig()
    )
    report = TaskReport()
    runner.pick_and_place(
        PickRequest("the pink block", Choice(grasp[None], _box(0.5, 0.0, "pink box")), True, 0.5),
        "next to the blue box",
        report,
        lambda *_: None,
        lambda: False,
    )
    assert places.newer_than == [None, 1.0]  # FixedScenes.now_s at the refusal
    assert report.release_index == 0
