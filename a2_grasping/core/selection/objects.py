"""Objects, not just points: the workspace cloud above the table split into described instances.

open3d does the point-cloud work it is built for (voxel filter, statistical outliers, table plane
by RANSAC, DBSCAN clustering); numpy describes each cluster:
- footprint: the minimum-area rectangle of the cluster's top-down projection (its yaw and the two
  horizontal extents), and the circle that best fits the same outline;
- height above the table (the top of the cluster: the camera sees every top face);
- colour: the median of the cluster's colours in CIELAB (robust to shading and stray edge pixels),
  named by `colors.name_color`;
- shape class: a ball has a curved top (its highest points gather in a small cap) and fits a
  sphere over all its points; else round or square
  by how much of its smallest enclosing rectangle the footprint's convex hull fills (cylinder /
  box; see _ROUND_FILL); a narrow decision keeps the runner-up as `shape_doubt`.
Centroid and box describe the whole object (footprint centre, half its height), not the mean of
the visible points, which leans towards the cameras.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.selection.colors import name_color, rgb_to_lab

FloatArray = NDArray[np.float64]


# Receptacles (plates, trays) are flat: at most this high, and their narrow side at least
# FLAT_ASPECT times their height. The graspable solids of the cell stand at least 2.6 cm high.
FLAT_HEIGHT_M = 0.025
FLAT_ASPECT = 3.0
_PLANE_FIT_MAX_POINTS = 10_000


class ShapeClass(enum.StrEnum):
    BOX = "box"
    CYLINDER = "cylinder"
    SPHERE = "sphere"


@dataclass(frozen=True)
class SegmentationConfig:
    """How the cloud above the table is split into objects (inference_node parameters)."""

    cluster_distance_m: float = config_field(
        0.008,
        "DBSCAN neighbourhood: points closer than this belong to one object. Above the cloud's "
        "voxel size (3 mm) so one surface stays one cluster, below the 3 cm gap the simulated "
        "cell keeps between objects. Touching objects merge (documented limit).",
        min_value=0.001,
        max_value=0.1,
    )
    cluster_core_neighbours: int = config_field(
        8,
        "DBSCAN: neighbours a core point needs within cluster_distance_m.",
        min_value=1,
        max_value=1000,
    )
    min_cluster_points: int = config_field(
        40,
        "Clusters with fewer points are noise (flying pixels, a finger tip), not objects.",
        min_value=1,
        max_value=100_000,
    )
    min_object_height_m: float = config_field(
        0.008,
        "Clusters whose top is lower than this above the table are stains or depth noise.",
        min_value=0.0,
        max_value=0.2,
    )
    refine_table_plane: bool = config_field(
        True,
        "Fit the table plane (RANSAC) near table_height_m and measure heights from it: a table "
        "a few mm off its configured height or slightly tilted still yields clean objects.",
    )
    sphere_residual_ratio: float = config_field(
        0.13,
        "A cluster with a curved top whose points lie within this fraction of the fitted radius "
        "(RMS) of a sphere, with a height close to the sphere's diameter, is a sphere (balls "
        "fit within 0.10 r under a D435 with a 3 mm calibration error, boxes from 0.12 r).",
        min_value=0.0,
        max_value=1.0,
    )

    def __post_init__(self) -> None:
        validate_ranges(self)


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One object on the table, as the cameras see it, in the base frame.

    `index` is its position in the scene's object list (sorted by x then y, so it is stable for
    a still scene); `point_indices` index the cloud the objects were segmented from.
    """

    index: int
    point_indices: NDArray[np.intp]
    centroid_m: FloatArray  # (3,) footprint centre at half the height
    extents_m: FloatArray  # (3,) length >= width along the footprint axes, then the height
    yaw_rad: float  # direction of the footprint's long axis about base z, in [0, pi)
    color_lab: FloatArray  # (3,) median CIELAB
    color_name: str
    shape: ShapeClass
    shape_residual: float  # the winning fit's residual, relative to the object's size
    # The other shape the fits could not rule out (noise and two slightly disagreeing views round
    # a small cube's outline or flatten a small ball's top); None when the shape is clear.
    shape_doubt: ShapeClass | None = None

    @property
    def height_m(self) -> float:
        return float(self.extents_m[2])

    @property
    def footprint_radius_m(self) -> float:
        """Radius of the circle around the centre that covers the footprint."""
        return 0.5 * float(np.hypot(self.extents_m[0], self.extents_m[1]))

    def footprint_distance_m(self, xy_m: NDArray[np.floating]) -> FloatArray:
        """Per point (N, 2), its distance to the footprint, 0 inside: the circle of a round
        object, the rectangle of a box at its yaw (a box's circle reaches its corners' distance
        on every side, up to 41 % beyond a face)."""
        offset = np.atleast_2d(np.asarray(xy_m, dtype=np.float64)) - self.centroid_m[:2]
        if self.shape is not ShapeClass.BOX:
            radius = 0.5 * float(self.extents_m[0])
            distance: FloatArray = np.maximum(np.linalg.norm(offset, axis=1) - radius, 0.0)
            return distance
        cos, sin = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        along = np.abs(cos * offset[:, 0] + sin * offset[:, 1]) - 0.5 * float(self.extents_m[0])
        across = np.abs(cos * offset[:, 1] - sin * offset[:, 0]) - 0.5 * float(self.extents_m[1])
        outside = np.column_stack([np.maximum(along, 0.0), np.maximum(across, 0.0)])
        box_distance: FloatArray = np.linalg.norm(outside, axis=1)
        return box_distance

    @property
    def footprint_area_m2(self) -> float:
        return float(self.extents_m[0] * self.extents_m[1])

    @property
    def volume_m3(self) -> float:
        """Of the bounding box: a size measure comparable across shapes."""
        return float(np.prod(self.extents_m))

    @property
    def is_flat(self) -> bool:
        """A receptacle (plate, tray): at most FLAT_HEIGHT_M high and much wider than high."""
        return bool(
            self.height_m <= FLAT_HEIGHT_M and self.extents_m[1] >= FLAT_ASPECT * self.height_m
        )

    @property
    def noun(self) -> str:
        if self.is_flat:
            return "plate" if self.shape is ShapeClass.CYLINDER else "tray"
        return {ShapeClass.BOX: "box", ShapeClass.CYLINDER: "cylinder", ShapeClass.SPHERE: "ball"}[
            self.shape
        ]

    @property
    def description(self) -> str:
        """ "red box (6.0 x 3.1 x 4.2 cm at x 0.52 y -0.10)": what error messages list."""
        size = " x ".join(f"{100 * v:.1f}" for v in self.extents_m)
        x, y, _ = self.centroid_m
        return f"{self.color_name} {self.noun} ({size} cm at x {x:.2f} y {y:.2f})"

    def base_from_box(self) -> FloatArray:
        """Pose of the object's box (x along the long footprint axis, z up) in the base frame."""
        cos_yaw, sin_yaw = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        pose = np.eye(4)
        pose[:2, :2] = [[cos_yaw, -sin_yaw], [sin_yaw, cos_yaw]]
        pose[:3, 3] = self.centroid_m
        return pose

    def contains(self, points_m: NDArray[np.floating], margin_m: float = 0.0) -> NDArray[np.bool_]:
        """Mask of points inside the object's box grown by `margin_m` on every side."""
        local = (np.asarray(points_m, dtype=np.float64) - self.centroid_m) @ self.base_from_box()[
            :3, :3
        ]
        inside: NDArray[np.bool_] = np.all(np.abs(local) <= 0.5 * self.extents_m + margin_m, axis=1)
        return inside


