"""`GraspNetGenerator`: graspnet-baseline candidates behind the `CandidateGenerator` interface.

One call (spec §2.1-2.6):
1. voxelise the cloud at 1 mm and draw 20 000 points (seeded by the caller's rng);
2. negate them (the mirror trick) and run the network under `torch.inference_mode`;
3. decode, map back through the mirror;
4. drop grasps that collide with the cloud (voxelised at 1 cm) at the decoded centre and again
   after the 1 cm refine along the approach (upstream's two checks: the first, made in the
   mirrored frame, is the same test because negating points and frame together leaves the local
   coordinates unchanged), or whose gripper boxes reach below the table;
5. drop grasps wider than the 2F-85 opens;
6. optionally apply the object filter that replaces ORIG's ground-truth assignment;
7. convert to TCP poses (ORIG's tip frame) and return them best first.

What the network sees: whatever cloud the caller passes. ORIG fed the whole workspace cloud,
table included; `GraspSelector` passes only the points above the table, which the network was
not trained on. Pass the table when you can (the generator removes it itself where it must: the
object clusters and the analytic table check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from a2_grasping.core.candidates.base import GraspCandidates, ObjectPrior, validate_cloud
from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.graspnet.filters import (
    below_table_mask,
    collision_mask,
    object_filter_mask,
)
from a2_grasping.core.graspnet.model import GraspNet, GraspNetOutput
from a2_grasping.core.graspnet.processing import (
    GRASP_MAX_WIDTH_M,
    BaseFrameGrasps,
    decode_predictions,
    sample_network_input,
    tcp_poses_from_grasps,
    unmirror,
    voxel_downsample_open3d,
)


@dataclass(frozen=True)
class GraspNetConfig:
    """How GraspNet's raw grasps become candidates. Defaults follow the spec unless noted."""

    num_points: int = config_field(
        20_000, "Points drawn from the voxelised cloud for the network.", min_value=1
    )
    input_voxel_m: float = config_field(
        0.001, "Voxel edge for the network input (m).", min_value=0.0, max_value=0.05
    )
    min_input_points: int = config_field(
        64,
        "Clouds with fewer distinct points than this yield no candidates (nothing to grasp).",
        min_value=1,
    )
    width_factor: float = config_field(
        1.2,
        "Decoded width = clamp(width_factor x predicted width, 0, 0.1 m). 1.2 is the value of "
        "graspnet-baseline, whose checkpoint-rs.tar we load: its width head predicts metres and "
        "1.2 adds a 20 % opening margin. ORIG's 10.0 pushes almost every width to the 0.1 m "
        "clamp, wider than the 2F-85 opens (spec §7 item 18).",
        min_value=0.0,
        max_value=100.0,
    )
    max_width_m: float = config_field(
        0.085,
        "Grasps needing a wider opening than this are dropped: the 2F-85 stroke. Set 0.1 to "
        "keep every decoded width, as upstream does for its own gripper model.",
        min_value=0.0,
        max_value=GRASP_MAX_WIDTH_M,
    )
    collision_voxel_m: float = config_field(
        0.01, "Voxel edge of the cloud for the collision check (m).", min_value=0.001
    )
    collision_threshold: float = config_field(
        0.001,
        "Points in the gripper boxes / box volume in voxels above this is a collision.",
        min_value=0.0,
        max_value=1.0,
    )
    approach_dist_m: float = config_field(
        0.05,
        "Depth of the region behind the palm that must be empty too (m).",
        min_value=0.0,
        max_value=0.5,
    )
    refine_approach_m: float = config_field(
        0.01,
        "Grasps are pushed this much deeper along the approach (ORIG's refine) (m).",
        min_value=0.0,
        max_value=0.1,
    )
    table_margin_m: float = config_field(
        0.003,
        "Points less than this above the table are table for the object clusters (m).",
        min_value=0.0,
        max_value=0.05,
    )
    object_filter: bool = config_field(
        True,
        "Replace ORIG's ground-truth object assignment with table-top clusters (filters.py): "
        "grasps near an object's centre only, top-down ones preferred per object.",
    )
    cluster_cell_m: float = config_field(
        0.01, "Grid cell of the object clustering (m).", min_value=0.001, max_value=0.1
    )
    min_cluster_points: int = config_field(
        10, "Clusters with fewer points are noise, not objects.", min_value=1
    )
    assign_radius_m: float = config_field(
        0.05,
        "A grasp belongs to an object when its TCP lies this close to the object's centre (m).",
        min_value=0.0,
        max_value=1.0,
    )
    top_down_cone_deg: float = config_field(
        15.0,
        "Approaches within this angle of straight down are top-down (preferred per object).",
        min_value=0.0,
        max_value=90.0,
    )
    max_candidates: int = config_field(
        1024, "At most this many candidates are returned, best first.", min_value=1
    )

    def __post_init__(self) -> None:
        validate_ranges(self)
        for name in ("num_points", "min_input_points", "min_cluster_points", "max_candidates"):
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"{name} must be an int, got {getattr(self, name)!r}")
        if not isinstance(self.object_filter, bool):
            raise ValueError(f"object_filter must be a bool, got {self.object_filter!r}")


