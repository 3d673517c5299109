"""Grasp selection: one call from a scene and an instruction to ranked grasps, or a typed refusal.

Stages: crop the cloud to the workspace -> segment it into objects -> (attributes mode) ground
the instruction to the named object(s) -> generate collision-checked candidates (on the named
object only, in attributes mode) -> (a2 mode) score them with the language-conditioned policy ->
filter by reachability -> rank -> report the object the best grasp closes on. Every failure
raises SelectionError with its code; no stage ever substitutes a pose or a target of its own.

Modes: `a2` (fusion network scores, the published weights), `attributes` (no weights: the
instruction is grounded to objects by colour, shape, size and position words, see grounding.py),
`geometric` (the instruction is not used: the best antipodal grasp anywhere; also what attributes
mode answers to a generic request such as "pick anything").
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from a2_grasping.core.candidates.base import CandidateGenerator, GraspCandidates, ObjectPrior
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.geometry import crop_to_box
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.common import (
    ChosenObject,
    PoseScorer,
    ReachabilityFilter,
    SelectionConfig,
    Stopwatch,
    segment_workspace,
)
from a2_grasping.core.selection.grounding import ground, parse_instruction
from a2_grasping.core.selection.objects import SceneObject, SegmentationConfig
from a2_grasping.core.selection.request import SelectRequest

# A candidate closes on an object when at least this share of the cloud points between its pads
# belongs to that object (the rest: a neighbour's edge, flying pixels).
OBJECT_SHARE_BETWEEN_PADS = 0.6


class SelectionMode(enum.StrEnum):
    A2 = "a2"
    ATTRIBUTES = "attributes"
    GEOMETRIC = "geometric"


@dataclass(frozen=True)
class RankedGrasps:
    """Candidates sorted best first by `score`; `candidates.quality` is mode-independent."""

    mode: SelectionMode
    candidates: GraspCandidates  # ranked, at most max_candidates
    score: NDArray[np.float64]  # (K,) a2: fusion logits; geometric: equal to quality
    instruction_used: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    target: ChosenObject | None = None  # None: the best grasp closes on no segmented object
    objects: tuple[SceneObject, ...] = ()  # everything segmented in the workspace

    @property
    def selected_index(self) -> int:
        """The policy's choice: the best-scored candidate (-1 when there is none)."""
        return 0 if len(self.score) else -1


@dataclass(frozen=True)
class NamedObjects:
    """What an instruction names among the segmented objects, and in which mode it is answered."""

    mode: SelectionMode
    targets: tuple[SceneObject, ...] = ()  # empty: no restriction
    matched_words: tuple[str, ...] = ()
    unknown_words: tuple[str, ...] = ()
    reference: SceneObject | None = None


@dataclass(frozen=True)
class ScoringInput:
    """What a mode may score candidates on."""

    candidates: GraspCandidates
    object_points_m: NDArray[np.float64]
    views: tuple[CameraView, ...]
    instruction: str


class GraspMode(Protocol):
    """How one selection mode names objects and scores candidates: chosen once, when the
    selector is built (at configure), never per request."""

    mode: SelectionMode
    grounds: bool  # parses and grounds the instruction (a 'grounding' stage)

    def name_objects(
        self, instruction: str, objects: tuple[SceneObject, ...], point_count: int
    ) -> NamedObjects: ...

    def priors_from(
        self, named: NamedObjects, objects: tuple[SceneObject, ...]
    ) -> tuple[SceneObject, ...]:
        """The objects whose shape the candidate generator samples around (empty: none)."""
        ...

    def score(self, scoring: ScoringInput, watch: Stopwatch) -> NDArray[np.float64]: ...


class GeometricMode:
    """The instruction is not used: the best antipodal grasp anywhere."""

    mode = SelectionMode.GEOMETRIC
    grounds = False

    def name_objects(
        self, instruction: str, objects: tuple[SceneObject, ...], point_count: int
    ) -> NamedObjects:
        return NamedObjects(self.mode)

    def priors_from(
        self, named: NamedObjects, objects: tuple[SceneObject, ...]
    ) -> tuple[SceneObject, ...]:
        return objects

    def score(self, scoring: ScoringInput, watch: Stopwatch) -> NDArray[np.float64]:
        return scoring.candidates.quality.astype(np.float64)


class AttributesMode(GeometricMode):
    """No weights: the instruction is grounded to objects by colour, shape, size and position
    words; a generic request ("pick anything") is answered geometric."""

    mode = SelectionMode.ATTRIBUTES
    grounds = True

    def name_objects(
        self, instruction: str, objects: tuple[SceneObject, ...], point_count: int
    ) -> NamedObjects:
        return _grounded(instruction, objects, point_count, self.mode, open_nouns=False)

    def priors_from(
        self, named: NamedObjects, objects: tuple[SceneObject, ...]
    ) -> tuple[SceneObject, ...]:
        return named.targets or objects


