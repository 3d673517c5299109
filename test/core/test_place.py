"""Place instructions, their regions and free spots (spec §2.7), without ROS."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.selection.objects import SceneObject, ShapeClass
from a2_grasping.core.selection.place_regions import (
    HeldObject,
    ground_reference,
    parse_place,
    place_region,
    place_spots,
    release_poses,
    split_pick_and_place,
)

WORKSPACE = np.array([0.2, 0.8, -0.35, 0.35, -0.02, 0.22])
HELD = HeldObject(np.array([0.04, 0.04, 0.05]), 0.025, np.diag([1.0, -1.0, -1.0]))


def _object(index, color, shape, xy, size=(0.04, 0.04, 0.04)):
    extents = np.array(size, dtype=np.float64)
    return SceneObject(
        index=index,
        point_indices=np.arange(1),
        centroid_m=np.array([xy[0], xy[1], 0.5 * extents[2]]),
        extents_m=extents,
        yaw_rad=0.0,
        color_lab=np.zeros(3),
        color_name=color,
        shape=ShapeClass(shape),
        shape_residual=0.01,
    )


BALL = _object(0, "blue", "sphere", (0.5, 0.0))
PLATE = _object(1, "red", "cylinder", (0.45, 0.2), size=(0.15, 0.15, 0.015))
CUBE = _object(2, "green", "box", (0.6, -0.2))
SCENE = (BALL, PLATE, CUBE)


def _table(center_xy=(0.5, 0.0), half=0.3, step=0.004):
    """Table points as a camera would see them (a grid at z = 0)."""
    xs = np.arange(center_xy[0] - half, center_xy[0] + half, step)
    ys = np.arange(center_xy[1] - half, center_xy[1] + half, step)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return np.column_stack([grid, np.zeros(len(grid))])


@pytest.mark.parametrize(
    ("text", "inside", "direction", "color"),
    [
        ("next to the blue ball", False, None, "blue"),
        ("left of the green cube", False, "left of", "green"),
        ("to the right of the green cube", False, "right of", "green"),
        ("in front of the blue ball", False, "in front of", "blue"),
        ("behind the ball", False, "behind", None),
        ("on the red plate", True, None, "red"),
        ("into the tray", True, None, None),
    ],
)
def test_place_instructions_parse(text, inside, direction, color):
    parsed = parse_place(text)
    assert parsed.relation.inside is inside and parsed.relation.direction == direction
    assert parsed.reference.color == color


def test_one_sentence_splits_at_the_last_place_relation():
    assert split_pick_and_place("put the red block next to the blue ball") == (
        "put the red block",
        "next to the blue ball",
    )
    assert split_pick_and_place("place the cube left of the ball on the plate") == (
        "place the cube left of the ball",
        "on the plate",
    )
    with pytest.raises(SelectionError) as raised:
        split_pick_and_place("pick up the red block")
    assert raised.value.code is SelectErrorCode.INVALID_REQUEST


def test_a_named_place_with_an_unknown_object_is_refused_for_that_object():
    """'next to the banana' names a place; what fails is the banana, not a missing place."""
    with pytest.raises(SelectionError) as raised:
        split_pick_and_place("put the pink block next to the banana")
    assert raised.value.code is SelectErrorCode.TARGET_NOT_FOUND
    assert "'banana'" in str(raised.value) and "not where to put it" not in str(raised.value)
    # a known object after an earlier unknown one still splits at the known place
    assert split_pick_and_place("put the block near the banana on the plate")[1] == "on the plate"


def test_regions_follow_the_spec():
    ball_region = place_region(parse_place("next to the blue ball").relation, BALL, HELD, 0.0)
    r = 0.5 * 0.04 + 0.5 * 0.04  # half the largest side of each
    assert ball_region.radius_min_m == pytest.approx(max(0.05, r))
    assert ball_region.radius_max_m == pytest.approx(max(0.15, r + 0.1))
    assert ball_region.half_angle_rad == pytest.approx(math.pi)
    plate_region = place_region(parse_place("on the plate").relation, PLATE, HELD, 0.0)
    assert plate_region.radius_min_m == 0.0
    assert plate_region.radius_max_m == pytest.approx(0.075)
    assert plate_region.support_z_m == pytest.approx(0.015)


def test_things_go_on_flat_objects_only():
    with pytest.raises(SelectionError) as raised:
        place_region(parse_place("on the ball").relation, BALL, HELD, 0.0)
    assert raised.value.code is SelectErrorCode.INVALID_REQUEST


def test_spots_lie_in_the_region_free_and_seen():
    parsed = parse_place("right of the blue ball")
    reference = ground_reference(parsed, SCENE)
    assert reference is BALL
    region = place_region(parsed.relation, reference, HELD, 0.0)
    spots = place_spots(
        region, reference, SCENE, HELD, workspace_box_m=WORKSPACE, support_points_m=_table()
    )
    assert len(spots) > 0
    assert region.contains(spots).all()
    offset = spots - BALL.centroid_m[:2]
    assert np.all(np.abs(np.degrees(np.arctan2(offset[:, 1], offset[:, 0])) + 90.0) <= 30.0 + 1e-6)
    for obj in SCENE:  # PLACE_GAP_M between the held circle and each footprint
        gap = obj.footprint_distance_m(spots)
        assert np.all(gap >= HELD.footprint_radius_m + 0.025 - 1e-9)
    poses = release_poses(spots, region, HELD, 0.01)
    np.testing.assert_allclose(poses[:, 2, 3], 0.0 + 0.01 + HELD.tcp_above_bottom_m)
    np.testing.assert_allclose(poses[0, :3, :3], HELD.tcp_rotation)


def test_a_spot_beside_a_long_box_face_is_free():
    """A 12 x 3 cm block lying 15 cm from the ball, its long face towards it: the gap to that
    face is what counts, not the block's 6.2 cm circle, which would cover every spot between."""
    block = _object(3, "yellow", "box", (0.5, -0.15), size=(0.12, 0.03, 0.04))
    parsed = parse_place("right of the blue ball")
    region = place_region(parsed.relation, BALL, HELD, 0.0)
    spots = place_spots(
        region, BALL, (BALL, block), HELD, workspace_box_m=WORKSPACE, support_points_m=_table()
    )
    assert len(spots) > 0
    face_gap = block.footprint_distance_m(spots)
    assert np.all(face_gap >= HELD.footprint_radius_m + 0.025 - 1e-9)
    circle_gap = np.linalg.norm(spots - block.centroid_m[:2], axis=1) - block.footprint_radius_m
    assert np.any(circle_gap < HELD.footprint_radius_m + 0.025)  # the circle would refuse it


