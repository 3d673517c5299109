"""Grasp selection: one call from a scene and an instruction to ranked grasps, or a typed refusal.

Stages: crop the cloud to the workspace -> segment it into objects -> (attributes mode) ground
the instruction to the named object(s) -> generate collision-checked candidates (on the named
object only, in attributes mode) -> (a2 mode) score them with the language-conditioned policy ->
filter by reachability -> rank -> report the object the best grasp closes on. Every failure
raises GraspSelectionError with its code; no stage ever substitutes a pose or a target of its own.

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
from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.errors import GraspSelectionError, SelectErrorCode
from a2_grasping.core.geometry import crop_to_box
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.grounding import ground, parse_instruction
from a2_grasping.core.selection.objects import SceneObject, SegmentationConfig, segment_objects
from a2_grasping.core.selection.request import SelectRequest

# A candidate closes on an object when at least this share of the cloud points between its pads
# belongs to that object (the rest: a neighbour's edge, flying pixels).
OBJECT_SHARE_BETWEEN_PADS = 0.6


class SelectionMode(enum.StrEnum):
    A2 = "a2"
    ATTRIBUTES = "attributes"
    GEOMETRIC = "geometric"


class GraspScorer(Protocol):
    """Language-conditioned scoring of candidates (the A2 policy); higher scores are better."""

    def score(
        self,
        object_points_xyz: NDArray[np.float64],
        views: tuple[CameraView, ...],
        base_from_tcp: NDArray[np.float64],
        instruction: str,
        timings_ms: dict[str, float],
        *,
        check_budget: Callable[[], None],
    ) -> NDArray[np.float64]:
        """Scores (K,) for the K candidate TCP poses; record stage timings in `timings_ms`.

        Call `check_budget` between long steps (it raises TIMEOUT once the selection is over its
        budget), so a slow scorer overruns the budget by at most one step.
        """
        ...


# Mask (K,) of candidates the arm can reach collision-free; supplied by the executor's kinematics.
ReachabilityFilter = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.bool_]]


@dataclass(frozen=True)
class SelectionConfig:
    """How a scene is prepared for candidate generation and when selection gives up."""

    table_height_m: float = config_field(
        0.0,
        "Height of the table top in the base frame (m); points at or below it are the table.",
        min_value=-2.0,
        max_value=2.0,
    )
    table_margin_m: float = config_field(
        0.003,
        "Points less than this above the table count as table (depth noise), m.",
        min_value=0.0,
        max_value=0.05,
    )
    min_object_points: int = config_field(
        30,
        "Fewer points than this above the table inside the workspace is an empty workspace.",
        min_value=1,
        max_value=100_000,
    )
    time_budget_s: float = config_field(
        10.0,
        "Selection that has not finished within this many seconds is refused with TIMEOUT.",
        min_value=0.01,
        max_value=600.0,
    )
    seed: int = config_field(
        0, "Seed of the candidate sampler: the same scene gives the same grasps.", min_value=0
    )

    def __post_init__(self) -> None:
        validate_ranges(self)


@dataclass(frozen=True)
class GraspTarget:
    """The object the selected grasp closes on, and how the instruction named it."""

    object: SceneObject
    matched_words: tuple[str, ...] = ()  # instruction words grounding used
    unknown_words: tuple[str, ...] = ()  # words it did not understand (ignored)
    reference: SceneObject | None = None  # the object a relation ("next to ...") referred to


@dataclass(frozen=True)
class RankedGrasps:
    """Candidates sorted best first by `score`; `candidates.quality` is mode-independent."""

    mode: SelectionMode
    candidates: GraspCandidates  # ranked, at most max_candidates
    score: NDArray[np.float64]  # (K,) a2: fusion logits; geometric: equal to quality
    instruction_used: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    target: GraspTarget | None = None  # None: the best grasp closes on no segmented object
    objects: tuple[SceneObject, ...] = ()  # everything segmented in the workspace

    @property
    def selected_index(self) -> int:
        """The policy's choice: the best-scored candidate (-1 when there is none)."""
        return 0 if len(self.score) else -1