class A2Mode:
    """The fusion network scores the candidates. Guarded (ground_instructions), the words the
    parser understands restrict A2 to the objects they fit, with attributes mode's refusals; an
    object noun grounding does not know ("the banana") restricts nothing: A2 decides alone, and
    `matched_words` say which words were checked."""

    mode = SelectionMode.A2

    def __init__(self, scorer: PoseScorer, *, guard: bool) -> None:
        self._scorer = scorer
        self.grounds = guard

    def name_objects(
        self, instruction: str, objects: tuple[SceneObject, ...], point_count: int
    ) -> NamedObjects:
        if not self.grounds:
            return NamedObjects(self.mode)
        return _grounded(instruction, objects, point_count, self.mode, open_nouns=True)

    def priors_from(
        self, named: NamedObjects, objects: tuple[SceneObject, ...]
    ) -> tuple[SceneObject, ...]:
        # A2 scores whatever candidates it gets; once grounding named the objects, they are
        # sampled as in attributes mode (targets only: the others would be dropped anyway).
        return named.targets

    def score(self, scoring: ScoringInput, watch: Stopwatch) -> NDArray[np.float64]:
        return self._scorer.score(
            scoring.object_points_m,
            scoring.views,
            scoring.candidates.tcp_poses,
            scoring.instruction,
            watch.timings_ms,
            check_budget=lambda: watch.check("during stage 'scoring'"),
        )


def grasp_mode(scorer: PoseScorer | None, *, ground_instructions: bool) -> GraspMode:
    """The mode a configuration asks for: a2 with a scorer (guarded by grounding when
    ground_instructions), else attributes with grounding, else geometric."""
    if scorer is not None:
        return A2Mode(scorer, guard=ground_instructions)
    return AttributesMode() if ground_instructions else GeometricMode()


def _grounded(
    instruction: str,
    objects: tuple[SceneObject, ...],
    point_count: int,
    mode: SelectionMode,
    *,
    open_nouns: bool,
) -> NamedObjects:
    """The objects the instruction's words fit; a generic request names none (attributes mode
    then answers geometric)."""
    parsed = parse_instruction(instruction, open_nouns=open_nouns)
    words = (parsed.matched_words, parsed.unknown_words)
    if parsed.generic:
        generic_mode = SelectionMode.GEOMETRIC if mode is SelectionMode.ATTRIBUTES else mode
        return NamedObjects(generic_mode, (), *words)
    if not objects:
        raise SelectionError(
            SelectErrorCode.TARGET_NOT_FOUND,
            f"no {parsed.target.summary()}: no object could be segmented from the "
            f"{point_count} points above the table",
        )
    grounding = ground(parsed, objects)
    return NamedObjects(mode, grounding.targets, *words, grounding.reference)


