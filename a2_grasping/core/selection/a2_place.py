"""A2's place candidates (spec §2.7), built from the segmented scene, for the fusion network.

ORIG samples a top-down grid (row = x, column = y) around ground-truth boxes; here the boxes are
the segmented objects' axis-aligned footprints and the heights come from the cloud, so the
candidates are what a real cell can compute. The network was trained on exactly this set (IN
samples on every object, OUT samples around it, a constant orientation), so it scores the whole
set; the place selector then keeps only what the instruction's relation and reference allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter

from a2_grasping.core.selection.objects import SceneObject
from a2_grasping.core.selection.place_regions import MAX_DISTANCE_M, MIN_DISTANCE_M

FloatArray = NDArray[np.float64]
PIXEL_SIZE_M = 0.002  # spec §2.7: 2 mm grid for place (ORIG uses 3 mm in pick-and-place)
SAMPLES_PER_REGION = 3  # spec §2.7 sample_num_each_object, from each of IN and OUT
MIN_BOX_PX = 5  # ORIG preprocess_bboxes drops boxes smaller than this
HOLE_FILL_CELLS = 2  # an empty cell's height from seen cells this many cells around (4 mm)
# ORIG adds 0.1 to the annulus' outer radius in pixels (a metre figure added to pixels): kept, so
# the radii match the trained generator's to the pixel.
_ORIG_OUTER_RADIUS_EXTRA_PX = 0.1


@dataclass(frozen=True)
class A2PlaceCandidates:
    positions_m: FloatArray  # (K, 3): grid cell centre x, y; z = table + height map there
    object_index: NDArray[np.intp]  # (K,) position in the objects given: whose region sampled it
    inside: NDArray[np.bool_]  # (K,) True: IN (the disc on the object), False: OUT (annulus)

    def __len__(self) -> int:
        return len(self.positions_m)

    def poses(self) -> FloatArray:
        """(K, 4, 4) with the identity rotation: the network's constant place orientation
        (quaternion [0, 0, 0, 1], spec §2.7 step 3). Never executed as it is."""
        poses = np.tile(np.eye(4), (len(self), 1, 1))
        poses[:, :3, 3] = self.positions_m
        return poses


@dataclass(frozen=True)
class _Grid:
    origin_xy_m: FloatArray  # (2,) x_min, y_min of the workspace
    shape: tuple[int, int]  # rows (x), columns (y)
    pixel_size_m: float

    def cell(self, xy_m: NDArray[np.floating]) -> NDArray[np.intp]:
        cells = np.floor((np.asarray(xy_m, np.float64) - self.origin_xy_m) / self.pixel_size_m)
        return np.clip(cells.astype(np.intp), 0, np.array(self.shape) - 1)

    def centre_m(self, cells: NDArray[np.intp]) -> FloatArray:
        # ORIG: x = row * px + x_min (the cell's corner); the centre is half a cell further.
        return self.origin_xy_m + (cells.astype(np.float64) + 0.5) * self.pixel_size_m


def annulus_radii_px(
    box_size_px: tuple[int, int], held_size_px: int, pixel_size_m: float
) -> tuple[float, float]:
    """OUT region (r_min, r_max) in pixels, as ORIG computes them (floor divisions included:
    0.15 // 0.002 is 74, not 75)."""
    reach_px = max(box_size_px) // 2 + held_size_px // 2
    r_min = max(MIN_DISTANCE_M // pixel_size_m, reach_px)
    r_max = max(MAX_DISTANCE_M // pixel_size_m, reach_px + _ORIG_OUTER_RADIUS_EXTRA_PX)
    return float(r_min), float(r_max)


def a2_place_candidates(
    objects: Sequence[SceneObject],
    points_m: NDArray[np.floating],
    held_size_m: NDArray[np.floating],
    *,
    table_height_m: float,
    workspace_box_m: NDArray[np.floating],
    pixel_size_m: float = PIXEL_SIZE_M,
) -> A2PlaceCandidates:
    """Up to 2 * SAMPLES_PER_REGION candidates per object (spec §2.7).

    `points_m`: the cloud the objects were segmented from (their point_indices index it), table
    included: it gives the height map. `workspace_box_m`: [x_min, x_max, y_min, y_max, ...].
    """
    box = np.asarray(workspace_box_m, dtype=np.float64)
    rows = int(np.ceil((box[1] - box[0]) / pixel_size_m))
    cols = int(np.ceil((box[3] - box[2]) / pixel_size_m))
    grid = _Grid(box[[0, 2]], (rows, cols), pixel_size_m)
    points = np.asarray(points_m, dtype=np.float64)
    heights = _height_map(grid, points, table_height_m)

    boxes = [_pixel_box(grid, points[obj.point_indices, :2]) for obj in objects]
    free = np.ones(grid.shape, dtype=bool)  # ORIG mask_map: 0 inside any object's box
    for r0, c0, r1, c1 in boxes:
        free[r0 : r1 + 1, c0 : c1 + 1] = False
    held_px = int(float(np.max(held_size_m[:2])) // pixel_size_m)
    row_index, col_index = np.indices(grid.shape)

    cells: list[NDArray[np.intp]] = []
    owners: list[int] = []
    inside: list[bool] = []
    for position, (r0, c0, r1, c1) in enumerate(boxes):
        size_px = (r1 - r0 + 1, c1 - c0 + 1)
        if min(size_px) < MIN_BOX_PX:
            continue
        distance_px = np.hypot(row_index - (r0 + r1) // 2, col_index - (c0 + c1) // 2)
        r_min, r_max = annulus_radii_px(size_px, held_px, pixel_size_m)
        regions = (
            (True, distance_px <= min(size_px) // 3),
            (False, (distance_px >= r_min) & (distance_px <= r_max) & free),
        )
        for is_inside, mask in regions:
            chosen = _evenly_spaced(np.argwhere(mask))  # row-major, as ORIG's list of pixels
            cells.append(chosen)
            owners += [position] * len(chosen)
            inside += [is_inside] * len(chosen)
    if not cells:
        return A2PlaceCandidates(
            np.zeros((0, 3)), np.zeros(0, dtype=np.intp), np.zeros(0, dtype=bool)
        )
    chosen_cells = np.concatenate(cells)
    positions = np.column_stack(
        [
            grid.centre_m(chosen_cells),
            table_height_m + heights[chosen_cells[:, 0], chosen_cells[:, 1]],
        ]
    )
    return A2PlaceCandidates(positions, np.array(owners, dtype=np.intp), np.array(inside))


def _pixel_box(grid: _Grid, xy_m: FloatArray) -> tuple[int, int, int, int]:
    """The object's axis-aligned footprint on the grid: first row, first column, last row, last
    column (inclusive)."""
    low = grid.cell(xy_m.min(axis=0))
    high = grid.cell(xy_m.max(axis=0))
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


def _height_map(grid: _Grid, points_m: FloatArray, table_height_m: float) -> FloatArray:
    """Highest point above the table within HOLE_FILL_CELLS of each cell. ORIG reads a dense
    ground-truth height map; a fused cloud (voxelised at 3 mm by perception) leaves about half
    of the 2 mm cells empty, and a cell at an object's edge may hold only a point of the table
    (or a flying pixel) below it. The neighbourhood maximum reads an object's top there; it
    widens objects by 4 mm, far less than the OUT annulus keeps from them (>= 5 cm from the
    centre, and half the held object beyond the edge)."""
    heights = np.zeros(grid.shape)
    if len(points_m):
        cells = grid.cell(points_m[:, :2])
        np.maximum.at(heights, (cells[:, 0], cells[:, 1]), points_m[:, 2] - table_height_m)
    filled: FloatArray = maximum_filter(heights, size=2 * HOLE_FILL_CELLS + 1, mode="constant")
    return filled


def _evenly_spaced(pixels: NDArray[np.intp]) -> NDArray[np.intp]:
    """SAMPLES_PER_REGION pixels spread through the list (ORIG: linspace over its indices)."""
    if len(pixels) == 0:
        return pixels.reshape(0, 2)
    picks = np.unique(np.linspace(0, len(pixels) - 1, SAMPLES_PER_REGION).astype(np.intp))
    return pixels[picks]