class _Stopwatch:
    """Stage timings of one selection and its budget: TIMEOUT once the budget is spent."""

    def __init__(self, clock: Callable[[], float], budget_s: float) -> None:
        self._clock = clock
        self._budget_s = budget_s
        self.started_s = clock()
        self.timings_ms: dict[str, float] = {}

    def lap(self, stage: str, since_s: float) -> float:
        """Record `stage` as the time since `since_s`; refuse if over budget. Returns now."""
        now_s = self._clock()
        self.timings_ms[stage] = (now_s - since_s) * 1e3
        self._refuse_if_over(now_s, f"after stage '{stage}'")
        return now_s

    def check(self, where: str) -> None:
        """The budget check inside a long stage (between CLIP tiles)."""
        self._refuse_if_over(self._clock(), where)

    def _refuse_if_over(self, now_s: float, where: str) -> None:
        if now_s - self.started_s > self._budget_s:
            raise GraspSelectionError(
                SelectErrorCode.TIMEOUT,
                f"selection exceeded its {self._budget_s:.2f} s budget {where}",
            )


class GraspSelector:
    """Runs the stages; holds the generator, the optional scorer and reachability filter."""

    def __init__(
        self,
        generator: CandidateGenerator,
        config: SelectionConfig,
        scorer: GraspScorer | None = None,
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
        self._scorer = scorer
        self._reachability = reachability
        self._ground = ground_instructions and scorer is None
        # A2 guarded by grounding: the words the parser understands restrict A2 to the objects
        # they fit (the same refusals as attributes mode); A2 ranks among those alone.
        self._guard_a2 = ground_instructions and scorer is not None
        self._segmentation = segmentation or SegmentationConfig()
        self._gripper = gripper or GripperGeometry()

    @property
    def mode(self) -> SelectionMode:
        """The configured mode; a generic request in attributes mode is answered geometric."""
        if self._scorer is not None:
            return SelectionMode.A2
        return SelectionMode.ATTRIBUTES if self._ground else SelectionMode.GEOMETRIC

    def select(self, scene: Scene, request: SelectRequest) -> RankedGrasps:
        watch = _Stopwatch(self._clock, self._config.time_budget_s)
        timings_ms = watch.timings_ms
        lap = watch.lap
        started_s = watch.started_s

        try:
            views = scene.view_subset(request.camera_names)
        except KeyError as error:
            raise GraspSelectionError(SelectErrorCode.INVALID_REQUEST, str(error.args[0])) from None
        object_points = workspace_object_points(scene, self._config)
        workspace = crop_to_box(scene.points_xyz, scene.workspace_box_m)
        workspace_points = scene.points_xyz[workspace].astype(np.float64)
        stage_s = lap("prepare", started_s)

        objects = segment_objects(
            workspace_points,
            scene.colors_rgb[workspace],
            self._config.table_height_m,
            self._config.table_margin_m,
            self._segmentation,
        )
        stage_s = lap("segmentation", stage_s)

        named = self._named_objects(request.instruction, objects, len(object_points))
        if self.mode is SelectionMode.ATTRIBUTES or self._guard_a2:
            stage_s = lap("grounding", stage_s)
        mode, targets = named.mode, named.targets
        focus = (
            workspace_points[np.concatenate([t.point_indices for t in targets])]
            if targets
            else None
        )

        if targets:
            object_points = object_points[self._within_reach_of(object_points, targets)]
        candidates = self._generator.generate(
            object_points,
            self._config.table_height_m,
            np.random.default_rng(self._config.seed),
            focus_points_xyz=focus,
            # A2 scores whatever candidates it gets; once grounding named the objects, they are
            # sampled as in attributes mode (targets only: the others would be dropped anyway).
            priors=tuple(_prior(o) for o in (targets or objects))
            if mode is not SelectionMode.A2 or targets
            else (),
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
            raise GraspSelectionError(
                SelectErrorCode.NO_CANDIDATES, f"no collision-free grasp found{where}"
            )
        stage_s = lap("candidates", stage_s)

        if self._scorer is not None:
            score = self._scorer.score(
                object_points,
                views,
                candidates.tcp_poses,
                request.instruction,
                timings_ms,
                check_budget=lambda: watch.check("during stage 'scoring'"),
            )
            stage_s = lap("scoring", stage_s)
        else:
            score = candidates.quality.astype(np.float64)

        order = _ranking(score, len(candidates))
        if self._reachability is not None:
            order = self._first_reachable(order, candidates, request.max_candidates)
            stage_s = lap("reachability", stage_s)
        else:
            order = order[: request.max_candidates]
        best_object = on_object[int(order[0])] if len(order) else -1
        target = (
            GraspTarget(
                objects[best_object], named.matched_words, named.unknown_words, named.reference
            )
            if best_object >= 0
            else None
        )
        timings_ms["total"] = (self._clock() - started_s) * 1e3
        return RankedGrasps(
            mode=mode,
            candidates=candidates.take(order),
            score=score[order],
            instruction_used=mode in (SelectionMode.A2, SelectionMode.ATTRIBUTES),
            timings_ms=timings_ms,
            target=target,
            objects=objects,
        )

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
            raise GraspSelectionError(
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

    def _named_objects(
        self, instruction: str, objects: tuple[SceneObject, ...], point_count: int
    ) -> _NamedObjects:
        """What the instruction names: attributes mode, and a2 mode guarded by grounding (an
        object noun grounding does not know, "the banana", restricts nothing: A2 decides alone,
        and `matched_words` say which words were checked); nothing in geometric mode."""
        guarded = self.mode is SelectionMode.A2 and self._guard_a2
        if self.mode is not SelectionMode.ATTRIBUTES and not guarded:
            return _NamedObjects(self.mode)
        parsed = parse_instruction(instruction, open_nouns=guarded)
        words = (parsed.matched_words, parsed.unknown_words)
        if parsed.generic:
            mode = SelectionMode.A2 if guarded else SelectionMode.GEOMETRIC
            return _NamedObjects(mode, (), *words)
        if not objects:
            raise GraspSelectionError(
                SelectErrorCode.TARGET_NOT_FOUND,
                f"no {parsed.target.summary()}: no object could be segmented from the "
                f"{point_count} points above the table",
            )
        grounding = ground(parsed, objects)
        return _NamedObjects(self.mode, grounding.targets, *words, grounding.reference)


@dataclass(frozen=True)
class _NamedObjects:
    mode: SelectionMode
    targets: tuple[SceneObject, ...] = ()  # empty: no restriction
    matched_words: tuple[str, ...] = ()
    unknown_words: tuple[str, ...] = ()
    reference: SceneObject | None = None


def workspace_object_points(scene: Scene, config: SelectionConfig) -> NDArray[np.float64]:
    """Workspace points above the table: what grasps may touch.

    Raises:
        GraspSelectionError: EMPTY_WORKSPACE when too few remain.
    """
    points = scene.points_xyz
    inside = crop_to_box(points, scene.workspace_box_m)
    above = points[:, 2] > config.table_height_m + config.table_margin_m
    selected = points[inside & above].astype(np.float64)
    if len(selected) < config.min_object_points:
        raise GraspSelectionError(
            SelectErrorCode.EMPTY_WORKSPACE,
            f"{len(selected)} points above the table inside the workspace "
            f"(at least {config.min_object_points} needed); is anything on the table?",
        )
    return selected


def _ranking(score: NDArray[np.float64], count: int) -> NDArray[np.intp]:
    """Candidate indices, best score first."""
    if score.shape != (count,) or not np.all(np.isfinite(score)):
        raise GraspSelectionError(
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
