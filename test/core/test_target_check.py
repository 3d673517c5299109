"""The target check after a lift: the named object's place empties only if it was lifted."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.core.task.target_check import check_target_left, target_region_mask
from a2_grasping.testing.synthetic_clouds import box_points, table_points

LIFT_M = 0.10


def _box_pose(x: float, y: float, height: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = [x, y, 0.5 * height]
    return pose


@pytest.fixture(scope="module")
def two_cubes():
    rng = np.random.default_rng(4)
    target = box_points(rng, (0.04, 0.04, 0.04), (0.5, 0.1), 2000)
    neighbour = box_points(rng, (0.04, 0.04, 0.04), (0.5, -0.1), 2000)
    table = table_points(rng, 4000) + np.array([0.5, 0.0, 0.0])
    return target, neighbour, table


def test_the_place_empties_when_the_target_is_lifted(two_cubes):
    target, neighbour, table = two_cubes
    before = np.vstack([target, neighbour, table])
    lifted = target + np.array([0.0, 0.0, LIFT_M])  # in the hand, 10 cm up
    after = np.vstack([lifted, neighbour, table])
    check = check_target_left(_box_pose(0.5, 0.1, 0.04), np.full(3, 0.04), before, after, LIFT_M)
    assert check.observable and check.points_before > 1000
    assert check.points_after == 0 and check.target_left


def test_a_lifted_neighbour_leaves_the_target_standing(two_cubes):
    target, neighbour, table = two_cubes
    before = np.vstack([target, neighbour, table])
    after = np.vstack([target, neighbour + np.array([0.0, 0.0, LIFT_M]), table])
    check = check_target_left(_box_pose(0.5, 0.1, 0.04), np.full(3, 0.04), before, after, LIFT_M)
    assert check.remaining_share == pytest.approx(1.0)
    assert not check.target_left
    assert "remain where the target stood" in check.summary()


def test_a_tall_lifted_target_does_not_count_as_standing():
    """A 9 cm target lifted 10 cm: its lower part is above the region's top (lift - 1.5 cm)."""
    rng = np.random.default_rng(5)
    tall = box_points(rng, (0.04, 0.04, 0.09), (0.5, 0.0), 3000)
    region = target_region_mask(
        tall + np.array([0, 0, LIFT_M]),
        _box_pose(0.5, 0.0, 0.09),
        np.array([0.04, 0.04, 0.09]),
        LIFT_M,
        0.005,
    )
    assert not region.any()


def test_an_unseen_target_cannot_be_verified():
    check = check_target_left(
        _box_pose(0.5, 0.1, 0.04), np.full(3, 0.04), np.zeros((0, 3)), np.zeros((0, 3)), LIFT_M
    )
    assert not check.observable and not check.target_left


def test_a_lift_too_low_to_judge_is_refused():
    with pytest.raises(ValueError, match="too low"):
        check_target_left(np.eye(4), np.full(3, 0.04), np.zeros((0, 3)), np.zeros((0, 3)), 0.02)
