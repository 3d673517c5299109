"""The extent of the object in the hand, from the collision cloud, for planning the retreat.

After the lift the object moves with the gripper; a retreat checked with the gripper alone can
swing the object's hanging part through an obstacle (measured: the e2e cube was knocked out of
the hand against a wall in 3 of 8 runs). The object is the cloud cluster that reaches between the
finger pads at the grasp pose; it includes the occlusion shadow behind the seen surfaces, so the
unseen part of the object is covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from a2_grasping.core.geometry import transform_points
from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.planning.collision import CollisionChecker
from a2_grasping.core.planning.config import PlannerConfig


@contextmanager
def holding_the_object(
    checker: CollisionChecker,
    base_from_tcp: NDArray[np.floating],
    gripper: GripperGeometry,
    config: PlannerConfig,
) -> Iterator[None]:
    """Within the block `checker` checks the object this grasp holds (if the cloud shows one)
    with the gripper; every planner backend checks its retreat this way."""
    held = held_object_box(
        checker.scene_points_m,
        base_from_tcp,
        gripper,
        radius_m=config.object_clearance_radius_m,
        floor_z_m=config.table_height_m + config.octree_resolution_m,
        spacing_m=config.octree_resolution_m,
    )
    if held is None:
        yield
        return
    with checker.holding(*held):
        yield


def held_object_box(
    scene_points_m: NDArray[np.floating],
    base_from_tcp: NDArray[np.floating],
    gripper: GripperGeometry,
    *,
    radius_m: float,
    floor_z_m: float,
    spacing_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(lower, upper) TCP-frame bounds of the object the grasp holds, or None when no cloud
    point lies between the pads.

    Only points within `radius_m` of the TCP and above `floor_z_m` (the table top plus a voxel,
    so the table is not the object) count; points closer than 2 x `spacing_m` (the cloud's voxel
    size) are connected, so objects that close are held together (the cautious error). Each
    point stands for a voxel: the bounds are grown by half of one.
    """
    points = np.asarray(scene_points_m, dtype=np.float64).reshape(-1, 3)
    pose = np.asarray(base_from_tcp, dtype=np.float64)
    near = points[
        (np.linalg.norm(points - pose[:3, 3], axis=1) <= radius_m) & (points[:, 2] >= floor_z_m)
    ]
    if not len(near):
        return None
    local = transform_points(np.linalg.inv(pose), near)  # (n, 3) TCP frame
    reach = 0.5 * spacing_m
    between_pads = (
        (np.abs(local[:, 0]) <= 0.5 * gripper.finger_pad_width_m + reach)
        & (np.abs(local[:, 1]) <= 0.5 * gripper.max_width_m)
        & (local[:, 2] >= gripper.palm_face_z_m - reach)
        & (local[:, 2] <= gripper.fingertip_z_m + reach)
    )
    if not between_pads.any():
        return None
    pairs = cKDTree(local).query_pairs(2.0 * spacing_m, output_type="ndarray")  # (p, 2)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(len(local), len(local)),
    )
    _, labels = connected_components(graph, directed=False)
    held = local[np.isin(labels, labels[between_pads])]
    return held.min(axis=0) - reach, held.max(axis=0) + reach
