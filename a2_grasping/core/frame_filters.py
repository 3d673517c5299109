"""What a real camera's frame needs before fusion: cleaned depth, a table-true pose, neutral colour.

A RealSense-class camera with a hand-eye calibration delivers depth noise that grows with z²,
flying pixels between foreground and background, holes, colour under a lab's light and an
extrinsic off by a few millimetres and tenths of a degree. Per camera, in this order:

1. **Flying pixels** (`edge_filter_jump_m`): in each 3x3 window whose depth range exceeds the
   jump, a pixel is kept only when it lies within `edge_filter_keep_m` of the window's nearest or
   farthest depth, i.e. on one of the two surfaces; pixels in between (interpolated by the
   stereo matcher or a ToF's mixed returns) are dropped. The rim pixels of both surfaces stay,
   so objects keep their size.
2. **Spatial smoothing** (`bilateral_sigma_m`): open3d's bilateral filter on the depth image,
   edge-preserving (a value sigma of a few mm never mixes an object with the table behind it),
   holes stay holes (their zero depth is far from every neighbour's value).
3. **Temporal averaging** (`temporal_alpha`): per pixel, an exponential average over the frames
   the node fuses while the scene is still, the way the RealSense temporal filter works: a pixel
   whose new depth differs by more than `temporal_delta_m` from its average starts again from the
   new value, so a lifted object or a moving arm shows at once; invalid pixels take the new
   (invalid) reading, so nothing persists that is not seen now.
4. **Table alignment** (`align_to_table`): the table top is the plane z = table_height_m of the
   base frame. Each camera's own table points (within 2 cm of it) are fitted with open3d's RANSAC
   plane; the rotation and height shift that put that plane on the nominal one correct the part
   of the camera's calibration error that lifts or tilts the table (two cameras that disagreed by
   5 mm made the whole table an "object"). Corrections above `max_table_correction_deg` /
   `_m` are refused (a wrong calibration is reported, not hidden). The view's pose is replaced
   by the corrected one, so the collision cloud and CLIP's projection use it too.
5. **White balance** (`white_balance`): the table, a large surface of known colour
   (`table_rgb`), serves as the white reference: per-channel gains that give its pixels that
   colour undo the light's colour temperature, white-balance drift and exposure. Chosen over
   gray-world because a scene of mostly red objects has no grey mean; the table is always in view
   and of one colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.geometry import deproject
from a2_grasping.core.perception_config import PerceptionConfig
from a2_grasping.core.scene import CameraView

# Table alignment: points within this of the nominal table height are table candidates, and at
# least this many (after subsampling) must agree on a plane.
_TABLE_BAND_M = 0.02
_TABLE_MIN_POINTS = 500
_TABLE_MAX_POINTS = 8000
_TABLE_INLIER_M = 0.004
# Corrections below RANSAC's own repeatability on a flat table are not applied: on exact depth
# (the ideal cell, a bag of it) the fitted plane differs between runs by ~1e-7, which moved a few
# points across voxel borders and changed the seeded selection's grasp by a centimetre.
_TABLE_DEADBAND_DEG = 0.05
_TABLE_DEADBAND_M = 0.0005
# The table plane and the white balance are refitted at most this often (frame time): the
# calibration and the light change over minutes, and the two fits cost ~20 ms a frame.
REFIT_PERIOD_S = 1.0
# White balance: gains outside this range mean the reference is not the table (or no light);
# 4x still balances a 3500 K light on a camera without auto white balance (blue at 0.3 of red).
_GAIN_RANGE = (0.25, 4.0)


@dataclass(frozen=True)
class TableCorrection:
    """The rigid correction applied to one camera's pose: corrected = correction @ nominal."""

    base_from_base: NDArray[np.float64]  # (4, 4)
    tilt_deg: float
    shift_m: float
    table_points: int

    @staticmethod
    def identity() -> TableCorrection:
        return TableCorrection(np.eye(4), 0.0, 0.0, 0)


