"""Where to put the held object: place instructions, their regions and ranked release poses.

A place instruction is a relation and a reference object named like a grasp target:
- IN ("on", "in", "into", "onto", "on top of", "inside"): on or in the reference (a plate or a
  tray); the region is the disc of radius min(footprint)/2 around its centre (spec §2.7), and
  candidates lie within a third of that, so the held object rests well inside.
- OUT ("next to", "near", "beside", "by", "around", "left of", "right of", "in front of",
  "behind"): beside it on the table; the region is the annulus from
  max(5 cm, r_ref + r_held) to max(15 cm, r_ref + r_held + 10 cm) around its centre (spec §2.7,
  r = half the largest footprint side of each), within 45 degrees of the direction when one is
  named (robot's view: left = +y, front = -x), and free of every other object.
Candidates come from the observed, segmented scene only. Each becomes a TCP release pose that
keeps the orientation the object is held in, with its underside `release_clearance_m` above the
support (the table, or the top of the receptacle).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.selection.grounding import ObjectPhrase, ParsedInstruction, ground, phrase_of
from a2_grasping.core.selection.objects import SceneObject

FloatArray = NDArray[np.float64]

MIN_DISTANCE_M = 0.05  # spec §2.7 MIN_DIS
MAX_DISTANCE_M = 0.15  # spec §2.7 MAX_DIS
SECTOR_HALF_ANGLE_RAD = math.radians(45.0)
# Spots keep this far inside a direction's sector: the object lands a few degrees off the
# release (measured: 51 degrees from a spot at the 45-degree edge).
SECTOR_EDGE_MARGIN_RAD = math.radians(15.0)
# Free space kept between the placed object's footprint and any other object's: the object
# lands up to a centimetre from its release spot, and footprints closer than the segmentation's
# 8 mm cluster distance merge into one object, which the place check cannot recognise (measured:
# 2 of 20 correct places reported PLACE_FAILED with 1.5 cm).
PLACE_GAP_M = 0.025
# A spot counts as seen free when the support was observed under this share of its footprint:
# points within SUPPORT_BAND_M of the support height, within SEEN_RADIUS_M of each probe.
MIN_SEEN_SHARE = 0.8
SUPPORT_BAND_M = 0.006
SEEN_RADIUS_M = 0.006
_DISC_SAMPLES = np.array(
    [(0.0, 0.0)]
    + [
        (r * math.cos(a), r * math.sin(a))
        for r in (0.45, 0.9)
        for a in np.arange(0.0, 2.0 * math.pi, math.pi / 4)
    ]
)
# Candidate spots: angles every 15 degrees, radii in 2 cm steps from the region's inner edge.
_ANGLE_STEP_RAD = math.radians(15.0)
_RADIUS_STEP_M = 0.02

# Longest phrases first: their words are consumed.
_IN_PHRASES = (("on", "top", "of"), ("into",), ("onto",), ("inside",), ("in",), ("on",))
_OUT_PHRASES: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("to", "the", "left", "of"), "left of"),
    (("to", "the", "right", "of"), "right of"),
    (("on", "the", "left", "of"), "left of"),
    (("on", "the", "right", "of"), "right of"),
    (("in", "front", "of"), "in front of"),
    (("in", "back", "of"), "behind"),
    (("next", "to"), None),
    (("close", "to"), None),
    (("near", "to"), None),
    (("left", "of"), "left of"),
    (("right", "of"), "right of"),
    (("behind",), "behind"),
    (("beside",), None),
    (("near",), None),
    (("by",), None),
    (("around",), None),
)
_DIRECTION_YAW_RAD = {
    "left of": 0.5 * math.pi,
    "right of": -0.5 * math.pi,
    "in front of": math.pi,
    "behind": 0.0,
}


@dataclass(frozen=True)
class PlaceRelation:
    inside: bool  # IN (on / in the reference) or OUT (beside it)
    direction: str | None  # "left of", "right of", "in front of", "behind" or None
    words: tuple[str, ...]  # the relation's words as written

    @property
    def name(self) -> str:
        return "in" if self.inside else "out"


@dataclass(frozen=True)
class ParsedPlace:
    relation: PlaceRelation
    reference: ObjectPhrase
    unknown_words: tuple[str, ...]


@dataclass(frozen=True)
class PlaceRegion:
    """Where the held object's centre may rest, on a support at `support_z_m`."""

    center_xy_m: FloatArray
    radius_min_m: float
    radius_max_m: float
    direction_rad: float
    half_angle_rad: float  # pi: all around
    support_z_m: float

    def contains(self, xy_m: NDArray[np.floating], tolerance_m: float = 0.0) -> NDArray[np.bool_]:
        offset = np.atleast_2d(np.asarray(xy_m, dtype=np.float64)) - self.center_xy_m
        radius = np.linalg.norm(offset, axis=1)
        inside: NDArray[np.bool_] = (radius >= self.radius_min_m - tolerance_m) & (
            radius <= self.radius_max_m + tolerance_m
        )
        if self.half_angle_rad < math.pi:
            angle = np.arctan2(offset[:, 1], offset[:, 0]) - self.direction_rad
            off_axis = np.abs((angle + math.pi) % (2 * math.pi) - math.pi)
            inside &= off_axis <= self.half_angle_rad
        return inside


