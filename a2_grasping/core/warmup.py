"""Warm-up: one dummy selection on a synthetic scene, so the first real request pays no lazy set-up.

The first selection after loading pays for things no later one does: torch's and oneDNN's kernel
and primitive creation for the CLIP tile shape, the allocator growing its pools, open3d's and
SciPy's first calls, the IK tables. `warm_up` runs the configured pipeline once on
`warm_up_scene` (a red box on the table seen by one 640x480 camera, the resolution of the cell's
cameras) and reports how long it took and how it ended. Its answer is discarded; a refusal
(e.g. TIMEOUT of a2 mode on a slow CPU) still warmed whatever ran before it and is reported, not
raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.errors import SelectionError
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.request import SelectRequest

WARM_UP_INSTRUCTION = "pick the red box"
WARM_UP_IMAGE_HW = (480, 640)
# Where the dummy box stands (base frame, m): in front of a UR5e, well within its reach.
WARM_UP_BOX_CENTRE_XY_M = (0.45, 0.0)
WARM_UP_BOX_SIZE_M = (0.05, 0.04, 0.06)
_RED = (200, 30, 30)
_TABLE = (150, 120, 90)


@dataclass(frozen=True)
class WarmUpResult:
    """How the dummy selection went: seconds, and 'NONE' or the refusal's code name."""

    seconds: float
    outcome: str
    message: str = ""

    def describe(self) -> str:
        detail = f" ({self.message})" if self.message else ""
        return f"warm-up selection {self.seconds:.2f} s, {self.outcome}{detail}"


def _grid(low: float, high: float, step: float) -> NDArray[np.float64]:
    """From low to high inclusive, at most `step` apart."""
    return np.linspace(low, high, int(np.ceil((high - low) / step)) + 1)


def _box_surface(
    centre_xy_m: tuple[float, float], size_m: tuple[float, float, float], base_z_m: float
) -> NDArray[np.float64]:
    """Points every 4 mm on the top and the four sides of an axis-aligned box on the table."""
    step = 0.004
    half_x, half_y, height = 0.5 * size_m[0], 0.5 * size_m[1], size_m[2]
    xs, ys = _grid(-half_x, half_x, step), _grid(-half_y, half_y, step)
    zs = _grid(step, height, step)
    top = np.array([(x, y, height) for x in xs for y in ys])
    x_sides = np.array([(sx, y, z) for sx in (-half_x, half_x) for y in ys for z in zs])
    y_sides = np.array([(x, sy, z) for sy in (-half_y, half_y) for x in xs for z in zs])
    points = np.concatenate([top, x_sides, y_sides])
    offset = np.array([centre_xy_m[0], centre_xy_m[1], base_z_m])
    surface: NDArray[np.float64] = points + offset
    return surface


def warm_up_scene(table_height_m: float = 0.0, stamp_s: float = 0.0) -> Scene:
    """A red 5 x 4 x 6 cm box on a grey table patch, one camera 0.45 m above it looking down.

    The cloud is what a fused scene would hold (box surface and table, base frame); the view is
    640x480 with the box drawn where it projects, so a2 mode runs CLIP on the tiles it covers.
    """
    rng = np.random.default_rng(0)
    centre_x, centre_y = WARM_UP_BOX_CENTRE_XY_M
    box = _box_surface(WARM_UP_BOX_CENTRE_XY_M, WARM_UP_BOX_SIZE_M, table_height_m)
    table_xy = np.stack(
        np.meshgrid(_grid(centre_x - 0.15, centre_x + 0.15, 0.005), _grid(-0.15, 0.15, 0.005)),
        axis=-1,
    ).reshape(-1, 2)
    near_box = (np.abs(table_xy[:, 0] - centre_x) <= 0.5 * WARM_UP_BOX_SIZE_M[0] + 0.002) & (
        np.abs(table_xy[:, 1] - centre_y) <= 0.5 * WARM_UP_BOX_SIZE_M[1] + 0.002
    )
    table = np.c_[table_xy[~near_box], np.full((~near_box).sum(), table_height_m)]
    points = np.concatenate([box, table]) + rng.normal(0.0, 2e-4, (len(box) + len(table), 3))
    colors = np.concatenate(
        [np.tile(np.array(_RED, np.uint8), (len(box), 1)), np.tile(_TABLE, (len(table), 1))]
    ).astype(np.uint8)

    height, width = WARM_UP_IMAGE_HW
    camera_height_m = 0.45
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])  # optical z down, image x along base x
    pose[:3, 3] = (centre_x, centre_y, table_height_m + camera_height_m)
    focal = 0.5 * width / np.tan(np.radians(35.0))  # 70 degrees horizontal field of view
    intrinsics = np.array(
        [[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]]
    )
    depth = np.full((height, width), camera_height_m, np.float32)
    color = np.tile(np.array(_TABLE, np.uint8), (height, width, 1))
    half_u = focal * 0.5 * WARM_UP_BOX_SIZE_M[0] / (camera_height_m - WARM_UP_BOX_SIZE_M[2])
    half_v = focal * 0.5 * WARM_UP_BOX_SIZE_M[1] / (camera_height_m - WARM_UP_BOX_SIZE_M[2])
    rows = slice(int((height - 1) / 2 - half_v), int((height - 1) / 2 + half_v) + 1)
    cols = slice(int((width - 1) / 2 - half_u), int((width - 1) / 2 + half_u) + 1)
    color[rows, cols] = _RED
    depth[rows, cols] = camera_height_m - WARM_UP_BOX_SIZE_M[2]
    view = CameraView(
        color_rgb=color,
        depth_m=depth,
        intrinsics=intrinsics,
        base_from_camera=pose,
        name="warm_up",
    )
    return Scene(
        frame_id="base_link",
        stamp_s=stamp_s,
        points_xyz=points.astype(np.float32),
        colors_rgb=colors,
        workspace_box_m=np.array(
            [
                centre_x - 0.2,
                centre_x + 0.2,
                -0.2,
                0.2,
                table_height_m - 0.01,
                table_height_m + 0.4,
            ]
        ),
        views=(view,),
    )


def warm_up(
    select: Callable[[Scene, SelectRequest], object],
    table_height_m: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> WarmUpResult:
    """Run `select` once on the warm-up scene; never raises a selection refusal."""
    scene = warm_up_scene(table_height_m)
    request = SelectRequest(WARM_UP_INSTRUCTION, (), 1, 1.0)
    started_s = clock()
    try:
        select(scene, request)
    except SelectionError as error:
        return WarmUpResult(clock() - started_s, error.code.name, error.message)
    return WarmUpResult(clock() - started_s, "NONE")