def remove_flying_pixels(
    depth_m: NDArray[np.float32], jump_m: float, keep_m: float
) -> NDArray[np.float32]:
    """Depth with the pixels between two surfaces set to 0 (see the module docstring, step 1).

    3x3 windows: a flying pixel lies next to the jump it straddles, so its 8 neighbours hold
    both surfaces. 5x5 windows also took in real pixels two pixels from an edge on a surface seen
    at 45 degrees (1.5-2 mm of depth a pixel at 0.8-1 m); those holes left the other camera no
    free-space evidence, and occlusion shadows closed the path around a wall.

    Every pixel of a 3x3 window is one step from its centre, so a window whose range exceeds
    `jump_m` has a step of more than half of it at its centre: the windows are evaluated only on
    pixels with such a step to a neighbour (the few near edges), 3-5 ms a 640x480 frame instead
    of 13 ms for two full min / max filters.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0.0)
    clean = np.where(valid, depth, np.float32(0.0)).astype(np.float32)
    height, width = clean.shape
    padded = np.pad(clean, 1)  # the border reads as invalid
    offsets = [(dv, du) for dv in (-1, 0, 1) for du in (-1, 0, 1)]
    half_jump = np.float32(0.5 * jump_m)
    candidate = np.zeros_like(valid)
    for dv, du in offsets:
        neighbour = padded[1 + dv : 1 + dv + height, 1 + du : 1 + du + width]
        candidate |= (neighbour > 0.0) & (np.abs(clean - neighbour) > half_jump)
    rows, cols = np.nonzero(candidate & valid)
    if len(rows) == 0:
        return clean
    windows = np.stack([padded[rows + 1 + dv, cols + 1 + du] for dv, du in offsets])  # (9, C)
    present = windows > 0.0
    nearest = np.where(present, windows, np.inf).min(axis=0)
    farthest = np.where(present, windows, -np.inf).max(axis=0)
    values = clean[rows, cols]
    between = (
        (farthest - nearest > jump_m) & (values - nearest > keep_m) & (farthest - values > keep_m)
    )
    clean[rows[between], cols[between]] = 0.0
    return clean


def bilateral_depth(
    depth_m: NDArray[np.float32], sigma_m: float, kernel_px: int
) -> NDArray[np.float32]:
    """open3d's bilateral filter (value sigma in metres, spatial sigma of half the kernel)."""
    import open3d as o3d  # deferred: 0.5 s import

    tensor = o3d.core.Tensor.from_numpy(np.ascontiguousarray(depth_m, np.float32))
    image = o3d.t.geometry.Image(tensor)
    filtered = image.filter_bilateral(
        kernel_size=kernel_px, value_sigma=sigma_m, dist_sigma=0.5 * kernel_px
    )
    result = filtered.as_tensor().numpy().reshape(depth_m.shape)
    # Invalid pixels stay invalid (the filter leaves them near 0, not exactly 0).
    smoothed: NDArray[np.float32] = np.where(depth_m > 0.0, result, 0.0).astype(np.float32)
    return smoothed