@dataclass(frozen=True)
class HeldObject:
    """The object in the hand as the place needs it, in the base frame."""

    size_m: FloatArray  # (3,) footprint's long and short side, height; as held
    tcp_above_bottom_m: float  # the TCP's height above the object's underside
    tcp_rotation: FloatArray  # (3, 3) base_from_tcp rotation to keep

    @property
    def footprint_radius_m(self) -> float:
        return 0.5 * math.hypot(float(self.size_m[0]), float(self.size_m[1]))


def split_pick_and_place(text: str) -> tuple[str, str]:
    """("put the red block", "next to the blue ball") from one sentence, split at the last place
    relation followed by an object phrase.

    Raises:
        SelectionError: INVALID_REQUEST when the sentence has no place part; the place
            part's own refusal (TARGET_NOT_FOUND for an object grounding does not know, e.g.
            "next to the banana") when its relation names an object that cannot be grounded.
    """
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("-", ""))
    refusal: SelectionError | None = None  # why the last relation's object failed
    for start in range(len(tokens) - 1, 0, -1):
        if _relation_at(tokens, start) is None:
            continue
        try:
            parse_place(" ".join(tokens[start:]))
        except SelectionError as error:
            # "next to the banana": a place is named, its object is not one grounding knows;
            # that, not a missing place, is what the user must hear.
            if refusal is None and error.code is not SelectErrorCode.INVALID_REQUEST:
                refusal = error
            continue
        return " ".join(tokens[:start]), " ".join(tokens[start:])
    if refusal is not None:
        raise refusal
    raise SelectionError(
        SelectErrorCode.INVALID_REQUEST,
        f"'{text}' says what to pick but not where to put it; add a place, e.g. 'next to the "
        "blue ball' or 'on the plate'",
    )


def parse_place(text: str, *, open_nouns: bool = False) -> ParsedPlace:
    """The relation and reference phrase of a place instruction (`open_nouns`: a reference noun
    grounding does not know, "the bowl", is kept for a learned policy instead of refused).

    Raises:
        SelectionError: INVALID_REQUEST without a relation or a reference; the reference
            phrase's own refusals (contradictions, unknown nouns).
    """
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("-", ""))
    for start in range(len(tokens)):
        relation = _relation_at(tokens, start)
        if relation is None:
            continue
        rest = tokens[start + len(relation.words) :]
        unknown: list[str] = []
        reference = phrase_of(
            rest,
            unknown,
            f"the place reference ('{' '.join(relation.words)}')",
            open_nouns=open_nouns,
        )
        if not reference.has_content and not reference.open_noun:
            continue
        return ParsedPlace(relation, reference, tuple(unknown))
    raise SelectionError(
        SelectErrorCode.INVALID_REQUEST,
        f"no place relation with an object in '{text}': say e.g. 'next to the blue ball', "
        "'left of the red cube', 'on the plate' or 'in the tray'",
    )


