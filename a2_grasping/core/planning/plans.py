"""Plans as ordered named segments, and the one loop that plans the first feasible candidate.

A pick plan is transit -> approach -> lift -> retreat; a place plan is transit -> descend ->
ascend -> retreat; a pick-and-place plan is the pick without its retreat followed by the place.
Task code runs segments by name and puts the gripper steps between them, so every backend
(embedded, moveit_py) only has to produce the segments of one candidate; `plan_first` does the
rest the same way for all of them: a free start, ranked candidates tried in order under a
deadline, failures counted and reported with one code.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.planning.paths import TimedPath

FloatArray = NDArray[np.float64]


class PlanFailure(enum.Enum):
    NO_REACHABLE_CANDIDATE = "no_reachable_candidate"  # no candidate has IK + free straight lines
    PLANNING_FAILED = "planning_failed"  # reachable, but no transit found in time
    START_IN_COLLISION = "start_in_collision"


class PlanningError(Exception):
    def __init__(self, failure: PlanFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


@dataclass(frozen=True)
class Segment:
    name: str
    path: TimedPath


@dataclass(frozen=True)
class TaskPlan:
    """Motion segments in execution order for the candidate at `chosen_index`."""

    chosen_index: int
    segments: tuple[Segment, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def segment(self, name: str) -> TimedPath:
        for segment in self.segments:
            if segment.name == name:
                return segment.path
        raise KeyError(f"the plan has no '{name}' segment (it has {self.names})")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(segment.name for segment in self.segments)

    def then(self, other: TaskPlan) -> TaskPlan:
        """This plan followed by `other` (which must start where this one ends)."""
        timings = {**self.timings_ms, **{f"then_{k}": v for k, v in other.timings_ms.items()}}
        return TaskPlan(self.chosen_index, self.segments + other.segments, timings)

    def joined(self) -> TimedPath:
        """All segments back to back, as one path (for display: gripper pauses left out)."""
        offsets = np.cumsum([0.0] + [s.path.duration_s for s in self.segments[:-1]])
        times = np.concatenate(
            [s.path.times_s + o for s, o in zip(self.segments, offsets, strict=True)]
        )
        keep = np.r_[True, np.diff(times) > 0]
        return TimedPath(
            times[keep],
            np.concatenate([s.path.positions_rad for s in self.segments])[keep],
            np.concatenate([s.path.velocities_rad_s for s in self.segments])[keep],
        )


# Plans one candidate: its segments, or why it failed (NO_REACHABLE_CANDIDATE: no IK or straight
# line; PLANNING_FAILED: reachable but no free transit within the time budget).
CandidatePlanner = Callable[[FloatArray], tuple[Segment, ...] | PlanFailure]


def require_free_start(start_rad: FloatArray, checker: CollisionChecker) -> None:
    """Every backend refuses to plan from a state that already collides (bad scene or state)."""
    checker.ignore_near(None, 0.0)
    if not checker.is_free(start_rad):
        pairs = checker.colliding_pairs(start_rad)
        raise PlanningError(
            PlanFailure.START_IN_COLLISION, f"the current joint state collides: {pairs[:3]}"
        )


def flange_outside(path: TimedPath, safety_box_m: Sequence[float]) -> float | None:
    """How far (m) the tool flange leaves the box [x_min, x_max, y_min, y_max, z_min, z_max]
    at the worst sample of the timed path; None when it stays inside."""
    from a2_grasping.core.kinematics import forward_kinematics

    box = np.asarray(safety_box_m, dtype=np.float64)
    flange = np.array([forward_kinematics(q)[:3, 3] for q in path.positions_rad])
    outside = np.maximum(box[0::2] - flange, flange - box[1::2])
    worst = float(np.max(outside))
    return worst if worst > 0.0 else None


def plan_first(
    start_rad: FloatArray,
    candidates: Sequence[FloatArray],
    plan_one: CandidatePlanner,
    checker: CollisionChecker,
    *,
    config: PlannerConfig,
    what: str,
) -> TaskPlan:
    """The plan of the first (best-ranked) candidate that plans completely, every timed sample
    of it with the tool flange inside `config.safety_box_m` (whichever backend planned it: a
    plan that leaves the box counts as not found for that candidate). At most
    `config.max_grasps_tried` candidates are tried, within a few transits' planning time.

    Raises:
        PlanningError: START_IN_COLLISION; PLANNING_FAILED when some candidate was reachable but
            no transit was found; NO_REACHABLE_CANDIDATE otherwise.
    """
    started_s = time.perf_counter()
    # One transit may take planning_timeout_s; the whole search a few of them.
    budget_s = 4 * config.planning_timeout_s
    safety_box_m = config.safety_box_m
    require_free_start(np.asarray(start_rad, dtype=np.float64), checker)
    unplannable = 0
    left_box = 0  # planned, but the flange would leave the safety box
    tried = 0
    for index, candidate in enumerate(candidates[: config.max_grasps_tried]):
        if time.perf_counter() - started_s > budget_s:
            break
        tried += 1
        outcome = plan_one(np.asarray(candidate, dtype=np.float64))
        if isinstance(outcome, PlanFailure):
            unplannable += outcome is PlanFailure.PLANNING_FAILED
            continue
        if any(flange_outside(segment.path, safety_box_m) for segment in outcome):
            left_box += 1
            continue
        return TaskPlan(index, outcome, {"planning": (time.perf_counter() - started_s) * 1e3})
    if left_box:
        raise PlanningError(
            PlanFailure.PLANNING_FAILED,
            f"{left_box} {what}(s) planned, but the tool flange would leave the safety box "
            f"{list(safety_box_m)} on the way"
            + (f"; {unplannable} more found no collision-free path" if unplannable else ""),
        )
    if unplannable:
        raise PlanningError(
            PlanFailure.PLANNING_FAILED,
            f"{unplannable} reachable {what}(s), but no collision-free joint-space path was "
            f"found (planning budget {budget_s:.1f} s)",
        )
    raise PlanningError(
        PlanFailure.NO_REACHABLE_CANDIDATE,
        f"none of the {tried} {what}s tried has a reachable, collision-free approach and departure",
    )