def segment_objects(
    points_xyz: NDArray[np.floating],
    colors_rgb: NDArray[np.uint8],
    table_height_m: float,
    table_margin_m: float,
    config: SegmentationConfig,
) -> tuple[SceneObject, ...]:
    """The objects in a workspace cloud (base frame, z up, table top at about table_height_m).

    Deterministic for a given cloud: open3d's DBSCAN labels do not depend on thread timing, and
    objects are sorted by position.
    """
    import open3d as o3d  # deferred: 0.5 s import, only nodes that segment pay it

    points = np.asarray(points_xyz, dtype=np.float64).reshape(-1, 3)
    colors = np.asarray(colors_rgb, dtype=np.uint8).reshape(-1, 3)
    if len(points) != len(colors):
        raise ValueError(f"{len(points)} points but {len(colors)} colours")
    plane = _table_plane(o3d, points, table_height_m, table_margin_m, config)
    height = points @ plane[:3] + plane[3]  # (N,) signed height above the table plane
    above = np.flatnonzero(height > table_margin_m)
    if len(above) < config.min_cluster_points:
        return ()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[above]))
    labels = np.asarray(
        cloud.cluster_dbscan(
            eps=config.cluster_distance_m,
            min_points=config.cluster_core_neighbours,
            print_progress=False,
        )
    )
    objects: list[SceneObject] = []
    for label in range(int(labels.max(initial=-1)) + 1):
        members = above[labels == label]
        if len(members) < config.min_cluster_points:
            continue
        described = _describe(points[members], height[members], colors[members], config)
        if described is None:
            continue
        objects.append(SceneObject(index=0, point_indices=members, **described))
    objects.sort(key=lambda o: (round(float(o.centroid_m[0]), 3), round(float(o.centroid_m[1]), 3)))
    return tuple(_with_index(o, i) for i, o in enumerate(objects))


