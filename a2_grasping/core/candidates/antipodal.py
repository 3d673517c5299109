"""Geometric antipodal grasp sampler: the candidate source when no learned grasp weights exist.

Pipeline (all vectorised; the only Python loops run over candidate chunks and kept grasps):
1. Drop the table slab, voxel-downsample, and sort the points by distance to their centroid so the
   seeded sampling picks the same surface points wherever the scene sits (rigid-motion invariance).
2. Sample contacts. Normals (computed only for contacts and possible partners) come from local PCA
   over k nearest neighbours within a radius, oriented outward: upward for near-horizontal
   surfaces, otherwise away from the centroid of the point's cluster (occupancy-grid components).
3. March along -normal to the first outward-facing surface (the far side of the object) within the
   stroke; keep pairs whose connecting line lies in both friction cones.
4. TCP at the contacts' midpoint, y = closing axis, z = the steepest-down approach perpendicular to
   y, optionally tilted about y; lifted within the pad if the fingertips would touch the table.
5. Reject grasps whose fingers or palm (from `gripper.py`, grown by a margin) contain scene points
   or reach below the table; score, sort, and remove near-duplicates. Collision checks run in
   order of an upper bound on quality and stop once 2 * max_candidates collision-free grasps
   beat every unchecked bound, so cost scales with the answer, not with the sample count.

Quality in [0, 1] is the weighted mean (weights from the config, summing to 1) of
- alignment = 1 - max(angle between closing line and each contact normal) / friction half-angle,
- verticality = 1 - (approach angle from straight down) / 90°,
- clearance = min(distance from the gripper boxes to the nearest scene point that is not between
  the pads, clearance_reference_m) / clearance_reference_m. The table is not part of this term;
  min_table_clearance_m is a hard limit instead.
Alignment rewards contacts that hold with the least friction, verticality favours the top-down
grasps the executor and the A2 policy's training data use, and clearance penalises grasps that
shave past neighbours within calibration error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial import cKDTree

from a2_grasping.core.candidates.base import GraspCandidates, ObjectPrior, validate_cloud
from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.geometry import points_with_neighbours
from a2_grasping.core.gripper import GripperGeometry

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Point-candidate pairs handled per collision chunk: bounds memory at a few tens of MB.
_PAIRS_PER_CHUNK = 1_000_000
# Collision checks stop once this many times max_candidates free grasps are certain to be the best.
_SURPLUS_FACTOR = 2
# Clustering grid has at most this many cells per axis (bounds memory on huge clouds).
_MAX_GRID_CELLS_PER_AXIS = 256
# Normals within this angle of vertical are oriented upward (top faces, bowl bottoms).
_UP_ORIENT_COS = math.cos(math.radians(30.0))
# Partner search looks at this many ray steps from the first outward-facing hit.
_PARTNER_WINDOW = 3
# Wall thickness assumed for a rim pinch (bowls 5-7 mm; the pads close on whatever is there).
_RIM_WALL_M = 0.006


@dataclass(frozen=True)
class AntipodalConfig:
    """Parameters of the antipodal sampler; each field could become a ROS parameter."""

    num_samples: int = config_field(
        400, "Contact points sampled per call.", min_value=1, max_value=100_000
    )
    friction_coefficient: float = config_field(
        0.4,
        "Coulomb friction coefficient of pad on object; the friction-cone half-angle is atan(mu).",
        min_value=0.01,
        max_value=2.0,
    )
    voxel_size_m: float = config_field(
        0.003,
        "Voxel edge for downsampling the cloud; 0 disables it.",
        min_value=0.0,
        max_value=0.05,
    )
    normal_radius_m: float = config_field(
        0.012, "Neighbourhood radius for PCA normals.", min_value=0.001, max_value=0.1
    )
    normal_max_neighbours: int = config_field(
        20, "At most this many nearest neighbours per PCA normal.", min_value=3, max_value=200
    )
    min_normal_neighbours: int = config_field(
        6,
        "Points with fewer neighbours in the radius get no normal and are never contacts.",
        min_value=3,
        max_value=200,
    )
    ray_radius_m: float = config_field(
        0.004,
        "How far off the closing line a partner point may lie; also the search step along it.",
        min_value=0.0005,
        max_value=0.02,
    )
    min_width_m: float = config_field(
        0.004,
        "Thinnest object width the gripper is asked to close on.",
        min_value=0.0,
        max_value=0.08,
    )
    width_clearance_m: float = config_field(
        0.005,
        "Object width must be at most the gripper stroke minus this (room to open around it). "
        "The collision margin also grows the fingers' inner faces, so widths above "
        "max_width_m - 2 * collision_margin_m are rejected as collisions anyway.",
        min_value=0.0,
        max_value=0.05,
    )
    approach_angles_deg: tuple[float, ...] = config_field(
        (0.0, -25.0, 25.0, -50.0, 50.0),
        "Tilts about the closing axis tried for each contact pair, relative to the steepest "
        "top-down approach. Keep the set symmetric so results do not depend on contact order.",
    )
    max_approach_tilt_deg: float = config_field(
        60.0,
        "Approaches further than this from straight down are rejected.",
        min_value=0.0,
        max_value=90.0,
    )
    table_margin_m: float = config_field(
        0.004,
        "Points lower than this above the table count as table: never contacts, and covered by "
        "the analytic table check instead of the point collision check.",
        min_value=0.0,
        max_value=0.05,
    )
    min_table_clearance_m: float = config_field(
        0.005,
        "Lowest allowed height of any gripper box above the table.",
        min_value=0.0,
        max_value=0.1,
    )
    max_contact_offset_m: float = config_field(
        0.008,
        "How far the TCP may be lifted along -approach so fingertips clear the table; the "
        "contacts then sit this far from the pad centre. Must stay within half the pad depth.",
        min_value=0.0,
        max_value=0.05,
    )
    collision_margin_m: float = config_field(
        0.003,
        "Gripper boxes are grown by this for the collision check (voxel error, calibration).",
        min_value=0.0,
        max_value=0.05,
    )
    clearance_reference_m: float = config_field(
        0.01,
        "Clearance at which the clearance score saturates at 1.",
        min_value=0.001,
        max_value=0.1,
    )
    weight_alignment: float = config_field(
        0.5, "Weight of antipodal alignment in the quality.", min_value=0.0, max_value=1.0
    )
    weight_verticality: float = config_field(
        0.3, "Weight of approach verticality in the quality.", min_value=0.0, max_value=1.0
    )
    weight_clearance: float = config_field(
        0.2, "Weight of clearance in the quality.", min_value=0.0, max_value=1.0
    )
    dedup_distance_m: float = config_field(
        0.005,
        "Grasps closer than this and dedup_angle_deg are duplicates.",
        min_value=0.0,
        max_value=0.1,
    )
    dedup_angle_deg: float = config_field(
        15.0,
        "Rotation difference below which nearby grasps are duplicates.",
        min_value=0.0,
        max_value=180.0,
    )
    prior_alignment: float = config_field(
        0.6,
        "Alignment score of contacts inferred from a segmented object's box (its far side not "
        "seen): below a well-aligned observed pair (up to 1), so observed contacts win.",
        min_value=0.0,
        max_value=1.0,
    )
    collision_min_neighbours: int = config_field(
        2,
        "Scene points with fewer other points within 1.5 voxels are stray readings (flying "
        "pixels that outlived perception's filters) and block no grasp; 0 keeps every point. A "
        "single one beside a D435-seen block was the only obstacle of its top-down grasp. The "
        "planner's collision cloud drops the same (executor collision_min_neighbours).",
        min_value=0,
        max_value=20,
    )
    prior_contact_depth_m: float = config_field(
        0.02,
        "Inferred contacts lie at half the object's height, but at most this far below its top.",
        min_value=0.0,
        max_value=0.1,
    )
    max_candidates: int = config_field(
        100,
        "At most this many candidates are returned, best first.",
        min_value=1,
        max_value=100_000,
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        for name in (
            "num_samples",
            "normal_max_neighbours",
            "min_normal_neighbours",
            "max_candidates",
        ):
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"{name} must be an int, got {getattr(self, name)!r}")
        if self.min_normal_neighbours > self.normal_max_neighbours:
            raise ValueError("min_normal_neighbours must not exceed normal_max_neighbours")
        angles = self.approach_angles_deg
        if not isinstance(angles, tuple) or not angles:
            raise ValueError("approach_angles_deg must be a non-empty tuple of degrees")
        if not all(isinstance(a, int | float) and -90.0 < a < 90.0 for a in angles):
            raise ValueError(f"approach_angles_deg must lie in (-90, 90), got {angles!r}")
        weight_sum = self.weight_alignment + self.weight_verticality + self.weight_clearance
        if abs(weight_sum - 1.0) > 1e-6:
            raise ValueError(f"quality weights must sum to 1, got {weight_sum}")
        if self.table_margin_m > self.min_table_clearance_m:
            raise ValueError(
                "table_margin_m must not exceed min_table_clearance_m, or points ignored as "
                "table could sit inside the fingers"
            )

    @property
    def friction_half_angle_rad(self) -> float:
        """Half-angle of the friction cone, atan(mu)."""
        return math.atan(self.friction_coefficient)


class AntipodalGenerator:
    """`CandidateGenerator` that finds antipodal contact pairs on the raw geometry."""

    def __init__(
        self, config: AntipodalConfig | None = None, gripper: GripperGeometry | None = None
    ) -> None:
        self.config = AntipodalConfig() if config is None else config
        self.gripper = GripperGeometry() if gripper is None else gripper
        if self.config.max_contact_offset_m > 0.5 * self.gripper.finger_pad_depth_m:
            raise ValueError("max_contact_offset_m exceeds half the finger pad depth")
        if self.config.min_width_m >= self.max_object_width_m:
            raise ValueError("min_width_m leaves no graspable width inside the stroke")

    @property
    def max_object_width_m(self) -> float:
        """Widest object the sampler proposes to close on."""
        return self.gripper.max_width_m - self.config.width_clearance_m

    def generate(
        self,
        points_xyz: NDArray[np.float64],
        table_height_m: float,
        rng: np.random.Generator,
        focus_points_xyz: NDArray[np.float64] | None = None,
        priors: tuple[ObjectPrior, ...] = (),
    ) -> GraspCandidates:
        """Antipodal candidates on an (N,3) base-frame cloud; empty if nothing is graspable.

        With `focus_points_xyz` (one object, or a few) both contacts lie on those points while the
        rest of the cloud still counts for collisions and clearance: all samples go to the named
        object instead of being spread over the whole table. Each of `priors` adds contact pairs
        across its box (the far side inferred from the seen top face), scored with
        `prior_alignment`, so a block whose back no camera sees can still be grasped.
        """
        points = validate_cloud(points_xyz, table_height_m, rng)
        cfg = self.config
        table_m = float(table_height_m)
        scene = points[points[:, 2] > table_m + cfg.table_margin_m]
        scene = _canonical_order(_voxel_downsample(scene, cfg.voxel_size_m))
        if len(scene) < cfg.min_normal_neighbours:
            return GraspCandidates.empty()
        on_focus = np.ones(len(scene), dtype=bool)
        if focus_points_xyz is not None:
            focus = validate_cloud(focus_points_xyz, table_height_m)
            if len(focus) == 0:
                return GraspCandidates.empty()
            reach_m = max(cfg.voxel_size_m, 1e-3)
            distance, _ = cKDTree(focus).query(scene, k=1, distance_upper_bound=reach_m)
            on_focus = np.isfinite(distance)
        field = _NormalField(scene, cfg)
        eligible = np.flatnonzero(on_focus)
        contacts = rng.choice(eligible, size=min(cfg.num_samples, len(eligible)), replace=False)
        first, second, alignment = self._antipodal_pairs(field, contacts.astype(np.int64))
        both_on_focus = on_focus[first] & on_focus[second]
        prior_p1, prior_p2 = self._prior_contacts(priors, table_m)
        p1 = np.concatenate([scene[first[both_on_focus]], prior_p1])
        p2 = np.concatenate([scene[second[both_on_focus]], prior_p2])
        alignment = np.concatenate(
            [alignment[both_on_focus], np.full(len(prior_p1), cfg.prior_alignment)]
        )
        if len(p1) == 0:
            return GraspCandidates.empty()

        poses, verticality = self._frames(p1, p2)
        pair = np.repeat(np.arange(len(p1)), len(cfg.approach_angles_deg))
        ok = verticality >= 1.0 - cfg.max_approach_tilt_deg / 90.0 - 1e-9
        poses, verticality, pair = poses[ok], verticality[ok], pair[ok]
        poses, ok = self._clear_table(poses, table_m)
        poses, verticality, pair = poses[ok], verticality[ok], pair[ok]
        if len(pair) == 0:
            return GraspCandidates.empty()

        partial = cfg.weight_alignment * alignment[pair] + cfg.weight_verticality * verticality
        obstacles = scene
        if cfg.collision_min_neighbours > 0:
            reach_m = 1.5 * max(cfg.voxel_size_m, 1e-3)
            obstacles = scene[points_with_neighbours(scene, reach_m, cfg.collision_min_neighbours)]
        checked, clearance_m = self._collision_free_best(poses, obstacles, partial)
        if len(checked) == 0:
            return GraspCandidates.empty()
        clearance_score = np.minimum(clearance_m, cfg.clearance_reference_m) / (
            cfg.clearance_reference_m
        )
        quality = np.clip(partial[checked] + cfg.weight_clearance * clearance_score, 0.0, 1.0)
        order = np.argsort(-quality, kind="stable")
        kept = order[self._deduplicate(poses[checked[order]])]
        chosen = checked[kept]
        widths = np.linalg.norm(p2 - p1, axis=1)[pair[chosen]]
        return GraspCandidates(
            tcp_poses=poses[chosen],
            width_m=widths,
            approach_depth_m=self._approach_depth(poses[chosen], scene),
            quality=quality[kept],
            candidate_id=np.arange(len(chosen), dtype=np.int64),
        )

    def _prior_contacts(
        self, priors: tuple[ObjectPrior, ...], table_m: float
    ) -> tuple[FloatArray, FloatArray]:
        """Contact pairs across each prior's box, on vertical sides (boxes: each graspable axis;
        cylinders and spheres: four closing directions), at half the height but at most
        prior_contact_depth_m below the top (spheres: the equator)."""
        firsts: list[FloatArray] = []
        seconds: list[FloatArray] = []
        for prior in priors:
            pose = np.asarray(prior.base_from_object, dtype=np.float64)
            extents = np.asarray(prior.extents_m, dtype=np.float64)
            top_z = pose[2, 3] + 0.5 * extents[2]
            if prior.shape == "sphere":
                contact_z = pose[2, 3]
            else:
                contact_z = top_z - min(0.5 * extents[2], self.config.prior_contact_depth_m)
            if contact_z <= table_m:
                continue
            if prior.shape == "cylinder" and extents[1] > self.max_object_width_m:
                first, second = self._rim_contacts(pose, extents, top_z)
                firsts.extend(first)
                seconds.extend(second)
                continue
            if prior.shape == "box":
                axes = [(pose[:3, 0], extents[0]), (pose[:3, 1], extents[1])]
            else:
                yaws = np.radians([0.0, 45.0, 90.0, 135.0])
                axes = [(np.array([np.cos(a), np.sin(a), 0.0]), extents[1]) for a in yaws]
            center = np.array([pose[0, 3], pose[1, 3], contact_z])
            for axis, width_m in axes:
                if not self.config.min_width_m <= width_m <= self.max_object_width_m:
                    continue
                direction = np.array([axis[0], axis[1], 0.0])
                direction /= max(float(np.linalg.norm(direction)), 1e-12)
                firsts.append(center - 0.5 * width_m * direction)
                seconds.append(center + 0.5 * width_m * direction)
        if not firsts:
            return np.zeros((0, 3)), np.zeros((0, 3))
        return np.array(firsts), np.array(seconds)

    def _rim_contacts(
        self, pose: FloatArray, extents: FloatArray, top_z: float
    ) -> tuple[list[FloatArray], list[FloatArray]]:
        """Pinches across the rim of a round object wider than the stroke, at eight places.

        Only a hollow one (a bowl, a pot) can be held so, and only by its rim; its outer and
        inner wall are never both seen where both cameras look from one side (the far wall's
        inside and the near wall's outside face away from them), so the sampled contacts never
        pair up across a wall. The collision check drops a pinch on a solid top: the inner
        finger would enter it.
        """
        radius = 0.5 * float(extents[1])
        depth = min(0.5 * self.gripper.finger_pad_depth_m, 0.4 * float(extents[2]))
        center = np.array([pose[0, 3], pose[1, 3], top_z - depth])
        firsts, seconds = [], []
        for angle in np.radians(np.arange(0.0, 360.0, 45.0)):
            outward = np.array([np.cos(angle), np.sin(angle), 0.0])
            firsts.append(center + radius * outward)
            seconds.append(center + (radius - _RIM_WALL_M) * outward)
        return firsts, seconds

    def _antipodal_pairs(
        self, field: _NormalField, contacts: IntArray
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """(first, second, alignment in [0,1]) for contacts whose partner is antipodal."""
        cfg = self.config
        scene = field.scene
        contacts = contacts[field.has_normal(contacts)]
        empty = np.zeros(0, dtype=np.int64)
        if len(contacts) == 0:
            return empty, empty, np.zeros(0)
        direction = -field.normals[contacts]
        step_m = cfg.ray_radius_m
        steps = np.arange(cfg.min_width_m, self.max_object_width_m + step_m, step_m)
        queries = scene[contacts, None, :] + steps[None, :, None] * direction[:, None, :]
        distance, index = field.tree.query(
            queries.reshape(-1, 3), k=1, distance_upper_bound=cfg.ray_radius_m
        )
        index = np.asarray(index, dtype=np.int64).reshape(len(contacts), len(steps))
        hit = np.isfinite(np.asarray(distance)).reshape(index.shape)
        field.has_normal(np.unique(index[hit]))
        facing = np.einsum("msk,mk->ms", field.normals_padded()[index], direction)
        exit_hit = hit & (facing > 0.3)
        entry_hit = hit & (facing < -0.3) & (steps[None, :] > 2.0 * cfg.ray_radius_m)
        sentinel = len(steps)
        first_exit = np.where(exit_hit.any(axis=1), exit_hit.argmax(axis=1), sentinel)
        first_entry = np.where(entry_hit.any(axis=1), entry_hit.argmax(axis=1), sentinel)
        # The ray must leave the object before entering another surface, or it spans a gap.
        rows = np.flatnonzero((first_exit < sentinel) & (first_exit < first_entry))
        if len(rows) == 0:
            return empty, empty, np.zeros(0)
        window = np.minimum(first_exit[rows, None] + np.arange(_PARTNER_WINDOW), sentinel - 1)
        partner = index[rows[:, None], window]
        partner_ok = exit_hit[rows[:, None], window]
        partner = np.where(partner_ok, partner, contacts[rows, None])
        p1 = scene[contacts[rows]]
        line = scene[partner] - p1[:, None, :]
        width = np.linalg.norm(line, axis=2)
        line = line / np.maximum(width, 1e-12)[:, :, None]
        cos_first = np.einsum("mwk,mk->mw", line, direction[rows])
        cos_second = np.einsum("mwk,mwk->mw", line, field.normals[partner])
        half_angle = cfg.friction_half_angle_rad
        worst = np.arccos(np.clip(np.minimum(cos_first, cos_second), -1.0, 1.0))
        ok = (
            partner_ok
            & (worst <= half_angle)
            & (width >= max(cfg.min_width_m, 1e-6))
            & (width <= self.max_object_width_m)
        )
        score = np.where(ok, 1.0 - worst / half_angle, -1.0)
        best = score.argmax(axis=1)
        picked = np.arange(len(rows))
        found = score[picked, best] >= 0.0
        first = contacts[rows][found]
        second = partner[picked, best][found]
        alignment: FloatArray = score[picked, best][found]
        return first, second, alignment

    def _frames(self, p1: FloatArray, p2: FloatArray) -> tuple[FloatArray, FloatArray]:
        """TCP poses (pairs * angles, 4, 4) and their verticality (-1 where none exists)."""
        closing = p2 - p1
        closing /= np.linalg.norm(closing, axis=1, keepdims=True)
        down = np.array([0.0, 0.0, -1.0])
        steepest = down[None, :] + closing[:, 2:3] * closing  # down minus its part along y
        norm = np.linalg.norm(steepest, axis=1, keepdims=True)
        # A vertical closing axis only allows horizontal approaches; max_approach_tilt rejects it.
        steepest = np.where(norm > 1e-6, steepest / np.maximum(norm, 1e-12), 0.0)
        sideways = np.cross(closing, steepest)
        angles = np.radians(np.asarray(self.config.approach_angles_deg, dtype=np.float64))
        approach = (
            np.cos(angles)[None, :, None] * steepest[:, None, :]
            + np.sin(angles)[None, :, None] * sideways[:, None, :]
        )
        y_axis = np.broadcast_to(closing[:, None, :], approach.shape)
        x_axis = np.cross(y_axis, approach)
        count = len(p1) * len(angles)
        poses = np.zeros((count, 4, 4))
        poses[:, :3, 0] = x_axis.reshape(-1, 3)
        poses[:, :3, 1] = y_axis.reshape(-1, 3)
        poses[:, :3, 2] = approach.reshape(-1, 3)
        poses[:, :3, 3] = np.repeat(0.5 * (p1 + p2), len(angles), axis=0)
        poses[:, 3, 3] = 1.0
        valid = np.repeat(norm[:, 0] > 1e-6, len(angles))
        tilt = np.arccos(np.clip(-poses[:, 2, 2], -1.0, 1.0))
        verticality: FloatArray = np.where(valid, 1.0 - tilt / (0.5 * math.pi), -1.0)
        return poses, verticality

    def _clear_table(self, poses: FloatArray, table_m: float) -> tuple[FloatArray, BoolArray]:
        """Lift TCPs along -approach (within the pad) so no gripper box is below the table."""
        corners = self.gripper.collision_boxes().corners()
        lowest = poses[:, 2, 3] + (poses[:, 2, :3] @ corners.T).min(axis=1)
        needed = table_m + self.config.min_table_clearance_m - lowest
        descent = -poses[:, 2, 2]
        lift = np.where(needed > 0.0, needed / np.maximum(descent, 1e-9), 0.0)
        ok = (lift <= self.config.max_contact_offset_m) & ((needed <= 0.0) | (descent > 1e-6))
        lifted = poses.copy()
        lifted[:, :3, 3] -= (
            np.minimum(lift, self.config.max_contact_offset_m)[:, None] * (poses[:, :3, 2])
        )
        return lifted, ok

    def _collision_free_best(
        self, poses: FloatArray, scene: FloatArray, partial_quality: FloatArray
    ) -> tuple[IntArray, FloatArray]:
        """Indices of collision-free candidates among the best, and their clearance in metres.

        Candidates are checked in order of their quality upper bound (clearance score 1); checking
        stops once enough free ones score at least the best bound still unchecked.
        """
        cfg = self.config
        bound = partial_quality + cfg.weight_clearance
        order = np.argsort(-bound, kind="stable")
        target = _SURPLUS_FACTOR * cfg.max_candidates
        chunk = int(np.clip(_PAIRS_PER_CHUNK // len(scene), 16, max(16, target)))
        points32 = scene.astype(np.float32)
        free_parts: list[IntArray] = []
        clearance_parts: list[FloatArray] = []
        qualities: list[FloatArray] = []
        for start in range(0, len(order), chunk):
            batch = order[start : start + chunk]
            free, clearance = self._check_batch(poses[batch], points32)
            free_parts.append(batch[free])
            clearance_parts.append(clearance[free])
            qualities.append(
                partial_quality[batch[free]]
                + cfg.weight_clearance * np.minimum(clearance[free] / cfg.clearance_reference_m, 1)
            )
            found = np.concatenate(qualities)
            if start + chunk < len(order) and len(found) >= target:
                kth_best = np.partition(found, len(found) - target)[len(found) - target]
                if kth_best >= bound[order[start + chunk]]:
                    break
        return np.concatenate(free_parts), np.concatenate(clearance_parts)

    def _check_batch(
        self, poses: FloatArray, points32: NDArray[np.float32]
    ) -> tuple[BoolArray, FloatArray]:
        """(collision-free, clearance_m) for a batch of poses against all scene points."""
        cfg = self.config
        gripper = self.gripper
        lower = gripper.collision_boxes().lower_m
        upper = gripper.collision_boxes().upper_m
        margin = cfg.collision_margin_m
        reach = max(margin, cfg.clearance_reference_m)
        half_open = 0.5 * gripper.max_width_m
        half_pad = 0.5 * gripper.finger_pad_width_m
        face_z, tip_z = gripper.palm_face_z_m, gripper.fingertip_z_m

        count = len(poses)
        x, y, z = _to_local(poses, points32)  # each (B, N)
        abs_y = np.abs(y)
        # Only points within `reach` of some box matter: not deep in the gap between the fingers.
        relevant = np.abs(x) <= upper[:, 0].max() + reach
        relevant &= abs_y <= upper[:, 1].max() + reach
        relevant &= z <= tip_z + reach
        relevant &= z >= lower[:, 2].min() - reach
        relevant &= (abs_y >= half_open - reach) | (z <= face_z + reach)
        which, point = np.divmod(np.flatnonzero(relevant), relevant.shape[1])  # 1-D is faster
        q = (x[which, point], y[which, point], z[which, point])
        inside, distance = _box_tests(q, lower, upper, margin)
        free = np.bincount(which[inside], minlength=count) == 0
        between = np.abs(q[0]) <= half_pad
        between &= np.abs(q[1]) < half_open
        between &= q[2] >= face_z
        between &= q[2] <= tip_z
        clearance = np.full(count, cfg.clearance_reference_m)
        np.minimum.at(clearance, which[~between], distance[~between])
        return free, clearance

    def _approach_depth(self, poses: FloatArray, scene: FloatArray) -> FloatArray:
        """Distance from the first object surface met between the fingers to the TCP."""
        if len(poses) == 0:
            return np.zeros(0)
        x, y, z = _to_local(poses, scene.astype(np.float32))
        column = np.abs(x) <= 0.5 * self.gripper.finger_pad_width_m
        column &= np.abs(y) < 0.5 * self.gripper.max_width_m
        column &= z <= self.gripper.fingertip_z_m
        column &= z >= self.gripper.palm_face_z_m
        nearest = np.where(column, z, 0.0).min(axis=1)
        depth: FloatArray = np.maximum(-nearest.astype(np.float64), 0.0)
        return depth

    def _deduplicate(self, sorted_poses: FloatArray) -> IntArray:
        """Indices of poses kept by greedy suppression, best first, at most max_candidates."""
        cfg = self.config
        count = len(sorted_poses)
        positions = sorted_poses[:, :3, 3]
        rotations = sorted_poses[:, :3, :3]
        cos_limit = math.cos(math.radians(cfg.dedup_angle_deg))
        limit_sq = cfg.dedup_distance_m**2
        suppressed = np.zeros(count, dtype=bool)
        kept: list[int] = []
        for i in range(count):
            if suppressed[i]:
                continue
            kept.append(i)
            if len(kept) >= cfg.max_candidates:
                break
            offset = positions - positions[i]
            near = np.flatnonzero(np.einsum("kj,kj->k", offset, offset) <= limit_sq)
            # Diagonal of R_i^T R_k; the 180° turn about the approach is the same physical grasp.
            diag = np.einsum("jl,kjl->kl", rotations[i], rotations[near])
            trace = np.maximum(diag.sum(axis=1), diag[:, 2] - diag[:, 0] - diag[:, 1])
            suppressed[near[0.5 * (trace - 1.0) >= cos_limit]] = True
        return np.asarray(kept, dtype=np.int64)


class _NormalField:
    """Outward unit normals of the scene points, computed on demand and cached."""

    def __init__(self, scene: FloatArray, cfg: AntipodalConfig) -> None:
        self.scene = scene
        self.cfg = cfg
        self.tree = cKDTree(scene)
        self.normals = np.zeros((len(scene), 3))
        self.known = np.zeros(len(scene), dtype=bool)
        labels = _cluster_labels(scene, 0.5 * cfg.normal_radius_m)
        sizes = np.bincount(labels)
        sums = np.stack([np.bincount(labels, weights=scene[:, a]) for a in range(3)], axis=1)
        self.centroid_of_point = (sums / sizes[:, None])[labels]

    def normals_padded(self) -> FloatArray:
        """Normals with a zero row appended, for KD-tree 'no hit' indices (== len(scene))."""
        result: FloatArray = np.vstack([self.normals, np.zeros((1, 3))])
        return result

    def has_normal(self, indices: IntArray) -> BoolArray:
        """Compute missing normals for `indices`; True where the point has a valid normal."""
        missing = np.unique(indices[~self.known[indices]])
        if len(missing):
            self.normals[missing] = self._estimate(missing)
            self.known[missing] = True
        result: BoolArray = np.any(self.normals[indices] != 0.0, axis=1)
        return result

    def _estimate(self, indices: IntArray) -> FloatArray:
        cfg = self.cfg
        count = len(self.scene)
        k = min(cfg.normal_max_neighbours, count)
        _, neighbour = self.tree.query(
            self.scene[indices], k=k, distance_upper_bound=cfg.normal_radius_m
        )
        neighbour = np.asarray(neighbour, dtype=np.int64).reshape(len(indices), k)
        valid = neighbour < count
        points = np.vstack([self.scene, np.zeros((1, 3))])[neighbour]
        weight = valid[:, :, None].astype(np.float64)
        n_valid = valid.sum(axis=1)
        mean = (points * weight).sum(axis=1) / np.maximum(n_valid, 1)[:, None]
        centred = (points - mean[:, None, :]) * weight
        _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", centred, centred))
        normals = vectors[:, :, 0]
        outward = np.einsum(
            "nk,nk->n", self.scene[indices] - self.centroid_of_point[indices], normals
        )
        upright = np.abs(normals[:, 2]) >= _UP_ORIENT_COS
        sign = np.where(upright, np.sign(normals[:, 2]), np.sign(outward))
        sign[sign == 0.0] = 1.0
        result: FloatArray = normals * sign[:, None]
        result[n_valid < cfg.min_normal_neighbours] = 0.0
        return result


def _box_tests(
    q: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]],
    lower: FloatArray,
    upper: FloatArray,
    margin_m: float,
) -> tuple[BoolArray, FloatArray]:
    """(inside any box grown by margin_m, distance to the nearest box) per point.

    Loops over boxes and axes on contiguous 1-D arrays: numpy is slow on trailing axes of 3.
    """
    count = len(q[0])
    inside = np.zeros(count, dtype=bool)
    nearest_sq = np.full(count, np.inf)
    for box in range(len(lower)):
        in_box = np.ones(count, dtype=bool)
        distance_sq = np.zeros(count)
        for axis in range(3):
            coordinate = q[axis].astype(np.float64)
            in_box &= coordinate >= lower[box, axis] - margin_m
            in_box &= coordinate <= upper[box, axis] + margin_m
            outside = np.maximum(lower[box, axis] - coordinate, coordinate - upper[box, axis])
            np.maximum(outside, 0.0, out=outside)
            distance_sq += outside * outside
        inside |= in_box
        np.minimum(nearest_sq, distance_sq, out=nearest_sq)
    return inside, np.sqrt(nearest_sq)


def _to_local(poses: FloatArray, points32: NDArray[np.float32]) -> NDArray[np.float32]:
    """(3, B, N) coordinates of every point in every pose's TCP frame, via one GEMM.

    Axis-major layout keeps each coordinate contiguous, which makes the masks below fast.
    """
    count = len(poses)
    axes = poses[:, :3, :3].transpose(2, 0, 1).reshape(3 * count, 3)  # row j*B+b: axis j of b
    origin_local = np.einsum("bi,bij->jb", poses[:, :3, 3], poses[:, :3, :3]).reshape(-1, 1)
    local = axes.astype(np.float32) @ points32.T
    local -= origin_local.astype(np.float32)
    result: NDArray[np.float32] = local.reshape(3, count, len(points32))
    return result


def _cluster_labels(points: FloatArray, cell_m: float) -> IntArray:
    """Connected components of the occupied cells of a grid (26-neighbourhood), per point."""
    extent = points.max(axis=0) - points.min(axis=0)
    cell_m = max(cell_m, float(extent.max()) / (_MAX_GRID_CELLS_PER_AXIS - 1))
    cells = np.floor((points - points.min(axis=0)) / cell_m).astype(np.int64)
    grid = np.zeros(tuple(int(n) for n in cells.max(axis=0) + 1), dtype=bool)
    grid[cells[:, 0], cells[:, 1], cells[:, 2]] = True
    labelled, _ = ndimage.label(grid, structure=np.ones((3, 3, 3), dtype=bool))
    labels: IntArray = np.asarray(labelled[cells[:, 0], cells[:, 1], cells[:, 2]], dtype=np.int64)
    return labels - 1


def _voxel_downsample(points: FloatArray, voxel_m: float) -> FloatArray:
    """Mean point per occupied voxel; identity when voxel_m is 0 or the cloud is empty."""
    if voxel_m <= 0.0 or len(points) == 0:
        return points
    cells = np.floor(points / voxel_m).astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    sums = np.stack(
        [np.bincount(inverse, weights=points[:, axis], minlength=len(counts)) for axis in range(3)],
        axis=1,
    )
    result: FloatArray = sums / counts[:, None]
    return result


def _canonical_order(points: FloatArray) -> FloatArray:
    """Points sorted by distance to their centroid: an order rigid motions do not change."""
    if len(points) == 0:
        return points
    distance_sq = np.sum((points - points.mean(axis=0)) ** 2, axis=1)
    result: FloatArray = points[np.argsort(distance_sq, kind="stable")]
    return result
