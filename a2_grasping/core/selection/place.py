"""Place selection: from a scene, a place instruction and the held object to ranked release poses.

Stages: segment the workspace into objects -> parse the instruction into a relation and a
reference -> ground the reference -> the relation's region -> free spots -> release poses ->
reachability -> rank. Refusals use the SelectGrasp / SelectPlace codes (the numbering is
shared); nothing is ever placed on ground truth or an invented spot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.a2_place import a2_place_candidates
from a2_grasping.core.selection.common import (
    ChosenObject,
    PoseScorer,
    ReachabilityFilter,
    SelectionConfig,
    Stopwatch,
    Workspace,
    segment_workspace,
)
from a2_grasping.core.selection.objects import SceneObject, SegmentationConfig
from a2_grasping.core.selection.place_regions import (
    HeldObject,
    ParsedPlace,
    PlaceRegion,
    PlaceRelation,
    ground_reference,
    parse_place,
    place_region,
    place_spots,
    reference_candidates,
    release_poses,
)

FloatArray = NDArray[np.float64]
# An object whose lowest seen points are higher than this above the table is not resting on it.
RESTING_MAX_GAP_M = 0.05


@dataclass(frozen=True)
class PlaceConfig:
    """Parameters of place selection (inference_node parameters)."""

    release_clearance_m: float = config_field(
        0.01,
        "The held object's underside is released this far above the support (m): room for "
        "depth error and the object's seen height, small enough that it does not tip when it "
        "drops.",
        min_value=0.0,
        max_value=0.05,
    )
    max_place_spots: int = config_field(
        40,
        "At most this many free spots of a region are turned into release poses.",
        min_value=1,
        max_value=1000,
    )

    def __post_init__(self) -> None:
        validate_ranges(self)


@dataclass(frozen=True)
class PlaceRequest:
    instruction: str
    held: HeldObject
    max_candidates: int
    # Pick-and-place: (x, y) of the object to be moved, still on the table (None: in the hand).
    moving_xy_m: FloatArray | None = None


@dataclass(frozen=True)
class RankedPlaces:
    releases: FloatArray  # (K, 4, 4) base_from_tcp, best first
    region: PlaceRegion
    relation: PlaceRelation
    reference: ChosenObject
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "attributes"  # "a2": the fusion network chose the reference and the spot


@dataclass(frozen=True)
class PlaceInput:
    """One place request on its scene, after the prelude: what the stages work on."""

    scene: Scene
    workspace: Workspace
    objects: tuple[SceneObject, ...]  # resting on the table (the held object is not)
    request: PlaceRequest
    parsed: ParsedPlace


class PlaceMode(Protocol):
    """How the reference object (and A2's preferred spot in its region) is chosen: chosen once,
    when the selector is built (at configure)."""

    name: str
    open_nouns: bool  # object nouns grounding does not know are left to the mode

    def choose(self, place: PlaceInput, watch: Stopwatch) -> tuple[SceneObject, FloatArray | None]:
        """(the reference, the position to prefer in its region or None)."""
        ...


class AttributesPlaceMode:
    """The reference is the object the instruction's words fit (grounding's refusals)."""

    name = "attributes"
    open_nouns = False

    def choose(self, place: PlaceInput, watch: Stopwatch) -> tuple[SceneObject, FloatArray | None]:
        return ground_reference(place.parsed, place.objects), None


class A2PlaceMode:
    """A2's place candidates (spec §2.7) scored by the fusion network choose the reference and
    where in its region to place; `guard` (ground_instructions) keeps that choice on the objects
    the reference's known words fit, with attributes mode's refusals (off: A2 alone chooses
    among all objects)."""

    name = "a2"
    open_nouns = True

    def __init__(self, scorer: PoseScorer, table_height_m: float, *, guard: bool) -> None:
        self._scorer = scorer
        self._table_height_m = table_height_m
        self._guard = guard

    def choose(self, place: PlaceInput, watch: Stopwatch) -> tuple[SceneObject, FloatArray | None]:
        """The reference object and the position A2 prefers: the best-scoring of its place
        candidates (the whole §2.7 set is scored, as the network was trained) that is of the
        relation's kind (IN / OUT), belongs to an allowed object and lies in that object's region
        for the relation (a direction's sector included)."""
        scene, request, parsed, objects = place.scene, place.request, place.parsed, place.objects
        allowed = reference_candidates(parsed, objects) if self._guard else objects
        table_m = self._table_height_m
        candidates = a2_place_candidates(
            objects,
            place.workspace.points_m,  # the table kept (spec §2.7)
            request.held.size_m,
            table_height_m=table_m,
            workspace_box_m=scene.workspace_box_m,
        )
        if len(candidates) == 0:
            raise SelectionError(
                SelectErrorCode.NO_CANDIDATES,
                f"no A2 place candidate: the {len(objects)} objects are too small on the grid",
            )
        scores = self._scorer.score(
            place.workspace.points_m,
            scene.views,
            candidates.poses(),
            request.instruction,
            watch.timings_ms,
            check_budget=lambda: watch.check("during stage 'scoring'"),
        )
        allowed_positions = {o.index for o in allowed}
        keep = candidates.inside == parsed.relation.inside
        for k in np.flatnonzero(keep):
            obj = objects[int(candidates.object_index[k])]
            if obj.index not in allowed_positions or (parsed.relation.inside and not obj.is_flat):
                keep[k] = False
                continue
            region = place_region(parsed.relation, obj, request.held, table_m)
            keep[k] = bool(region.contains(candidates.positions_m[k, :2])[0])
        if not keep.any():
            raise SelectionError(
                SelectErrorCode.NO_CANDIDATES,
                f"none of A2's {len(candidates)} place candidates is "
                f"{' '.join(parsed.relation.words)} "
                + " or ".join(f"the {o.description}" for o in allowed),
            )
        best = int(np.flatnonzero(keep)[np.argmax(scores[keep])])
        return objects[int(candidates.object_index[best])], candidates.positions_m[best]


class PlaceSelector:
    """Runs the place stages. Implements Selector[PlaceRequest, RankedPlaces]."""

    def __init__(
        self,
        selection: SelectionConfig,
        segmentation: SegmentationConfig,
        config: PlaceConfig,
        reachability: ReachabilityFilter | None = None,
        clock: Callable[[], float] = time.perf_counter,
        *,
        scorer: PoseScorer | None = None,
        guard: bool = True,
    ) -> None:
        """`scorer`: a2 mode (A2PlaceMode, guarded by grounding when `guard`); else attributes."""
        self._selection = selection
        self._segmentation = segmentation
        self._config = config
        self._reachability = reachability
        self._clock = clock
        self._mode: PlaceMode = (
            AttributesPlaceMode()
            if scorer is None
            else A2PlaceMode(scorer, selection.table_height_m, guard=guard)
        )

    @property
    def mode(self) -> str:
        return self._mode.name

    def select(self, scene: Scene, request: PlaceRequest) -> RankedPlaces:
        watch = Stopwatch(self._selection.time_budget_s, "place selection", self._clock)
        parsed = parse_place(request.instruction, open_nouns=self._mode.open_nouns)
        workspace = segment_workspace(scene, self._selection, self._segmentation)
        table_m = self._selection.table_height_m
        objects = resting_objects(workspace.objects, workspace.points_m, table_m)
        watch.lap("segmentation")
        if not objects:
            raise SelectionError(
                SelectErrorCode.EMPTY_WORKSPACE,
                f"no object on the table to place {' '.join(parsed.relation.words)}",
            )
        place = PlaceInput(scene, workspace, objects, request, parsed)
        reference, preferred_m = self._mode.choose(place, watch)
        watch.lap("reference")
        region = place_region(parsed.relation, reference, request.held, table_m)
        spots = self._free_spots(place, reference, region)
        if preferred_m is not None and len(spots):  # A2's choice first, then nearest to it
            order = np.argsort(
                np.linalg.norm(spots[:, :2] - preferred_m[:2], axis=1), kind="stable"
            )
            spots = spots[order]
        spots = spots[: self._config.max_place_spots]
        if len(spots) == 0:
            raise SelectionError(
                SelectErrorCode.NO_CANDIDATES,
                f"no free spot {' '.join(parsed.relation.words)} the {reference.description} "
                f"fits the held object ({_size_text(request.held)}) where the cameras see the "
                f"support; others: {_others(objects, reference)}",
            )
        watch.lap("spots")
        releases = release_poses(spots, region, request.held, self._config.release_clearance_m)
        if self._reachability is not None:
            keep = self._reachability(releases, np.zeros(len(releases)))
            if not keep.any():
                raise SelectionError(
                    SelectErrorCode.NO_REACHABLE_CANDIDATE,
                    f"none of the {len(releases)} free spots {' '.join(parsed.relation.words)} "
                    f"the {reference.description} is reachable by the arm",
                )
            releases = releases[keep]
            watch.lap("reachability")
        return RankedPlaces(
            releases=releases[: request.max_candidates],
            region=region,
            relation=parsed.relation,
            reference=ChosenObject(reference, parsed.reference.words, parsed.unknown_words, None),
            timings_ms=watch.finish(),
            mode=self.mode,
        )

    def _free_spots(
        self, place: PlaceInput, reference: SceneObject, region: PlaceRegion
    ) -> FloatArray:
        """Spots in the region where the held object fits among the obstacles, over support the
        cameras see."""
        objects, workspace, request = place.objects, place.workspace, place.request
        obstacles, support_m = objects, workspace.points_m
        moving = _moving_object(objects, request.moving_xy_m)
        if moving is not None and moving is not reference:
            # It will be in the hand: no obstacle, and the table under it is free (the runner
            # refuses a place relative to the object being moved).
            obstacles = tuple(o for o in objects if o is not moving)
            under = workspace.points_m[moving.point_indices].copy()
            under[:, 2] = self._selection.table_height_m
            support_m = np.concatenate([workspace.points_m, under])
        return place_spots(
            region,
            reference,
            obstacles,
            request.held,
            workspace_box_m=place.scene.workspace_box_m,
            support_points_m=support_m,
        )


def _moving_object(
    objects: tuple[SceneObject, ...], moving_xy_m: FloatArray | None
) -> SceneObject | None:
    """The object whose footprint holds the point (objects on a table never stand over each
    other's footprint), the nearest centre among several; None when none does."""
    if moving_xy_m is None:
        return None
    xy = np.asarray(moving_xy_m, dtype=np.float64).reshape(1, 2)
    over = [o for o in objects if o.footprint_distance_m(xy)[0] == 0.0]
    if not over:
        return None
    return min(over, key=lambda o: float(np.linalg.norm(o.centroid_m[:2] - xy[0])))


def _size_text(held: HeldObject) -> str:
    return " x ".join(f"{100 * v:.1f}" for v in held.size_m) + " cm"


def resting_objects(
    objects: tuple[SceneObject, ...], points_m: NDArray[np.floating], table_height_m: float
) -> tuple[SceneObject, ...]:
    """The objects on the table: not one whose lowest points float RESTING_MAX_GAP_M above it,
    which is in the gripper (at the place after /pick; measured: a held block seen 22 cm up
    blocked every spot of 2 of 12 places as an obstacle). Indices are kept."""
    resting = []
    for obj in objects:
        bottom_m = float(np.percentile(points_m[obj.point_indices, 2], 2.0)) - table_height_m
        if bottom_m <= RESTING_MAX_GAP_M:
            resting.append(obj)
    return tuple(resting)


def _others(objects: tuple[SceneObject, ...], reference: SceneObject) -> str:
    return ", ".join(o.description for o in objects if o is not reference) or "none"