class GraspSelector:
    """Runs the stages; holds the generator, the mode and the reachability filter.

    Implements Selector[SelectRequest, RankedGrasps].
    """

    def __init__(
        self,
        generator: CandidateGenerator,
        config: SelectionConfig,
        scorer: PoseScorer | None = None,
        reachability: ReachabilityFilter | None = None,
        clock: Callable[[], float] = time.perf_counter,
        *,
        ground_instructions: bool = False,
        segmentation: SegmentationConfig | None = None,
        gripper: GripperGeometry | None = None,
    ) -> None:
        self._clock = clock  # injectable, so budget behaviour is testable without real delays
        self._generator = generator
        self._config = config
        self._mode = grasp_mode(scorer, ground_instructions=ground_instructions)
        self._reachability = reachability
        self._segmentation = segmentation or SegmentationConfig()
        self._gripper = gripper or GripperGeometry()

    @property
    def mode(self) -> SelectionMode:
        """The configured mode; a generic request in attributes mode is answered geometric."""
        return self._mode.mode

    def select(self, scene: Scene, request: SelectRequest) -> RankedGrasps:
        watch = Stopwatch(self._config.time_budget_s, "selection", self._clock)
        try:
            views = scene.view_subset(request.camera_names)
        except KeyError as error:
            raise SelectionError(SelectErrorCode.INVALID_REQUEST, str(error.args[0])) from None
        object_points = workspace_object_points(scene, self._config)
        watch.lap("prepare")
        workspace = segment_workspace(scene, self._config, self._segmentation)
        objects = workspace.objects
        watch.lap("segmentation")

        named = self._mode.name_objects(request.instruction, objects, len(object_points))
        if self._mode.grounds:
            watch.lap("grounding")
        targets = named.targets
        if targets:
            object_points = object_points[self._within_reach_of(object_points, targets)]
        candidates, on_object = self._candidates(object_points, workspace.points_m, named, objects)
        watch.lap("candidates")

        score = self._mode.score(
            ScoringInput(candidates, object_points, views, request.instruction), watch
        )
        if self._mode.mode is SelectionMode.A2:
            watch.lap("scoring")
        order = _ranking(score, len(candidates))
        if self._reachability is not None:
            order = self._first_reachable(order, candidates, request.max_candidates)
            watch.lap("reachability")
        else:
            order = order[: request.max_candidates]
        best_object = on_object[int(order[0])] if len(order) else -1
        target = (
            ChosenObject(
                objects[best_object], named.matched_words, named.unknown_words, named.reference
            )
            if best_object >= 0
            else None
        )
        return RankedGrasps(
            mode=named.mode,
            candidates=candidates.take(order),
            score=score[order],
            instruction_used=named.mode in (SelectionMode.A2, SelectionMode.ATTRIBUTES),
            timings_ms=watch.finish(),
            target=target,
            objects=objects,
        )

    def _candidates(
        self,
        object_points: NDArray[np.float64],
        workspace_points: NDArray[np.float64],
        named: NamedObjects,
        objects: tuple[SceneObject, ...],
    ) -> tuple[GraspCandidates, list[int]]:
        """Collision-checked candidates and, per candidate, the object it closes on; once
        grounding named targets, only candidates that close on one of them."""
        targets = named.targets
        focus = (
            workspace_points[np.concatenate([t.point_indices for t in targets])]
            if targets
            else None
        )
        candidates = self._generator.generate(
            object_points,
            self._config.table_height_m,
            np.random.default_rng(self._config.seed),
            focus_points_xyz=focus,
            priors=tuple(_prior(o) for o in self._mode.priors_from(named, objects)),
        )
        on_object = _objects_between_pads(
            candidates, workspace_points, objects, self._gripper, self._config.table_height_m
        )
        if targets:  # grounded: a grasp that would close on anything else is dropped
            wanted = {t.index for t in targets}
            keep_on_target = np.array([index in wanted for index in on_object], dtype=bool)
            candidates = candidates.take(np.flatnonzero(keep_on_target))
            on_object = [i for i, keep in zip(on_object, keep_on_target, strict=True) if keep]
        if len(candidates.quality) == 0:
            where = (
                " on the " + " or the ".join(t.description for t in targets)
                if targets
                else f" on {len(object_points)} object points"
            )
            raise SelectionError(
                SelectErrorCode.NO_CANDIDATES, f"no collision-free grasp found{where}"
            )
        return candidates, on_object

    def _first_reachable(
        self, order: NDArray[np.intp], candidates: GraspCandidates, wanted: int
    ) -> NDArray[np.intp]:
        """The first `wanted` reachable candidates of `order` (best first).

        IK (two solves per candidate, about 80 us) runs only as far down the ranking as needed:
        testing all 70-150 candidates of a clutter scene cost 8 ms, most of it on grasps that
        could never be returned.
        """
        assert self._reachability is not None
        chosen: list[NDArray[np.intp]] = []
        found = 0
        step = max(wanted, 1)
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            keep = self._reachability(candidates.tcp_poses[chunk], candidates.width_m[chunk])
            chosen.append(chunk[keep])
            found += int(keep.sum())
            if found >= wanted:
                break
        if found == 0:
            raise SelectionError(
                SelectErrorCode.NO_REACHABLE_CANDIDATE,
                f"none of the {len(order)} candidates is reachable by the arm",
            )
        return np.concatenate(chosen)[:wanted]

    def _within_reach_of(
        self, points_m: NDArray[np.float64], targets: tuple[SceneObject, ...]
    ) -> NDArray[np.bool_]:
        """Points a gripper closing on one of the targets could touch: within the gripper's
        farthest collision-box corner (plus 3 cm for margins and the clearance score) of the
        target's bounding sphere. Dropping the rest changes no collision check and no
        clearance, and in dense clutter it saves most of the candidate stage."""
        reach_m = float(np.linalg.norm(self._gripper.collision_boxes().corners(), axis=1).max())
        keep = np.zeros(len(points_m), dtype=bool)
        for target in targets:
            radius_m = 0.5 * float(np.linalg.norm(target.extents_m)) + reach_m + 0.03
            keep |= np.linalg.norm(points_m - target.centroid_m, axis=1) <= radius_m
        return keep


def workspace_object_points(scene: Scene, config: SelectionConfig) -> NDArray[np.float64]:
    """Workspace points above the table: what grasps may touch.

    Raises:
        SelectionError: EMPTY_WORKSPACE when too few remain.
    """
    points = scene.points_xyz
    inside = crop_to_box(points, scene.workspace_box_m)
    above = points[:, 2] > config.table_height_m + config.table_margin_m
    selected = points[inside & above].astype(np.float64)
    if len(selected) < config.min_object_points:
        raise SelectionError(
            SelectErrorCode.EMPTY_WORKSPACE,
            f"{len(selected)} points above the table inside the workspace "
            f"(at least {config.min_object_points} needed); is anything on the table?",
        )
    return selected


