"""Grasp selection: one call from a scene and an instruction to ranked grasps, or a typed refusal.

Stages: crop the cloud to the workspace and remove the table -> generate collision-checked
candidates -> (a2 mode) score them with the language-conditioned policy -> filter by reachability
-> rank. Every failure raises GraspSelectionError with its code; no stage ever substitutes a pose
of its own.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.candidates.base import CandidateGenerator, GraspCandidates
from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.errors import GraspSelectionError, SelectErrorCode
from a2_grasping.core.geometry import crop_to_box
from a2_grasping.core.request import SelectRequest
from a2_grasping.core.scene import CameraView, Scene


class SelectionMode(enum.StrEnum):
    A2 = "a2"
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
    ) -> NDArray[np.float64]:
        """Scores (K,) for the K candidate TCP poses; record stage timings in `timings_ms`."""
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
class RankedGrasps:
    """Candidates sorted best first by `score`; `candidates.quality` is mode-independent."""

    mode: SelectionMode
    candidates: GraspCandidates  # ranked, at most max_candidates
    score: NDArray[np.float64]  # (K,) a2: fusion logits; geometric: equal to quality
    instruction_used: bool
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def selected_index(self) -> int:
        """The policy's choice: the best-scored candidate (-1 when there is none)."""
        return 0 if len(self.score) else -1


class GraspSelector:
    """Runs the stages; holds the generator, the optional scorer and reachability filter."""

    def __init__(
        self,
        generator: CandidateGenerator,
        config: SelectionConfig,
        scorer: GraspScorer | None = None,
        reachability: ReachabilityFilter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock  # injectable, so budget behaviour is testable without real delays
        self._generator = generator
        self._config = config
        self._scorer = scorer
        self._reachability = reachability

    @property
    def mode(self) -> SelectionMode:
        return SelectionMode.A2 if self._scorer is not None else SelectionMode.GEOMETRIC

    def select(self, scene: Scene, request: SelectRequest) -> RankedGrasps:
        started_s = self._clock()
        timings_ms: dict[str, float] = {}

        def lap(stage: str, since_s: float) -> float:
            now_s = self._clock()
            timings_ms[stage] = (now_s - since_s) * 1e3
            if now_s - started_s > self._config.time_budget_s:
                raise GraspSelectionError(
                    SelectErrorCode.TIMEOUT,
                    f"selection exceeded its {self._config.time_budget_s:.2f} s budget "
                    f"after stage '{stage}'",
                )
            return now_s

        try:
            views = scene.view_subset(request.camera_names)
        except KeyError as error:
            raise GraspSelectionError(SelectErrorCode.INVALID_REQUEST, str(error.args[0])) from None
        object_points = workspace_object_points(scene, self._config)
        stage_s = lap("prepare", started_s)

        candidates = self._generator.generate(
            object_points, self._config.table_height_m, np.random.default_rng(self._config.seed)
        )
        if len(candidates.quality) == 0:
            raise GraspSelectionError(
                SelectErrorCode.NO_CANDIDATES,
                f"no collision-free grasp found on {len(object_points)} object points",
            )
        stage_s = lap("candidates", stage_s)

        if self._scorer is not None:
            score = self._scorer.score(
                object_points, views, candidates.tcp_poses, request.instruction, timings_ms
            )
            stage_s = lap("scoring", stage_s)
        else:
            score = candidates.quality.astype(np.float64)

        keep = np.ones(len(score), dtype=bool)
        if self._reachability is not None:
            keep = self._reachability(candidates.tcp_poses, candidates.width_m)
            if not keep.any():
                raise GraspSelectionError(
                    SelectErrorCode.NO_REACHABLE_CANDIDATE,
                    f"none of the {len(keep)} candidates is reachable by the arm",
                )
            stage_s = lap("reachability", stage_s)

        order = _ranking(score, keep, len(candidates), request.max_candidates)
        timings_ms["total"] = (self._clock() - started_s) * 1e3
        return RankedGrasps(
            mode=self.mode,
            candidates=candidates.take(order),
            score=score[order],
            instruction_used=self._scorer is not None,
            timings_ms=timings_ms,
        )


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


def _ranking(
    score: NDArray[np.float64], keep: NDArray[np.bool_], count: int, max_candidates: int
) -> NDArray[np.intp]:
    """Indices of the kept candidates, best score first, at most `max_candidates`."""
    if score.shape != (count,) or not np.all(np.isfinite(score)):
        raise GraspSelectionError(
            SelectErrorCode.INTERNAL,
            f"scorer returned {score.shape} scores (all finite: {bool(np.all(np.isfinite(score)))})"
            f" for {count} candidates",
        )
    kept = np.flatnonzero(keep)
    # Stable sort on -score: equal scores keep the generator's (quality) order.
    order: NDArray[np.intp] = kept[np.argsort(-score[kept], kind="stable")][:max_candidates]
    return order