def test_spots_where_the_support_was_not_seen_are_not_free():
    parsed = parse_place("next to the blue ball")
    region = place_region(parsed.relation, BALL, HELD, 0.0)
    table = _table()
    unseen = np.linalg.norm(table[:, :2] - BALL.centroid_m[:2], axis=1) < 0.3  # all of it hidden
    spots = place_spots(
        region, BALL, SCENE, HELD, workspace_box_m=WORKSPACE, support_points_m=table[~unseen]
    )
    assert len(spots) == 0


def test_the_plate_centre_comes_first_for_in_relations():
    parsed = parse_place("on the red plate")
    region = place_region(parsed.relation, PLATE, HELD, 0.0)
    top = _table(center_xy=(0.45, 0.2), half=0.08) + np.array([0.0, 0.0, 0.015])
    spots = place_spots(region, PLATE, SCENE, HELD, workspace_box_m=WORKSPACE, support_points_m=top)
    np.testing.assert_allclose(spots[0], PLATE.centroid_m[:2])
    assert np.all(np.linalg.norm(spots - PLATE.centroid_m[:2], axis=1) <= 0.075 / 3 + 1e-9)


def test_the_held_footprint_is_the_objects_own_not_its_base_aligned_box():
    """A 6 x 3 cm block held at 45 degrees: its footprint circle is half its own diagonal
    (3.35 cm), not half the diagonal of its base-aligned box (4.5 cm)."""
    from a2_grasping.core.task.placing import HeldRecord
    from a2_grasping.core.task.ports import ObjectBox

    yaw = math.radians(45.0)
    box = np.eye(4)
    box[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    box[:3, 3] = (0.5, 0.0, 0.025)
    tcp = np.eye(4)
    tcp[:3, :3] = np.diag([1.0, -1.0, -1.0])
    tcp[:3, 3] = (0.5, 0.0, 0.04)
    held = HeldRecord(ObjectBox(box, np.array([0.06, 0.03, 0.05]), "red box"), tcp).held_object()
    np.testing.assert_allclose(held.size_m, [0.06, 0.03, 0.05], atol=1e-12)
    assert held.footprint_radius_m == pytest.approx(0.5 * math.hypot(0.06, 0.03))
    assert held.tcp_above_bottom_m == pytest.approx(0.04)


def test_an_object_floating_above_the_table_is_no_obstacle_or_reference():
    """The block in the gripper, seen 15-22 cm up when /place selects, is not on the table."""
    from a2_grasping.core.selection.place import resting_objects

    points = np.array(
        [[0.5, 0.0, z] for z in np.linspace(0.0, 0.05, 20)]
        + [[0.4, 0.1, z] for z in np.linspace(0.15, 0.22, 20)]
    )
    on_table = _object(0, "red", ShapeClass.BOX, (0.5, 0.0), (0.04, 0.04, 0.05))
    held = _object(1, "blue", ShapeClass.BOX, (0.4, 0.1), (0.04, 0.04, 0.22))
    on_table = dataclasses.replace(on_table, point_indices=np.arange(20))
    held = dataclasses.replace(held, point_indices=np.arange(20, 40))
    assert resting_objects((on_table, held), points, 0.0) == (on_table,)


def test_a_pick_and_place_may_put_the_object_where_it_stands_among_others():
    """Pick-and-place chooses the place while the object to be moved still stands on the table,
    in the only free part of the region ("right of the red box": every other spot is within
    PLACE_GAP_M of the reference). As an obstacle it leaves no spot; as the object that will be
    in the hand it is none, and the table it hides counts as seen."""
    from a2_grasping.core.scene import Scene
    from a2_grasping.core.selection.common import SelectionConfig
    from a2_grasping.core.selection.objects import SegmentationConfig
    from a2_grasping.core.selection.place import PlaceConfig, PlaceRequest, PlaceSelector
    from a2_grasping.testing.synthetic_clouds import box_points, table_points, top_down_camera

    rng = np.random.default_rng(5)
    red = box_points(rng, (0.04, 0.04, 0.04), (0.5, 0.0), 3000)
    blue = box_points(rng, (0.04, 0.04, 0.04), (0.5, -0.10), 3000)
    table = table_points(rng, 60000, half_extent=0.3) + np.array([0.5, 0.0, 0.0])
    hidden = np.all(np.abs(table[:, :2] - (0.5, -0.10)) <= 0.02, axis=1)  # under the blue box
    table = table[~hidden]
    points = np.vstack([red, blue, table]) + rng.normal(scale=3e-4, size=(6000 + len(table), 3))
    colors = np.vstack(
        [
            np.tile(np.array(rgb, np.uint8), (len(part), 1))
            for part, rgb in ((red, (200, 25, 25)), (blue, (25, 60, 200)), (table, (128,) * 3))
        ]
    )
    scene = Scene(
        "base_link", 1.0, points.astype(np.float32), colors, WORKSPACE, (top_down_camera(),)
    )
    selector = PlaceSelector(SelectionConfig(), SegmentationConfig(), PlaceConfig())
    held = HeldObject(np.array([0.04, 0.04, 0.04]), 0.02, np.diag([1.0, -1.0, -1.0]))
    with pytest.raises(SelectionError) as raised:
        selector.select(scene, PlaceRequest("right of the red box", held, 10))
    assert raised.value.code is SelectErrorCode.NO_CANDIDATES
    ranked = selector.select(
        scene, PlaceRequest("right of the red box", held, 10, np.array([0.5, -0.10]))
    )
    spots = ranked.releases[:, :2, 3]
    assert len(spots) and ranked.reference.object.color_name == "red"
    clear_m = ranked.reference.object.footprint_distance_m(spots)
    assert np.all(clear_m >= held.footprint_radius_m + 0.025 - 1e-9)  # PLACE_GAP_M off the red
    assert np.min(np.linalg.norm(spots - (0.5, -0.10), axis=1)) <= 0.021  # on its own spot
