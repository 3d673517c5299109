"""The selection pipeline in geometric mode, its refusals, and how scores and filters rank."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.policy.a2_scorer import tcp_poses_to_actions
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.grasp import GraspSelector, SelectionMode
from a2_grasping.core.selection.request import SelectRequest
from a2_grasping.testing.synthetic_clouds import box_points, table_points, tabletop_cloud

WORKSPACE = np.array([-0.3, 0.3, -0.3, 0.3, -0.01, 0.4])


def _scene(points: np.ndarray, views=()) -> Scene:
    return Scene(
        frame_id="base_link",
        stamp_s=100.0,
        points_xyz=points.astype(np.float32),
        colors_rgb=np.full(points.shape, 128, dtype=np.uint8),
        workspace_box_m=WORKSPACE,
        views=tuple(views),
    )


def _request(**overrides) -> SelectRequest:
    fields = {
        "instruction": "grasp the box",
        "camera_names": (),
        "max_candidates": 5,
        "max_input_age_s": 2.0,
    }
    fields.update(overrides)
    return SelectRequest(**fields)


@pytest.fixture(scope="module")
def box_scene() -> Scene:
    rng = np.random.default_rng(3)
    return _scene(tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0.1, -0.05), 5000)))


class ReversedScorer:
    """Test double standing in for the A2 policy: prefers the worst geometric candidates."""

    def score(
        self, object_points_xyz, views, base_from_tcp, instruction, timings_ms, *, check_budget
    ):
        timings_ms["scoring_double"] = 0.0
        return -np.arange(len(base_from_tcp), dtype=np.float64)[::-1].copy()


def test_geometric_mode_ranks_by_quality(box_scene):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig())
    ranked = selector.select(box_scene, _request())
    assert ranked.mode is SelectionMode.GEOMETRIC and not ranked.instruction_used
    assert 1 <= len(ranked.candidates) <= 5 and ranked.selected_index == 0
    np.testing.assert_array_equal(ranked.score, ranked.candidates.quality)
    assert np.all(np.diff(ranked.score) <= 0)
    best = ranked.candidates.tcp_poses[0]
    assert np.linalg.norm(best[:2, 3] - (0.1, -0.05)) < 0.03  # on the box
    assert best[2, 2] < -0.5  # approaching from above
    assert {"prepare", "candidates", "total"} <= set(ranked.timings_ms)


def test_same_scene_same_grasps(box_scene):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(seed=7))
    first = selector.select(box_scene, _request())
    second = selector.select(box_scene, _request())
    np.testing.assert_array_equal(first.candidates.tcp_poses, second.candidates.tcp_poses)


def test_scorer_order_wins_and_mode_is_a2(box_scene):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), scorer=ReversedScorer())
    ranked = selector.select(box_scene, _request(max_candidates=100))
    assert ranked.mode is SelectionMode.A2 and ranked.instruction_used
    assert np.all(np.diff(ranked.score) <= 0)
    # The scorer ranks the generator's last candidate first.
    assert ranked.candidates.candidate_id[0] == ranked.candidates.candidate_id.max()


def test_reachability_filter_removes_candidates(box_scene):
    def only_odd_ids(base_from_tcp, width_m):
        return np.arange(len(width_m)) % 2 == 1

    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), reachability=only_odd_ids)
    unfiltered = GraspSelector(AntipodalGenerator(), SelectionConfig()).select(
        box_scene, _request(max_candidates=1000)
    )
    ranked = selector.select(box_scene, _request(max_candidates=1000))
    assert 0 < len(ranked.candidates) < len(unfiltered.candidates)


def test_reachability_is_tested_only_as_far_down_the_ranking_as_needed(box_scene):
    """The answer equals filtering the full ranking, but IK is not run on every candidate."""
    everything = GraspSelector(AntipodalGenerator(), SelectionConfig()).select(
        box_scene, _request(max_candidates=1000)
    )

    def reachable(base_from_tcp):  # a property of the pose itself, not of its batch position
        return np.round(base_from_tcp[:, 0, 3] * 1e4).astype(np.int64) % 3 != 0

    tested: list[int] = []

    def counting(base_from_tcp, width_m):
        tested.append(len(width_m))
        return reachable(base_from_tcp)

    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), reachability=counting)
    ranked = selector.select(box_scene, _request(max_candidates=3))
    expected = everything.candidates.candidate_id[reachable(everything.candidates.tcp_poses)][:3]
    assert len(everything.candidates) > 10
    np.testing.assert_array_equal(ranked.candidates.candidate_id, expected)
    assert sum(tested) < len(everything.candidates)


@pytest.mark.parametrize(
    ("make_selector", "make_scene", "code"),
    [
        (
            lambda: GraspSelector(AntipodalGenerator(), SelectionConfig()),
            lambda rng: _scene(table_points(rng, 5000)),
            SelectErrorCode.EMPTY_WORKSPACE,
        ),
        (
            lambda: GraspSelector(AntipodalGenerator(), SelectionConfig()),
            lambda rng: _scene(
                tabletop_cloud(rng, box_points(rng, (0.12, 0.11, 0.05), (0, 0), 5000))
            ),
            SelectErrorCode.NO_CANDIDATES,
        ),
        (
            lambda: GraspSelector(
                AntipodalGenerator(),
                SelectionConfig(),
                reachability=lambda poses, widths: np.zeros(len(widths), dtype=bool),
            ),
            lambda rng: _scene(
                tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0, 0), 5000))
            ),
            SelectErrorCode.NO_REACHABLE_CANDIDATE,
        ),
        (
            # A clock that advances 1 s per reading: the 0.5 s budget is spent after one stage.
            lambda: GraspSelector(
                AntipodalGenerator(),
                SelectionConfig(time_budget_s=0.5),
                clock=iter(range(1000)).__next__,
            ),
            lambda rng: _scene(
                tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0, 0), 5000))
            ),
            SelectErrorCode.TIMEOUT,
        ),
    ],
    ids=["empty", "too-wide", "unreachable", "timeout"],
)
def test_refusals(make_selector, make_scene, code):
    with pytest.raises(SelectionError) as raised:
        make_selector().select(make_scene(np.random.default_rng(0)), _request())
    assert raised.value.code is code
    assert raised.value.message


def test_a_slow_scorer_is_stopped_by_the_budget_between_its_steps(box_scene):
    """The scorer's long work (CLIP, tile by tile) checks the budget: TIMEOUT inside the stage,
    after the step that crossed it, not after the whole stage."""
    now_s = [0.0]
    steps: list[int] = []

    class TenSecondScorer:
        def score(
            self, object_points_xyz, views, base_from_tcp, instruction, timings_ms, *, check_budget
        ):
            for step in range(10):
                check_budget()
                steps.append(step)
                now_s[0] += 1.0  # one tile: 1 s
            return np.zeros(len(base_from_tcp))

    selector = GraspSelector(
        AntipodalGenerator(),
        SelectionConfig(time_budget_s=2.5),
        scorer=TenSecondScorer(),
        clock=lambda: now_s[0],
    )
    with pytest.raises(SelectionError) as raised:
        selector.select(box_scene, _request())
    assert raised.value.code is SelectErrorCode.TIMEOUT
    assert "during stage 'scoring'" in raised.value.message
    assert steps == [0, 1, 2]  # 3 s spent: the 4th check refuses


def test_scorer_returning_nan_is_internal_not_a_guess(box_scene):
    class NanScorer:
        def score(
            self, object_points_xyz, views, base_from_tcp, instruction, timings_ms, *, check_budget
        ):
            return np.full(len(base_from_tcp), np.nan)

    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), scorer=NanScorer())
    with pytest.raises(SelectionError) as raised:
        selector.select(box_scene, _request())
    assert raised.value.code is SelectErrorCode.INTERNAL


def test_unknown_camera_is_invalid_request(box_scene):
    view = CameraView(
        color_rgb=np.zeros((4, 4, 3), np.uint8),
        depth_m=np.ones((4, 4), np.float32),
        intrinsics=np.array([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]]),
        base_from_camera=np.eye(4),
        name="front",
    )
    scene = Scene(**{**box_scene.__dict__, "views": (view,)})
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig())
    with pytest.raises(SelectionError) as raised:
        selector.select(scene, _request(camera_names=("wrist",)))
    assert raised.value.code is SelectErrorCode.INVALID_REQUEST
    assert "wrist" in raised.value.message


def test_top_down_grasp_closing_along_y_is_the_spec_action():
    # Spec §2.6: a vertical top-down grasp closing along world y has R = diag(-1, 1, -1) and
    # quaternion ~ [0, 1, 0, 0] in SciPy's sign convention.
    pose = np.eye(4)
    pose[:3, :3] = np.diag([-1.0, 1.0, -1.0])
    pose[:3, 3] = (0.5, 0.0, 0.02)
    action = tcp_poses_to_actions(pose[None])[0]
    np.testing.assert_allclose(action, [0.5, 0.0, 0.02, 0.0, 1.0, 0.0, 0.0], atol=1e-7)