def fit_table_correction(
    view: CameraView, table_height_m: float, config: PerceptionConfig
) -> TableCorrection | None:
    """The correction that puts this camera's table plane on z = table_height_m; None when the
    camera sees too little table or the plane it sees is not near the nominal one."""
    import open3d as o3d

    box = np.asarray(config.workspace_box_m, dtype=np.float64).copy()
    box[4], box[5] = table_height_m - _TABLE_BAND_M, table_height_m + _TABLE_BAND_M
    points, _ = deproject(view.depth_m, view.intrinsics, view.base_from_camera, box_m=box)
    if len(points) < _TABLE_MIN_POINTS:
        return None
    points = points[:: max(1, len(points) // _TABLE_MAX_POINTS)].astype(np.float64)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    plane, inliers = cloud.segment_plane(
        distance_threshold=_TABLE_INLIER_M, ransac_n=3, num_iterations=200, probability=0.9999
    )
    if len(inliers) < max(_TABLE_MIN_POINTS // 2, 0.4 * len(points)):
        return None
    normal = np.asarray(plane[:3], dtype=np.float64)
    offset = float(plane[3])
    scale = float(np.linalg.norm(normal))
    normal, offset = normal / scale, offset / scale
    if normal[2] < 0.0:
        normal, offset = -normal, -offset
    tilt = math.degrees(math.acos(min(1.0, float(normal[2]))))
    inlier_points = points[np.asarray(inliers)]
    centre = inlier_points.mean(axis=0)
    # Rotate the fitted normal onto +z about the table points' centre, then shift to the height.
    rotation = _rotation_between(normal, np.array([0.0, 0.0, 1.0]))
    on_plane = centre - (centre @ normal + offset) * normal
    correction = np.eye(4)
    correction[:3, :3] = rotation
    correction[:3, 3] = on_plane - rotation @ on_plane
    shift = table_height_m - float((correction[:3, :3] @ on_plane + correction[:3, 3])[2])
    correction[2, 3] += shift
    height_error = float(on_plane[2] - table_height_m)
    return TableCorrection(correction, tilt, -height_error, len(inliers))


def _rotation_between(
    source: NDArray[np.float64], target: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Smallest rotation taking unit vector `source` to unit vector `target` (Rodrigues)."""
    axis = np.cross(source, target)
    sine, cosine = float(np.linalg.norm(axis)), float(source @ target)
    if sine < 1e-12:
        return np.eye(3)
    k = axis / sine
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    rotation: NDArray[np.float64] = np.eye(3) + sine * cross + (1.0 - cosine) * cross @ cross
    return rotation


def table_white_gains(
    view: CameraView, table_height_m: float, table_rgb: NDArray[np.float64], box_m: Any
) -> NDArray[np.float64] | None:
    """Per-channel gains that give the table's pixels `table_rgb` (0..1); None without table."""
    box = np.asarray(box_m, dtype=np.float64).copy()
    box[4], box[5] = table_height_m - 0.004, table_height_m + 0.004
    _, pixels = deproject(view.depth_m, view.intrinsics, view.base_from_camera, box_m=box)
    if len(pixels) < _TABLE_MIN_POINTS:
        return None
    colours = view.color_rgb.reshape(-1, 3)[pixels[:: max(1, len(pixels) // 20000)]]
    observed = np.median(colours.astype(np.float64), axis=0) / 255.0
    if np.any(observed < 0.05) or np.any(observed > 0.995):  # clipped or black: no reference
        return None
    gains = np.asarray(table_rgb, dtype=np.float64) / observed
    if np.any(gains < _GAIN_RANGE[0]) or np.any(gains > _GAIN_RANGE[1]):
        return None
    return gains


def apply_gains(color_rgb: NDArray[np.uint8], gains: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Per-channel gains through one lookup table over the packed channel-and-value index."""
    lut = np.clip(np.rint(np.arange(256)[None, :] * gains[:, None]), 0, 255).astype(np.uint8)
    index = np.asarray(color_rgb, dtype=np.intp) + np.array([0, 256, 512], dtype=np.intp)
    balanced: NDArray[np.uint8] = lut.reshape(-1)[index]
    return balanced


class CameraFilter:
    """One camera's filter chain; keeps the temporal average between its frames."""

    def __init__(self, config: PerceptionConfig) -> None:
        self._config = config
        self._average: NDArray[np.float32] | None = None
        self.correction = TableCorrection.identity()
        self.gains = np.ones(3)
        self.problem = ""  # why a correction was not applied (diagnostics), "" when fine
        self._balanced = False  # self.gains came from a table seen in this camera
        self._fitted_s = -math.inf

    def reset(self) -> None:
        self._average = None
        self._fitted_s = -math.inf

    def filter(self, view: CameraView, stamp_s: float = math.inf) -> CameraView:
        """The view with filtered depth, corrected pose and balanced colour (a new view).

        The table alignment and white balance are refitted when REFIT_PERIOD_S of frame time
        passed since the last fit (`stamp_s`: the frame's stamp; the default refits every
        frame), else the last fit is applied.
        """
        config = self._config
        depth = np.asarray(view.depth_m, dtype=np.float32)
        depth = np.where(np.isfinite(depth), depth, np.float32(0.0))
        if config.edge_filter_jump_m > 0.0:
            depth = remove_flying_pixels(
                depth, config.edge_filter_jump_m, config.edge_filter_keep_m
            )
        if config.bilateral_sigma_m > 0.0:
            depth = bilateral_depth(depth, config.bilateral_sigma_m, config.bilateral_kernel_px)
        if config.temporal_alpha < 1.0:
            depth = self._temporal(depth)
        filtered = replace(view, depth_m=depth)
        refit = not stamp_s - self._fitted_s < REFIT_PERIOD_S
        if refit:
            self._fitted_s = stamp_s
        if config.align_to_table:
            filtered = self._align(filtered, refit)
        if config.white_balance:
            filtered = self._balance(filtered, refit)
        return filtered

    def _temporal(self, depth: NDArray[np.float32]) -> NDArray[np.float32]:
        config = self._config
        average = self._average
        if average is None or average.shape != depth.shape:
            self._average = depth
            return depth
        valid = depth > 0.0
        similar = valid & (average > 0.0) & (np.abs(depth - average) <= config.temporal_delta_m)
        blended = average + np.float32(config.temporal_alpha) * (depth - average)
        result = np.where(similar, blended, depth).astype(np.float32)
        self._average = result
        return result

    def _align(self, view: CameraView, refit: bool) -> CameraView:
        if not refit:
            pose = self.correction.base_from_base @ np.asarray(view.base_from_camera, np.float64)
            return replace(view, base_from_camera=pose)
        config = self._config
        correction = fit_table_correction(view, config.table_height_m, config)
        if correction is None:
            self.problem = "table alignment: too little table in view; nominal extrinsics used"
            self.correction = TableCorrection.identity()
            return view
        if (
            correction.tilt_deg > config.max_table_correction_deg
            or abs(correction.shift_m) > config.max_table_correction_m
        ):
            self.problem = (
                f"table alignment refused: the table seen by this camera is tilted "
                f"{correction.tilt_deg:.2f} deg and {1000 * correction.shift_m:.1f} mm off "
                f"(limits {config.max_table_correction_deg} deg, "
                f"{1000 * config.max_table_correction_m:.0f} mm): check the calibration"
            )
            self.correction = TableCorrection.identity()
            return view
        if correction.tilt_deg < _TABLE_DEADBAND_DEG and abs(correction.shift_m) < (
            _TABLE_DEADBAND_M
        ):
            self.correction, self.problem = TableCorrection.identity(), ""
            return view
        self.correction, self.problem = correction, ""
        pose = correction.base_from_base @ np.asarray(view.base_from_camera, dtype=np.float64)
        return replace(view, base_from_camera=pose)

    def _balance(self, view: CameraView, refit: bool) -> CameraView:
        if refit:
            config = self._config
            gains = table_white_gains(
                view,
                config.table_height_m,
                np.asarray(config.table_rgb, dtype=np.float64),
                config.workspace_box_m,
            )
            # No table to balance against: the raw colours, not gains from another light.
            self._balanced = gains is not None
            self.gains = np.ones(3) if gains is None else gains
        if not self._balanced:
            return view
        return replace(view, color_rgb=apply_gains(np.asarray(view.color_rgb), self.gains))


class CameraFilterBank:
    """A CameraFilter per camera name."""

    def __init__(self, config: PerceptionConfig) -> None:
        self._config = config
        self.filters: dict[str, CameraFilter] = {}

    def filter(self, view: CameraView, stamp_s: float = math.inf) -> CameraView:
        camera = self.filters.setdefault(view.name, CameraFilter(self._config))
        return camera.filter(view, stamp_s)