def _relation_at(tokens: list[str], start: int) -> PlaceRelation | None:
    for phrase, direction in _OUT_PHRASES:
        if tuple(tokens[start : start + len(phrase)]) == phrase:
            return PlaceRelation(False, direction, phrase)
    for phrase in _IN_PHRASES:
        if tuple(tokens[start : start + len(phrase)]) == phrase:
            return PlaceRelation(True, None, phrase)
    return None


def ground_reference(parsed: ParsedPlace, objects: tuple[SceneObject, ...]) -> SceneObject:
    """The one object the place is relative to (TARGET_NOT_FOUND / AMBIGUOUS_TARGET)."""
    return _grounded(parsed, objects, definite=True)[0]


def reference_candidates(
    parsed: ParsedPlace, objects: tuple[SceneObject, ...]
) -> tuple[SceneObject, ...]:
    """The objects a learned policy may place relative to: those the reference's known words fit
    (with the same refusals as ground_reference), every one where it names nothing grounding
    knows ("the bowl"); several where a noun it does not know tells them apart ("the red bowl"
    among red objects). "on" / "in" keep flat objects only."""
    if parsed.reference.has_content:
        fitting = _grounded(parsed, objects, definite=not parsed.reference.open_noun)
    else:
        fitting = objects
    if parsed.relation.inside:
        fitting = tuple(o for o in fitting if o.is_flat)
        if not fitting:
            raise SelectionError(
                SelectErrorCode.TARGET_NOT_FOUND,
                f"'{' '.join(parsed.relation.words)}' needs a plate or a tray (a flat object); "
                "none fits the reference",
            )
    return fitting


def _grounded(
    parsed: ParsedPlace, objects: tuple[SceneObject, ...], *, definite: bool
) -> tuple[SceneObject, ...]:
    phrase = ObjectPhrase(
        color=parsed.reference.color,
        shape=parsed.reference.shape,
        flat=parsed.reference.flat,
        selectors=parsed.reference.selectors,
        definite=definite,
        words=parsed.reference.words,
    )
    grounding = ground(ParsedInstruction("", phrase, None, None, parsed.unknown_words), objects)
    return grounding.targets


def place_region(
    relation: PlaceRelation, reference: SceneObject, held: HeldObject, table_height_m: float
) -> PlaceRegion:
    center = np.asarray(reference.centroid_m[:2], dtype=np.float64)
    if relation.inside and not reference.is_flat:
        raise SelectionError(
            SelectErrorCode.INVALID_REQUEST,
            f"'{' '.join(relation.words)}' the {reference.description}: things can be put on or "
            "in a plate or a tray (a flat object), not on a solid; say 'next to' to put it beside",
        )
    if relation.inside:
        return PlaceRegion(
            center,
            0.0,
            0.5 * float(min(reference.extents_m[:2])),
            0.0,
            math.pi,
            float(reference.centroid_m[2] + 0.5 * reference.extents_m[2]),
        )
    reach = 0.5 * float(max(reference.extents_m[:2])) + 0.5 * float(max(held.size_m[:2]))
    direction = relation.direction
    return PlaceRegion(
        center,
        max(MIN_DISTANCE_M, reach),
        max(MAX_DISTANCE_M, reach + 0.1),
        _DIRECTION_YAW_RAD.get(direction, 0.0) if direction else 0.0,
        SECTOR_HALF_ANGLE_RAD if direction else math.pi,
        table_height_m,
    )