class GraspNetGenerator:
    """`CandidateGenerator` running a loaded GraspNet; quality = clip(GraspNet score, 0, 1).

    candidate_id is the seed index (0..1023) the grasp came from, so candidates can be traced
    back to the network output.
    """

    def __init__(self, model: GraspNet, config: GraspNetConfig | None = None) -> None:
        self.model = model.eval()
        self.config = GraspNetConfig() if config is None else config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def generate(
        self,
        points_xyz: NDArray[np.float64],
        table_height_m: float,
        rng: np.random.Generator,
        focus_points_xyz: NDArray[np.float64] | None = None,
        priors: tuple[ObjectPrior, ...] = (),
    ) -> GraspCandidates:
        """Collision-free GraspNet candidates on an (N,3) base-frame cloud, best first.

        The network sees the whole scene; with `focus_points_xyz` only grasps whose TCP lies
        within assign_radius_m of those points (the named object) are kept. `priors` are not
        used: GraspNet predicts from the points alone.
        """
        points = validate_cloud(points_xyz, table_height_m, rng)
        cfg = self.config
        table_m = float(table_height_m)
        voxelised = voxel_downsample_open3d(points, cfg.input_voxel_m)
        if len(voxelised) < cfg.min_input_points:
            return GraspCandidates.empty()
        network_input = sample_network_input(voxelised, cfg.num_points, rng)
        output = self.forward(network_input)
        grasps = unmirror(decode_predictions(output, cfg.width_factor))
        grasps = self.collision_free(grasps, points, table_m)
        grasps = grasps.take(grasps.width_m <= cfg.max_width_m)
        poses = tcp_poses_from_grasps(grasps, cfg.refine_approach_m)
        if cfg.object_filter:
            objects = points[points[:, 2] > table_m + cfg.table_margin_m]
            keep = object_filter_mask(
                poses[:, :3, 3],
                grasps.approach,
                objects,
                table_m,
                cell_m=cfg.cluster_cell_m,
                min_cluster_points=cfg.min_cluster_points,
                assign_radius_m=cfg.assign_radius_m,
                top_down_cone_deg=cfg.top_down_cone_deg,
            )
            grasps, poses = grasps.take(keep), poses[keep]
        if focus_points_xyz is not None:
            focus = validate_cloud(focus_points_xyz, table_m)
            if len(focus) == 0:
                return GraspCandidates.empty()
            distance, _ = cKDTree(focus).query(
                poses[:, :3, 3], k=1, distance_upper_bound=cfg.assign_radius_m
            )
            keep = np.isfinite(distance)
            grasps, poses = grasps.take(keep), poses[keep]
        quality = np.clip(grasps.score, 0.0, 1.0)
        # Ties (e.g. many clipped to 1) fall back to the raw score, then to the seed order.
        order = np.lexsort((grasps.seed_index, -grasps.score, -quality))[: cfg.max_candidates]
        return GraspCandidates(
            tcp_poses=poses[order],
            width_m=grasps.width_m[order],
            approach_depth_m=grasps.depth_m[order] + cfg.refine_approach_m,
            quality=quality[order],
            candidate_id=grasps.seed_index[order],
        )

    def forward(self, network_input_m: NDArray[np.float64]) -> GraspNetOutput:
        """Run the network on a base-frame (N, 3) sample; negation (the mirror) happens here."""
        cloud = torch.from_numpy(-network_input_m).to(self.device, torch.float32)[None]
        with torch.inference_mode():
            output: GraspNetOutput = self.model(cloud)
        return output

    def collision_free(
        self, grasps: BaseFrameGrasps, points_m: NDArray[np.float64], table_height_m: float
    ) -> BaseFrameGrasps:
        """Grasps clear of the scene before and after the refine, and above the table."""
        cfg = self.config
        scene = voxel_downsample_open3d(points_m, cfg.collision_voxel_m)
        blocked = np.zeros(len(grasps), dtype=bool)
        for shift_m in (0.0, cfg.refine_approach_m):
            blocked |= below_table_mask(grasps, table_height_m, cfg.approach_dist_m, shift_m)
            free = ~blocked
            blocked[free] |= collision_mask(
                grasps.take(free),
                scene,
                voxel_m=cfg.collision_voxel_m,
                approach_dist_m=cfg.approach_dist_m,
                threshold=cfg.collision_threshold,
                centre_shift_m=shift_m,
            )
        return grasps.take(~blocked)