def _ranking(score: NDArray[np.float64], count: int) -> NDArray[np.intp]:
    """Candidate indices, best score first."""
    if score.shape != (count,) or not np.all(np.isfinite(score)):
        raise SelectionError(
            SelectErrorCode.INTERNAL,
            f"scorer returned {score.shape} scores (all finite: {bool(np.all(np.isfinite(score)))})"
            f" for {count} candidates",
        )
    # Stable sort on -score: equal scores keep the generator's (quality) order.
    order: NDArray[np.intp] = np.argsort(-score, kind="stable")
    return order


def _objects_between_pads(
    candidates: GraspCandidates,
    points_m: NDArray[np.float64],
    objects: tuple[SceneObject, ...],
    gripper: GripperGeometry,
    table_height_m: float,
) -> list[int]:
    """Per candidate, the index of the object it closes on, or -1.

    The points in the closing volume (between the pads at the candidate's opening, from the
    palm face to the fingertips, above the table) are counted per object; an object owning at
    least OBJECT_SHARE_BETWEEN_PADS of them is the one the fingers close on.
    """
    count = len(candidates.width_m)
    if count == 0:
        return []
    labels = np.full(len(points_m), -1, dtype=np.int64)
    for obj in objects:
        labels[obj.point_indices] = obj.index
    above = np.flatnonzero(points_m[:, 2] > table_height_m + 0.002)
    if len(above) == 0:
        return [-1] * count
    points_above, labels_above = points_m[above], labels[above]
    # All candidates at once: one k-d tree query each within the sphere around its closing
    # volume, then every (candidate, point) pair tested in one pass. A full-cloud distance per
    # candidate cost 190 ms per selection in 15-object scenes (65k points, 70-150 candidates);
    # this costs 13-19 ms (AMD EPYC Zen 3).
    poses = candidates.tcp_poses
    widths_m = np.asarray(candidates.width_m, dtype=np.float64)
    depth_m = gripper.fingertip_z_m - gripper.palm_face_z_m
    centres = poses[:, :3, 3] + poses[:, :3, 2] * (gripper.palm_face_z_m + 0.5 * depth_m)
    half_gap_m = 0.5 * widths_m + 0.005
    radii = np.sqrt((0.5 * gripper.finger_pad_width_m) ** 2 + half_gap_m**2 + (0.5 * depth_m) ** 2)
    neighbourhoods = cKDTree(points_above).query_ball_point(centres, radii + 1e-6)
    sizes = np.array([len(n) for n in neighbourhoods], dtype=np.intp)
    owner_of_pair = np.repeat(np.arange(count), sizes)
    point_of_pair = (
        np.concatenate([np.asarray(n, dtype=np.intp) for n in neighbourhoods])
        if sizes.sum()
        else np.zeros(0, dtype=np.intp)
    )
    # R^T (p - t), one matmul per candidate over its contiguous run of pairs: an einsum over
    # per-pair gathered rotations cost 10-15 ms for the 50-90k pairs of a 15-object scene.
    local = np.empty((len(point_of_pair), 3))
    ends = np.cumsum(sizes)
    for candidate, (start, end) in enumerate(zip(ends - sizes, ends, strict=True)):
        pose = poses[candidate]
        local[start:end] = (points_above[point_of_pair[start:end]] - pose[:3, 3]) @ pose[:3, :3]
    between = (
        (np.abs(local[:, 0]) <= 0.5 * gripper.finger_pad_width_m)
        & (np.abs(local[:, 1]) <= half_gap_m[owner_of_pair])
        & (local[:, 2] >= gripper.palm_face_z_m)
        & (local[:, 2] <= gripper.fingertip_z_m)
    )
    bins = len(objects) + 1  # bin 0: points of no object
    counts = np.bincount(
        owner_of_pair[between] * bins + labels_above[point_of_pair[between]] + 1,
        minlength=count * bins,
    ).reshape(count, bins)
    inside = counts.sum(axis=1)
    best = np.argmax(counts[:, 1:], axis=1) if len(objects) else np.zeros(count, np.intp)
    best_count = counts[np.arange(count), best + 1] if len(objects) else np.zeros(count)
    share = best_count / np.maximum(inside, 1)
    owned = (inside > 0) & (share >= OBJECT_SHARE_BETWEEN_PADS)
    return [int(b) if o else -1 for b, o in zip(best, owned, strict=True)]


def _prior(obj: SceneObject) -> ObjectPrior:
    return ObjectPrior(obj.base_from_box(), obj.extents_m, obj.shape.value)