def seen_support_share(
    spots_xy: FloatArray, support_points_m: FloatArray, support_z_m: float, radius_m: float
) -> FloatArray:
    """Per spot, the share of its footprint (a disc of `radius_m`) where the cameras saw the
    support surface: a spot in the shadow of another object was never seen free, and the
    planner's collision world (which fills unseen space) would refuse it anyway."""
    from scipy.spatial import cKDTree

    on_support = support_points_m[np.abs(support_points_m[:, 2] - support_z_m) <= SUPPORT_BAND_M]
    if len(on_support) == 0 or len(spots_xy) == 0:
        return np.zeros(len(spots_xy))
    offsets = _DISC_SAMPLES * radius_m  # (S, 2)
    probes = (spots_xy[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    distance, _ = cKDTree(on_support[:, :2]).query(probes, k=1, distance_upper_bound=SEEN_RADIUS_M)
    seen = np.isfinite(distance).reshape(len(spots_xy), len(offsets))
    share: FloatArray = seen.mean(axis=1)
    return share


def place_spots(
    region: PlaceRegion,
    reference: SceneObject,
    objects: tuple[SceneObject, ...],
    held: HeldObject,
    *,
    workspace_box_m: FloatArray,
    support_points_m: FloatArray,
) -> FloatArray:
    """(N, 2) free spots for the held object's centre, best first: IN from the receptacle's
    centre outwards; OUT from the reference outwards, then by clearance to other objects. A spot
    is free when no object's footprint (its rectangle or circle) comes within PLACE_GAP_M of the
    held one's circle (its yaw at release is not known here) and the cameras saw at least
    MIN_SEEN_SHARE of the support under it."""
    if region.radius_min_m == 0.0:  # IN
        rings = [0.0, region.radius_max_m / 3.0]
    else:
        rings = list(
            np.arange(region.radius_min_m + 0.01, region.radius_max_m - 0.005, _RADIUS_STEP_M)
        )
    angles = np.arange(0.0, 2.0 * math.pi, _ANGLE_STEP_RAD)
    spots = [region.center_xy_m.copy()] if rings and rings[0] == 0.0 else []
    for radius in rings:
        if radius == 0.0:
            continue
        for angle in angles:
            spots.append(region.center_xy_m + radius * np.array([math.cos(angle), math.sin(angle)]))
    if not spots:
        return np.zeros((0, 2))
    xy = np.array(spots)
    keep = region.contains(xy)
    if region.half_angle_rad < math.pi:  # a direction: stay clear of the sector's edges
        offset = xy - region.center_xy_m
        angle = np.arctan2(offset[:, 1], offset[:, 0]) - region.direction_rad
        keep &= np.abs((angle + math.pi) % (2 * math.pi) - math.pi) <= (
            region.half_angle_rad - SECTOR_EDGE_MARGIN_RAD
        )
    box = np.asarray(workspace_box_m, dtype=np.float64)
    margin = held.footprint_radius_m
    keep &= (xy[:, 0] >= box[0] + margin) & (xy[:, 0] <= box[1] - margin)
    keep &= (xy[:, 1] >= box[2] + margin) & (xy[:, 1] <= box[3] - margin)
    clearance = np.full(len(xy), np.inf)
    for obj in objects:
        if obj is reference and region.radius_min_m == 0.0:
            continue  # IN: the receptacle is the support, not an obstacle
        free = obj.footprint_distance_m(xy) - (held.footprint_radius_m + PLACE_GAP_M)
        clearance = np.minimum(clearance, free)
    keep &= clearance >= 0.0
    seen = seen_support_share(
        xy, np.asarray(support_points_m, dtype=np.float64), region.support_z_m, margin
    )
    keep &= seen >= MIN_SEEN_SHARE
    xy, clearance = xy[keep], clearance[keep]
    distance = np.linalg.norm(xy - region.center_xy_m, axis=1)
    order = np.lexsort((-np.minimum(clearance, 0.05), np.round(distance, 3)))
    return xy[order]


def release_poses(
    spots_xy: FloatArray, region: PlaceRegion, held: HeldObject, clearance_m: float
) -> FloatArray:
    """(N, 4, 4) TCP poses: the held orientation, the underside clearance_m above the support."""
    poses = np.repeat(np.eye(4)[None], len(spots_xy), axis=0)
    poses[:, :3, :3] = held.tcp_rotation
    poses[:, :2, 3] = spots_xy
    poses[:, 2, 3] = region.support_z_m + clearance_m + held.tcp_above_bottom_m
    return poses