def _with_index(obj: SceneObject, index: int) -> SceneObject:
    fields = {name: getattr(obj, name) for name in obj.__dataclass_fields__}
    fields["index"] = index
    return SceneObject(**fields)


def _table_plane(
    o3d: Any,
    points: FloatArray,
    table_height_m: float,
    table_margin_m: float,
    config: SegmentationConfig,
) -> FloatArray:
    """(a, b, c, d) of the table plane with a unit normal pointing up: height = p . n + d.

    RANSAC runs only on points within 1.5 cm of the configured height, so a large flat object
    top can never be taken for the table; without enough such points the configured plane is used.
    """
    configured = np.array([0.0, 0.0, 1.0, -table_height_m])
    if not config.refine_table_plane:
        return configured
    near = points[np.abs(points[:, 2] - table_height_m) < 0.015]
    if len(near) < 200:
        return configured
    # RANSAC scores every hypothesis on every point: an even subsample of at most
    # _PLANE_FIT_MAX_POINTS fixes the same plane (to well under a millimetre over the table) at a
    # fraction of the cost (6 ms for the ~55k table points of a clutter scene, AMD EPYC Zen 3).
    near = near[:: max(1, len(near) // _PLANE_FIT_MAX_POINTS)]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(near))
    plane, inliers = cloud.segment_plane(
        distance_threshold=max(table_margin_m, 0.002),
        ransac_n=3,
        num_iterations=200,
        probability=0.9999,
    )
    normal = np.asarray(plane[:3], dtype=np.float64)
    scale = float(np.linalg.norm(normal))
    if len(inliers) < 0.5 * len(near) or scale == 0.0:
        return configured
    fitted = np.asarray(plane, dtype=np.float64) / scale
    if fitted[2] < 0.0:
        fitted = -fitted
    if fitted[2] < math.cos(math.radians(5.0)):  # not the table: keep the configured plane
        return configured
    return fitted


def _describe(
    points: FloatArray,
    height_m: FloatArray,
    colors: NDArray[np.uint8],
    config: SegmentationConfig,
) -> dict[str, Any] | None:
    top_m = float(np.percentile(height_m, 99.0))
    if top_m < config.min_object_height_m:
        return None
    xy = points[:, :2]
    hull = _convex_hull(xy)
    corners, yaw, sides = _min_area_rectangle(hull)
    length, width = max(sides), min(sides)
    fill = _polygon_area(hull) / max(sides[0] * sides[1], 1e-12)
    center_xy = corners.mean(axis=0)
    outline = _outline(xy)
    circle_center, radius = _fit_circle(outline)
    rect_residual = _rectangle_residual(outline, center_xy, yaw, sides)
    circle_residual = float(
        np.sqrt(np.mean((np.linalg.norm(outline - circle_center, axis=1) - radius) ** 2))
    )
    sphere_center, sphere_radius, sphere_rms = _fit_sphere(points)
    scale = 0.5 * max(width, 1e-3)
    curved_top = not _flat_top(xy, height_m, top_m, width)
    is_sphere = (
        curved_top
        and sphere_rms <= config.sphere_residual_ratio * sphere_radius
        and abs(2.0 * sphere_radius - top_m) <= 0.25 * top_m
        and abs(2.0 * sphere_radius - length) <= 0.3 * length
    )
    if is_sphere:
        shape, residual = ShapeClass.SPHERE, sphere_rms / sphere_radius
        center_xy = sphere_center[:2]
        length = width = 2.0 * sphere_radius
    elif fill < _ROUND_FILL and _circle_spans_footprint(radius, length, width):
        shape, residual = ShapeClass.CYLINDER, circle_residual / scale
        center_xy = circle_center
        length = width = 2.0 * radius
    else:
        shape, residual = ShapeClass.BOX, rect_residual / scale
        center_xy, sides = _trimmed_rectangle(xy, yaw)
        length, width = max(sides), min(sides)
    doubt = _shape_doubt(
        shape,
        sphere_like=(
            curved_top
            and sphere_rms <= _DOUBT_SPHERE_RESIDUAL * config.sphere_residual_ratio * sphere_radius
            and abs(2.0 * sphere_radius - top_m) <= 0.35 * top_m
            and abs(2.0 * sphere_radius - length) <= 0.4 * length
        ),
        fill=fill,
        circle_spans=_circle_spans_footprint(radius, *sorted(sides, reverse=True)),
    )
    lab = np.median(rgb_to_lab(colors), axis=0)
    base_z = float(np.median(points[:, 2] - height_m))  # the table under the object
    return {
        "centroid_m": np.array([center_xy[0], center_xy[1], base_z + 0.5 * top_m]),
        "extents_m": np.array([length, width, top_m]),
        "yaw_rad": float(yaw % math.pi)
        if sides[0] >= sides[1]
        else float((yaw + 0.5 * math.pi) % math.pi),
        "color_lab": lab,
        "color_name": name_color(lab),
        "shape": shape,
        "shape_residual": float(residual),
        "shape_doubt": doubt,
    }


# Doubt: a curved top whose sphere fit is within this multiple of sphere_residual_ratio.
_DOUBT_SPHERE_RESIDUAL = 1.3
# Round or square: the share of the smallest enclosing rectangle that the footprint's convex
# hull fills. A circle fills pi/4 = 0.785, a square 1. Two views a few millimetres apart (a
# hand-eye residual) smear a footprint into its Minkowski sum with a segment, which leaves a
# square at 1 and takes a circle of radius r to (pi r + 2 d) / (4 r + 2 d): 0.81 for r = 13 mm,
# d = 4 mm. Outline residuals (which fit the smeared circle's straight sides as a rectangle)
# named 13 % of boxes cylinders under D435 + 3 mm / 0.4 deg; the fill separates them: boxes
# 0.83 (one 2.8 cm cube) / p5 0.89, cylinders p95 0.85 / 0.89 (one 2.5 cm cylinder), on 18
# language and place scenes, 3 observations each (ideal: boxes >= 0.94, cylinders <= 0.80).
_ROUND_FILL = 0.86
# A box's sides leave out this share (%) of its footprint points on each side. The side faces
# project onto the footprint's edges, so the trimmed bound stays on the edge while stray readings
# beyond it go. Box sides minus the truth on 13 place scenes (26 boxes, D435 + 3 mm / 0.4 deg,
# 5 frames): hull +7.0 / +4.1 mm mean (length / width), max +12.8 / +11.2; trimmed 0.5 %:
# +4.9 / +2.3, max +7.8 / +5.5 (the rest is the two views' offset); ideal sensor: hull
# +0.9 / +0.5, trimmed +0.4 / 0.0. The held object's inflated size left no free spot to place it.
_TRIM_PERCENT = 0.5
# Fills where the other shape is kept as a doubt: the band where the two classes were both
# measured, with a margin. D435 + 3 mm / 0.4 deg on language and clutter scenes 3300-3339 (1026
# boxes and cylinders, 2 observations each): boxes from 0.843 (2.6-2.8 cm cubes: noise rounds
# their corners), cylinders up to 0.864. The former band of 0.015 around _ROUND_FILL left 3 of
# them wrong without a doubt, and in the language benchmark a 3.7 cm cube read as a cylinder
# with no doubt was picked as "the farthest pink cylinder" and reported a success. This band:
# 0 wrong without a doubt; a doubt on 5 % of boxes and 8 % of cylinders (ideal sensor: none),
# which matters only where a shape word decides between objects (grounding then refuses).
_CYLINDER_DOUBT_FROM_FILL = 0.83
_BOX_DOUBT_BELOW_FILL = 0.885
# A top is flat when the points within _CAP_DEPTH_M of it spread (90th percentile distance from
# their centre) over this share of the half width: a cylinder's or a box's top face does (>= 1),
# a ball's cap 3 mm deep spans sqrt(2 r 3 mm), 0.6 r at r = 17 mm, more with two views a few mm
# apart. It is what tells a ball from a cylinder as tall as it is wide: their sphere fits
# overlap (ball 0.03-0.10 r RMS under D435 + 3 mm / 0.4 deg, a cylinder from 0.093 r). Measured
# on language scenes 3300-3339 (2 observations of 3 frames each): balls at most 0.81 (D435 + 3 mm
# / 0.4 deg), 0.78 (L515), 0.74 (ideal); cylinders at least 0.93, 0.94, 0.98; boxes 1.01, 0.99,
# 1.12.
_CAP_DEPTH_M = 0.003
_FLAT_TOP_SPREAD = 0.87


def _flat_top(xy: FloatArray, height_m: FloatArray, top_m: float, width_m: float) -> bool:
    cap = xy[height_m >= top_m - _CAP_DEPTH_M]
    if len(cap) < 10:
        return False
    spread = float(np.percentile(np.linalg.norm(cap - cap.mean(axis=0), axis=1), 90))
    return spread >= _FLAT_TOP_SPREAD * 0.5 * width_m


def _shape_doubt(
    shape: ShapeClass,
    *,
    sphere_like: bool,
    fill: float,
    circle_spans: bool,
) -> ShapeClass | None:
    """The runner-up shape when the fits decide only narrowly (grounding refuses rather than
    guesses when a shape word's choice depends on it)."""
    if shape is not ShapeClass.SPHERE and sphere_like:
        return ShapeClass.SPHERE
    if shape is ShapeClass.CYLINDER and fill >= _CYLINDER_DOUBT_FROM_FILL:
        return ShapeClass.BOX
    if shape is ShapeClass.BOX and circle_spans and fill < _BOX_DOUBT_BELOW_FILL:
        return ShapeClass.CYLINDER
    return None


def _circle_spans_footprint(radius_m: float, length_m: float, width_m: float) -> bool:
    """A cylinder's circle is its footprint: its diameter matches both sides of the
    rectangle. An arc-shaped outline (a banana, a handle) fits a circle far wider than it."""
    diameter = 2.0 * radius_m
    return abs(diameter - length_m) <= 0.3 * length_m and abs(diameter - width_m) <= 0.3 * width_m


def _outline(xy: FloatArray) -> FloatArray:
    """Points of the top-down outline: per angular bin around the centre, the farthest point.

    The top face of a box or cylinder is seen whole from above, so its outline is the footprint;
    using only the outermost points keeps interior points from diluting the fit residuals.
    """
    center = xy.mean(axis=0)
    offset = xy - center
    angle = np.arctan2(offset[:, 1], offset[:, 0])
    radius = np.linalg.norm(offset, axis=1)
    bins = ((angle + math.pi) / (2.0 * math.pi) * 72).astype(np.int64) % 72
    order = np.lexsort((-radius, bins))
    first = np.r_[True, bins[order][1:] != bins[order][:-1]]
    return xy[order[first]]


def _convex_hull(xy: FloatArray) -> FloatArray:
    """The hull's vertices in counter-clockwise order (all points where qhull fails: a
    degenerate, collinear cluster)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        vertices: NDArray[np.int64] = np.asarray(ConvexHull(xy).vertices, dtype=np.int64)
    except (QhullError, ValueError):
        return xy
    return xy[vertices]


def _polygon_area(vertices: FloatArray) -> float:
    """Shoelace area of a polygon given by its vertices in order."""
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _min_area_rectangle(hull: FloatArray) -> tuple[FloatArray, float, tuple[float, float]]:
    """(4 corners, yaw of the first side, (side along yaw, side across)) of the smallest
    rectangle around a convex hull (`_convex_hull`); the optimum has a side on a hull edge."""
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), 0.5 * math.pi))  # (A,)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    # The hull in each candidate frame, one (A, H) array per axis: outer products, no einsum
    # (which took 1.2 ms per 75-vertex cylinder outline, 20 ms per 15-object scene).
    along = cos * hull[:, 0] + sin * hull[:, 1]
    across = cos * hull[:, 1] - sin * hull[:, 0]
    x0, x1, y0, y1 = along.min(axis=1), along.max(axis=1), across.min(axis=1), across.max(axis=1)
    best = int(np.argmin((x1 - x0) * (y1 - y0)))
    rotation = np.array([[cos[best, 0], sin[best, 0]], [-sin[best, 0], cos[best, 0]]])
    low, high = (x0[best], y0[best]), (x1[best], y1[best])
    corners = np.array([low, [high[0], low[1]], high, [low[0], high[1]]]) @ rotation
    return corners, float(angles[best]), (float(high[0] - low[0]), float(high[1] - low[1]))


def _trimmed_rectangle(xy: FloatArray, yaw: float) -> tuple[FloatArray, tuple[float, float]]:
    """(centre, (side along yaw, side across)) of the footprint's rectangle at `yaw` without its
    outermost _TRIM_PERCENT of points on each side: the hull's rectangle spans every stray
    reading at an edge."""
    cos, sin = math.cos(yaw), math.sin(yaw)
    along = cos * xy[:, 0] + sin * xy[:, 1]
    across = cos * xy[:, 1] - sin * xy[:, 0]
    low_along, high_along = np.percentile(along, (_TRIM_PERCENT, 100.0 - _TRIM_PERCENT))
    low_across, high_across = np.percentile(across, (_TRIM_PERCENT, 100.0 - _TRIM_PERCENT))
    mid_along, mid_across = 0.5 * (low_along + high_along), 0.5 * (low_across + high_across)
    center = np.array([cos * mid_along - sin * mid_across, sin * mid_along + cos * mid_across])
    return center, (float(high_along - low_along), float(high_across - low_across))


def _rectangle_residual(
    outline: FloatArray, center: FloatArray, yaw: float, sides: tuple[float, float]
) -> float:
    """RMS distance of outline points to the rectangle's boundary."""
    rotation = np.array([[math.cos(yaw), math.sin(yaw)], [-math.sin(yaw), math.cos(yaw)]])
    local = np.abs((outline - center) @ rotation.T)
    half = 0.5 * np.asarray(sides)
    outside = np.linalg.norm(np.maximum(local - half, 0.0), axis=1)
    inside = np.min(half - local, axis=1)
    distance = np.where(np.all(local <= half, axis=1), inside, outside)
    return float(np.sqrt(np.mean(distance**2)))


def _fit_circle(outline: FloatArray) -> tuple[FloatArray, float]:
    """Least-squares circle (Kasa) through outline points (see `_outline`)."""
    design = np.column_stack([2.0 * outline, np.ones(len(outline))])
    target = np.sum(outline**2, axis=1)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    center = solution[:2]
    radius = math.sqrt(max(float(solution[2] + center @ center), 0.0))
    return center, radius


def _fit_sphere(points: FloatArray) -> tuple[FloatArray, float, float]:
    """(centre, radius, RMS residual) of the least-squares sphere through the points."""
    design = np.column_stack([2.0 * points, np.ones(len(points))])
    target = np.sum(points**2, axis=1)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    center = solution[:3]
    radius = math.sqrt(max(float(solution[3] + center @ center), 1e-12))
    residual = np.linalg.norm(points - center, axis=1) - radius
    return center, radius, float(np.sqrt(np.mean(residual**2)))
