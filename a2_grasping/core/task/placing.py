"""Place and pick-and-place: what the gripper holds, where it goes, and whether it arrived.

The held object is known from its pick: the target's box (segmented before the grasp) and the
TCP pose it was grasped at. From them follow its box in the TCP frame (the planner moves it with
the gripper), its size and the TCP's height above its underside (the place service puts the
underside just above the support), and the orientation to release it in: the grasp's, so it
lands as it stood. After the release a fresh scene must show an object of the held object's
colour resting in the region: at the support's height, about as tall as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2_grasping.core.selection.objects import SceneObject, SegmentationConfig, segment_objects
from a2_grasping.core.selection.place_regions import HeldObject, PlaceRegion
from a2_grasping.core.task.ports import FloatArray, HeldBox, ObjectBox, Observation

# The placed object's centre may lie this far outside the region (segmentation error).
REGION_TOLERANCE_M = 0.01
# Resting: its underside within this of the support, its height within this share of the held.
SUPPORT_TOLERANCE_M = 0.015
HEIGHT_TOLERANCE = 0.3


@dataclass(frozen=True)
class HeldRecord:
    """What the gripper holds: the object's box before the grasp and the grasp's TCP pose."""

    target: ObjectBox
    base_from_tcp_at_grasp: FloatArray  # (4, 4)

    def box_in_tcp(self) -> HeldBox:
        """(lower, upper) of the object's box corners in the TCP frame."""
        tcp_from_box = np.linalg.inv(self.base_from_tcp_at_grasp) @ self.target.base_from_box
        half = 0.5 * self.target.extents_m
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
        corners = (signs * half) @ tcp_from_box[:3, :3].T + tcp_from_box[:3, 3]
        return corners.min(axis=0), corners.max(axis=0)

    def held_object(self) -> HeldObject:
        """Footprint sides and height, TCP height above the underside, release orientation.

        The footprint is the box's own two horizontal sides (the most vertical axis is its
        height), not its extents along base x and y: the release keeps the object's yaw, and a
        block turned 45 degrees has a base-aligned box up to 1.4x wider, which made free spots
        beside other objects look too small (5 of 12 pick-and-place refusals measured).
        """
        box = self.target.base_from_box
        half = 0.5 * self.target.extents_m
        vertical = int(np.argmax(np.abs(box[2, :3])))
        sides = np.delete(self.target.extents_m, vertical)
        height = float(2.0 * np.abs(box[2, :3]) @ half)
        size = np.array([sides.max(), sides.min(), height])
        bottom_z = float(box[2, 3] - 0.5 * height)
        above = float(self.base_from_tcp_at_grasp[2, 3] - bottom_z)
        return HeldObject(size, max(above, 0.0), self.base_from_tcp_at_grasp[:3, :3].copy())


@dataclass(frozen=True)
class PlacementCheck:
    placed: SceneObject | None  # the object seen resting in the region
    message: str

    @property
    def in_region(self) -> bool:
        return self.placed is not None


def check_placement(  # noqa: PLR0917 - the region, what was held and both scenes
    after: Observation,
    region: PlaceRegion,
    held: HeldRecord | None,
    table_height_m: float,
    segmentation: SegmentationConfig,
    before: Observation | None = None,
    *,
    table_margin_m: float,
) -> PlacementCheck:
    """Is an object that could be the held one (its colour name, its height) resting in the
    region, where no object rested in `before` (the scene planned on, before the release)? A
    look-alike that already stood in the region is not the placed object (the held object itself,
    where it was picked, is no look-alike). IN relations look
    only above the receptacle's top inside its disc, so the object and the plate it stands on
    are not one cluster."""
    objects = _region_objects(after, region, table_height_m, table_margin_m, segmentation)
    already = (
        ()
        if before is None
        else tuple(
            o
            for o in _region_objects(before, region, table_height_m, table_margin_m, segmentation)
            if _resting_in(o, region)
            # A pick-and-place's `before` shows the held object where it was picked, and the
            # place may put it back there.
            and not (held is not None and held.target.footprint_contains(o.centroid_m[:2]))
        )
    )
    held_height = None if held is None else float(held.held_object().size_m[2])
    held_color = held.target.color if held is not None and held.target.color else None
    return placed_object(objects, region, held_height, held_color, already_there=already)


def _region_objects(
    observation: Observation,
    region: PlaceRegion,
    table_height_m: float,
    table_margin_m: float,
    segmentation: SegmentationConfig,
) -> tuple[SceneObject, ...]:
    points = np.asarray(observation.points_xyz, dtype=np.float64)
    colors = observation.colors_rgb
    support_z = region.support_z_m if region.radius_min_m == 0.0 else table_height_m
    if region.radius_min_m == 0.0:
        near = np.linalg.norm(points[:, :2] - region.center_xy_m, axis=1) <= (
            region.radius_max_m + 0.02
        )
        points, colors = points[near], colors[near]
        segmentation = SegmentationConfig(**{**segmentation.__dict__, "refine_table_plane": False})
    return segment_objects(points, colors, support_z, table_margin_m, segmentation)


def _resting_in(obj: SceneObject, region: PlaceRegion) -> bool:
    bottom = float(obj.centroid_m[2] - 0.5 * obj.extents_m[2])
    return bool(region.contains(obj.centroid_m[:2], REGION_TOLERANCE_M)[0]) and (
        abs(bottom - region.support_z_m) <= SUPPORT_TOLERANCE_M
    )


def _stood_there(obj: SceneObject, already_there: tuple[SceneObject, ...]) -> bool:
    """Its footprint centre is where an object rested before the release (within half that
    object's narrow side, at least 2 cm: segmentation error)."""
    return any(
        np.linalg.norm(obj.centroid_m[:2] - other.centroid_m[:2])
        <= max(0.02, 0.5 * float(np.min(other.extents_m[:2])))
        for other in already_there
    )


def placed_object(
    objects: tuple[SceneObject, ...],
    region: PlaceRegion,
    held_height_m: float | None,
    held_color: str | None,
    already_there: tuple[SceneObject, ...] = (),
) -> PlacementCheck:
    """Among segmented objects, the one resting in the region that could be the held one and
    did not rest there before the release."""
    seen: list[str] = []
    for obj in objects:
        centre = obj.centroid_m[:2]
        if not region.contains(centre, REGION_TOLERANCE_M)[0]:
            continue
        bottom = float(obj.centroid_m[2] - 0.5 * obj.extents_m[2])
        if abs(bottom - region.support_z_m) > SUPPORT_TOLERANCE_M:
            seen.append(f"{obj.description} (not on the support)")
            continue
        if _stood_there(obj, already_there):
            seen.append(f"{obj.description} (stood there before the release)")
            continue
        if held_color is not None and obj.color_name != held_color:
            seen.append(f"{obj.description} (another colour)")
            continue
        if held_height_m is not None and abs(obj.height_m - held_height_m) > (
            HEIGHT_TOLERANCE * held_height_m
        ):
            seen.append(f"{obj.description} (not upright: {100 * obj.height_m:.1f} cm high)")
            continue
        return PlacementCheck(obj, f"{obj.description} rests in the region")
    return PlacementCheck(
        None,
        "no object of the held one rests in the region"
        + (f"; in it: {', '.join(seen)}" if seen else ""),
    )
