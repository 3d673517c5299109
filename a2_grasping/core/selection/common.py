"""What grasp and place selection share: the Selector shape, the prelude (the workspace cropped
and segmented), the per-stage budget, the configuration, and the object a selection chose."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.geometry import crop_to_box
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.objects import SceneObject, SegmentationConfig, segment_objects

FloatArray = NDArray[np.float64]
RequestT_contra = TypeVar("RequestT_contra", contravariant=True)
ResultT_co = TypeVar("ResultT_co", covariant=True)


class Selector(Protocol[RequestT_contra, ResultT_co]):
    """One selection task: a scene and a request to a ranked result, or a SelectionError."""

    def select(self, scene: Scene, request: RequestT_contra) -> ResultT_co: ...


class PoseScorer(Protocol):
    """Language-conditioned scoring of candidate poses (the A2 policy; grasps and places are
    scored by the same fusion network); higher scores are better."""

    def score(
        self,
        object_points_xyz: FloatArray,
        views: tuple[CameraView, ...],
        base_from_tcp: FloatArray,
        instruction: str,
        timings_ms: dict[str, float],
        *,
        check_budget: Callable[[], None],
    ) -> FloatArray:
        """Scores (K,) for the K candidate TCP poses; record stage timings in `timings_ms`.

        Call `check_budget` between long steps (it raises TIMEOUT once the selection is over its
        budget), so a slow scorer overruns the budget by at most one step.
        """
        ...


# Mask (K,) of candidates the arm can reach collision-free; supplied by the executor's kinematics.
ReachabilityFilter = Callable[[FloatArray, FloatArray], NDArray[np.bool_]]


@dataclass(frozen=True)
class SelectionConfig:
    """How a scene is prepared for selection and when selection gives up."""

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
class ChosenObject:
    """The object a selection chose (the grasp closes on it, a place is relative to it) and how
    the instruction named it."""

    object: SceneObject
    matched_words: tuple[str, ...] = ()  # instruction words grounding used
    unknown_words: tuple[str, ...] = ()  # words it did not understand (ignored)
    reference: SceneObject | None = None  # the object a relation ("next to ...") referred to


class Stopwatch:
    """Stage timings of one selection and its budget: TIMEOUT once the budget is spent."""

    def __init__(
        self, budget_s: float, task: str, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self._clock = clock
        self._budget_s = budget_s
        self._task = task
        self.started_s = clock()
        self._stage_started_s = self.started_s
        self.timings_ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Record `stage` as the time since the last lap; refuse if over budget."""
        now_s = self._clock()
        self.timings_ms[stage] = (now_s - self._stage_started_s) * 1e3
        self._stage_started_s = now_s
        self._refuse_if_over(now_s, f"after stage '{stage}'")

    def check(self, where: str) -> None:
        """The budget check inside a long stage (between CLIP tiles)."""
        self._refuse_if_over(self._clock(), where)

    def finish(self) -> dict[str, float]:
        """The timings with the total."""
        self.timings_ms["total"] = (self._clock() - self.started_s) * 1e3
        return self.timings_ms

    def _refuse_if_over(self, now_s: float, where: str) -> None:
        if now_s - self.started_s > self._budget_s:
            raise SelectionError(
                SelectErrorCode.TIMEOUT,
                f"{self._task} exceeded its {self._budget_s:.2f} s budget {where}",
            )


@dataclass(frozen=True)
class Workspace:
    """The scene inside the workspace box: its points (the table kept) and the objects on it
    (their point_indices index `points_m`)."""

    points_m: FloatArray
    colors_rgb: NDArray[np.uint8]
    objects: tuple[SceneObject, ...]


def segment_workspace(
    scene: Scene, config: SelectionConfig, segmentation: SegmentationConfig
) -> Workspace:
    """The prelude of every selection: crop to the workspace box, segment the objects."""
    inside = crop_to_box(scene.points_xyz, scene.workspace_box_m)
    points_m = scene.points_xyz[inside].astype(np.float64)
    colors_rgb = scene.colors_rgb[inside]
    objects = segment_objects(
        points_m, colors_rgb, config.table_height_m, config.table_margin_m, segmentation
    )
    return Workspace(points_m, colors_rgb, objects)
