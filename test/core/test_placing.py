"""The post-release place check: the held object, newly resting in the region, nothing else."""

from __future__ import annotations

import numpy as np

from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place_regions import PlaceRegion
from a2_grasping.core.task.placing import HeldRecord, check_placement
from a2_grasping.core.task.ports import ObjectBox, Observation
from a2_grasping.testing.synthetic_clouds import box_points, table_points

PINK = (242, 115, 178)
SIZE = (0.04, 0.04, 0.05)
# Next to a reference at (0.5, 0.0): the annulus 5-15 cm around it.
REGION = PlaceRegion(np.array([0.5, 0.0]), 0.05, 0.15, 0.0, np.pi, 0.0)


def _observation(*boxes_xy: tuple[float, float]) -> Observation:
    rng = np.random.default_rng(3)
    parts = [box_points(rng, SIZE, xy, 2500) for xy in boxes_xy]
    table = table_points(rng, 12000, half_extent=0.25) + np.array([0.5, 0.0, 0.0])
    points = np.vstack([*parts, table])
    colors = np.vstack(
        [
            np.tile(np.array(PINK, np.uint8), (2500 * len(parts), 1)),
            np.tile(np.array((120, 120, 120), np.uint8), (len(table), 1)),
        ]
    )
    return Observation((), points.astype(np.float32), colors, 1.0, "base_link")


def _held() -> HeldRecord:
    box = np.eye(4)
    box[:3, 3] = (0.35, -0.15, 0.025)
    tcp = np.eye(4)
    tcp[:3, :3] = np.diag([1.0, -1.0, -1.0])
    tcp[:3, 3] = (0.35, -0.15, 0.03)
    return HeldRecord(ObjectBox(box, np.array(SIZE), "pink box", "pink"), tcp)


def test_a_look_alike_already_in_the_region_is_not_the_placed_object():
    """An identical pink box stood 10 cm from the reference before the release; the held one
    fell elsewhere. The region shows a pink box of the right height: it must not pass."""
    before = _observation((0.6, 0.0))
    after = _observation((0.6, 0.0))
    check = check_placement(
        after, REGION, _held(), 0.0, SegmentationConfig(), before=before, table_margin_m=0.003
    )
    assert not check.in_region
    assert "stood there before the release" in check.message
    # without the scene before the release, the look-alike passes (the defect)
    assert check_placement(
        after, REGION, _held(), 0.0, SegmentationConfig(), table_margin_m=0.003
    ).in_region


def test_the_placed_object_beside_a_look_alike_passes():
    before = _observation((0.6, 0.0))
    after = _observation((0.6, 0.0), (0.5, 0.1))
    check = check_placement(
        after, REGION, _held(), 0.0, SegmentationConfig(), before=before, table_margin_m=0.003
    )
    assert check.in_region and check.placed is not None
    np.testing.assert_allclose(check.placed.centroid_m[:2], (0.5, 0.1), atol=0.01)


def test_a_pick_and_place_may_put_the_object_back_where_it_was_picked():
    """Pick-and-place verifies against the scene before the pick, which shows the held object
    itself in the region (it already stood beside the reference); put back on that spot, it is
    the placed object, not a look-alike. An identical box elsewhere in the region still is one."""
    held = _held()
    box = held.target.base_from_box.copy()
    box[:2, 3] = (0.6, 0.0)
    tcp = held.base_from_tcp_at_grasp.copy()
    tcp[:2, 3] = (0.6, 0.0)
    held_here = HeldRecord(ObjectBox(box, np.array(SIZE), "pink box", "pink"), tcp)
    before = _observation((0.6, 0.0), (0.5, -0.1))
    after = _observation((0.605, 0.003), (0.5, -0.1))
    check = check_placement(
        after, REGION, held_here, 0.0, SegmentationConfig(), before=before, table_margin_m=0.003
    )
    assert check.in_region and check.placed is not None
    np.testing.assert_allclose(check.placed.centroid_m[:2], (0.605, 0.003), atol=0.01)
    dropped_elsewhere = _observation((0.5, -0.1))  # only the look-alike in the region
    check = check_placement(
        dropped_elsewhere,
        REGION,
        held_here,
        0.0,
        SegmentationConfig(),
        before=before,
        table_margin_m=0.003,
    )
    assert not check.in_region and "stood there before the release" in check.message
