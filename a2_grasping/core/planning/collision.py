"""Collision checking of the UR5e + 2F-85 against the table, known obstacles and the scene cloud.

pinocchio places the arm's collision geometry (the cell URDF of core/robot_description.py) and
the gripper (the same boxes grasp generation uses, attached to tool0); coal tests them against
the environment: the table as a box under its top, obstacles as boxes, and the perceived cloud
as an octree.
The object being grasped is part of the cloud; for the straight-line approach, the lift and the
retreat the points near the grasp are ignored (the fingers must touch them), see `ignore_near`;
for the retreat the held object is a box attached to the TCP (`hold`).
Self-collision is checked between robot parts at least two joints apart (the held object counts
as part of wrist_3): the wrist, the gripper and the held object can all reach the base, the
shoulder and the upper arm (in 5000 random states within the joint limits, 31 % of those free
of the table collided with the robot itself; the e2e cube swung into the forearm on a retreat).
Parts one joint apart touch by construction of the meshes and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import coal
import numpy as np
import pinocchio as pin
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from a2_grasping.core.gripper import GripperGeometry
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.core.planning.robot_surface import geometry_surface_samples
from a2_grasping.core.robot_description import (
    GRIPPER_LINK_PREFIX,
    MeshSource,
    airo_models_package_dir,
    cell_urdf,
)

_NO_KEY = object()  # no scene octree variant in place yet
# Spacing of the points sampled on the robot's surfaces for removing it from camera clouds; a
# surface point is at most this far from a sample, far below the filter radius.
_SURFACE_SPACING_M = 0.01
# Links that stand on the table: never checked against it.
_MOUNTED_LINKS = ("base_link_inertia", "shoulder_link")
# Robot parts this many joints apart or more are checked against each other.
_SELF_CHECK_MIN_JOINT_GAP = 2


def _arm_model(gripper: GripperGeometry) -> tuple[pin.Model, pin.GeometryModel]:
    """The cell URDF's arm with the finger joints locked open and without the gripper's own
    geometry: the checker adds the gripper boxes for the opening each motion needs."""
    urdf = cell_urdf(gripper, mesh_source=MeshSource.AIRO_MODELS)
    model = pin.buildModelFromXML(urdf)
    geometry = pin.buildGeomFromUrdfString(
        model, urdf, pin.GeometryType.COLLISION, package_dirs=[str(airo_models_package_dir())]
    )
    arm_joints = set(UR_JOINT_NAMES)
    locked = [model.getJointId(name) for name in model.names[1:] if name not in arm_joints]
    model, geometry = pin.buildReducedModel(model, geometry, locked, pin.neutral(model))
    if tuple(model.names[1:]) != UR_JOINT_NAMES:
        raise RuntimeError(f"cell URDF arm joints {list(model.names[1:])} != {UR_JOINT_NAMES}")
    gripper_parts = [
        g.name for g in geometry.geometryObjects if g.name.startswith(GRIPPER_LINK_PREFIX)
    ]
    for name in gripper_parts:
        geometry.removeGeometryObject(name)
    return model, geometry


@dataclass(frozen=True)
class Obstacle:
    """An axis-aligned box in the base frame (metres)."""

    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]


# Surface samples per robot geometry, shared by all checkers (a checker is made per plan; sampling
# the arm meshes takes ~0.5 s). Keyed by name and, for the opening-dependent gripper boxes, size.
_SURFACE_CACHE: dict[tuple[str, tuple[float, ...]], NDArray[np.float64]] = {}


def _surface_samples(geometry_object: pin.GeometryObject) -> NDArray[np.float64]:
    shape = geometry_object.geometry
    size = tuple(np.asarray(shape.halfSide).tolist()) if isinstance(shape, coal.Box) else ()
    key = (geometry_object.name, size)
    if key not in _SURFACE_CACHE:
        _SURFACE_CACHE[key] = geometry_surface_samples(shape, _SURFACE_SPACING_M)
    return _SURFACE_CACHE[key]


def _box(lower_m: NDArray[np.float64], upper_m: NDArray[np.float64]) -> coal.Box:
    return coal.Box(*(upper_m - lower_m))


def _tcp_from_box(
    lower_m: NDArray[np.float64], upper_m: NDArray[np.float64]
) -> NDArray[np.float64]:
    tcp_from_box = np.eye(4)
    tcp_from_box[:3, 3] = (lower_m + upper_m) / 2
    return tcp_from_box


class CollisionChecker:
    """Answers "is the robot collision-free at these joints?" for one planning problem."""

    def __init__(
        self,
        table_height_m: float,
        gripper: GripperGeometry,
        *,
        gripper_opening_m: float | None = None,
        obstacles: tuple[Obstacle, ...] = (),
        scene_points_m: NDArray[np.floating] | None = None,
        octree_resolution_m: float = 0.01,
        table_clearance_m: float = 0.005,
        padding_m: float = 0.0,
    ) -> None:
        """`padding_m`: clearance kept from obstacles and the scene cloud (not the table, which
        has `table_clearance_m`, nor the robot itself)."""
        self.model, self.geometry = _arm_model(gripper)
        self._padding_m = padding_m
        self._padded_ids: set[int] = set()
        self._robot_ids = list(range(self.geometry.ngeoms))
        self._tool0_from_tcp = gripper.tool0_from_tcp()
        self._add_gripper(gripper, gripper_opening_m)
        self._held_id = self._add_to_tool0("held_object", np.eye(4), coal.Box(1e-3, 1e-3, 1e-3))
        self._holding = False
        self._table_id = self._add_environment(
            "table",
            coal.Box(4.0, 4.0, 1.0),
            (0.0, 0.0, table_height_m - table_clearance_m - 0.5),
        )
        environment = [self._table_id]
        for index, obstacle in enumerate(obstacles):
            environment.append(
                self._add_environment(
                    f"obstacle_{index}", coal.Box(*obstacle.size_m), obstacle.center_m
                )
            )
        self._padded_ids.update(environment[1:])
        self._scene_points = (
            np.zeros((0, 3)) if scene_points_m is None else np.asarray(scene_points_m, np.float64)
        )
        self._octree_resolution_m = octree_resolution_m
        self._scene_ids: list[int] = []
        for robot_id in [*self._robot_ids, self._held_id]:
            link = self.geometry.geometryObjects[robot_id].name.rsplit("_", 1)[0]
            for environment_id in environment:
                if environment_id == self._table_id and link in _MOUNTED_LINKS:
                    continue
                self.geometry.addCollisionPair(pin.CollisionPair(robot_id, environment_id))
        self._add_self_collision_pairs()
        self._scene_id: int | None = None
        self._scene_key: object = _NO_KEY
        self._octrees: dict[tuple[float, ...] | None, coal.CollisionGeometry] = {}
        self.data = self.model.createData()
        self._new_geometry_data()
        self.ignore_near(None, 0.0)

    def _add_gripper(self, gripper: GripperGeometry, opening_m: float | None) -> None:
        boxes = gripper.collision_boxes(opening_m)
        for name, lower, upper in zip(boxes.names, boxes.lower_m, boxes.upper_m, strict=True):
            self._robot_ids.append(
                self._add_to_tool0(
                    f"gripper_{name}_0", _tcp_from_box(lower, upper), _box(lower, upper)
                )
            )

    def _add_self_collision_pairs(self) -> None:
        parts = [*self._robot_ids, self._held_id]
        for index, first in enumerate(parts):
            for second in parts[index + 1 :]:
                gap = abs(
                    self.geometry.geometryObjects[first].parentJoint
                    - self.geometry.geometryObjects[second].parentJoint
                )
                if gap >= _SELF_CHECK_MIN_JOINT_GAP:
                    self.geometry.addCollisionPair(pin.CollisionPair(first, second))

    def _joint_from_tcp(self) -> NDArray[np.float64]:
        frame = self.model.frames[self.model.getFrameId("tool0")]
        joint_from_tcp: NDArray[np.float64] = frame.placement.homogeneous @ self._tool0_from_tcp
        return joint_from_tcp

    def _add_to_tool0(
        self, name: str, tcp_from_shape: NDArray[np.float64], shape: coal.CollisionGeometry
    ) -> int:
        tool0 = self.model.getFrameId("tool0")
        placement = pin.SE3(self._joint_from_tcp() @ tcp_from_shape)
        geometry = pin.GeometryObject(
            name, self.model.frames[tool0].parentJoint, tool0, placement, shape
        )
        return int(self.geometry.addGeometryObject(geometry))

    def hold(self, lower_m: NDArray[np.floating], upper_m: NDArray[np.floating]) -> None:
        """Check a held object, the TCP-frame box `lower_m`..`upper_m`, against the environment
        and the arm (not against the gripper holding it) until `release`."""
        lower, upper = np.asarray(lower_m, np.float64), np.asarray(upper_m, np.float64)
        if np.any(upper <= lower):
            raise ValueError(f"held object box: need lower < upper, got {lower} .. {upper}")
        held = self.geometry.geometryObjects[self._held_id]
        held.geometry = _box(lower, upper)
        held.placement = pin.SE3(self._joint_from_tcp() @ _tcp_from_box(lower, upper))
        self._holding = True
        self._new_geometry_data()

    @contextmanager
    def holding(
        self, lower_m: NDArray[np.floating], upper_m: NDArray[np.floating]
    ) -> Iterator[None]:
        """`hold` for the duration of a block."""
        self.hold(lower_m, upper_m)
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        if self._holding:
            self._holding = False
            self._new_geometry_data()

    def _new_geometry_data(self) -> None:
        """Geometry data after a change of shapes or placements; the held object's pairs are
        active only while holding, the environment's pairs padded."""
        self.geometry_data = pin.GeometryData(self.geometry)
        for index, pair in enumerate(self.geometry.collisionPairs):
            if not self._holding and self._held_id in (pair.first, pair.second):
                self.geometry_data.deactivateCollisionPair(index)
            if pair.second in self._padded_ids:
                self.geometry_data.collisionRequests[index].security_margin = self._padding_m

    def _add_environment(
        self, name: str, shape: coal.CollisionGeometry, center_m: tuple[float, float, float]
    ) -> int:
        placement = pin.SE3(np.eye(3), np.asarray(center_m, dtype=np.float64))
        return int(
            self.geometry.addGeometryObject(pin.GeometryObject(name, 0, 0, placement, shape))
        )

    @property
    def scene_points_m(self) -> NDArray[np.float64]:
        """The whole scene cloud (N, 3), base frame."""
        return self._scene_points

    def set_scene_points(self, points_m: NDArray[np.floating]) -> None:
        """Replace the scene cloud (e.g. after removing the robot's own points)."""
        self._scene_points = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
        self._octrees.clear()
        self._scene_key = _NO_KEY
        self.ignore_near(None, 0.0)

    def ignore_near(self, center_m: NDArray[np.floating] | None, radius_m: float) -> None:
        """Check against the scene cloud except the points within `radius_m` of `center_m`
        (the object being grasped); None: the whole cloud.

        The planner switches between these variants for every grasp it tries; each variant's
        octree is built once per cloud (building one for a large cloud is not cheap).
        """
        key = None if center_m is None else (*np.round(center_m, 6).tolist(), round(radius_m, 6))
        if self._scene_id is not None and key == self._scene_key:
            return
        octree = self._octrees.get(key)
        if octree is None:
            points = self._scene_points
            if center_m is not None and len(points):
                far = np.linalg.norm(points - np.asarray(center_m, np.float64), axis=1) > radius_m
                points = points[far]
            if self._scene_id is None and not len(points):
                return  # no cloud: nothing to check against
            octree = self._octrees[key] = self._octree(points)
        self._scene_key = key
        if self._scene_id is None:
            self._scene_id = self._add_environment("scene", octree, (0.0, 0.0, 0.0))
            self._padded_ids.add(self._scene_id)
            for robot_id in [*self._robot_ids, self._held_id]:
                self.geometry.addCollisionPair(pin.CollisionPair(robot_id, self._scene_id))
        else:  # replace the previous octree's shape in place
            self.geometry.geometryObjects[self._scene_id].geometry = octree
        self._new_geometry_data()

    def _octree(self, points: NDArray[np.float64]) -> coal.CollisionGeometry:
        if not len(points):  # an octree needs a point; put one far below the table
            points = np.array([[0.0, 0.0, -10.0]])
        return coal.makeOctree(np.ascontiguousarray(points), self._octree_resolution_m)

    def robot_points_mask(
        self, points_m: NDArray[np.floating], joints_rad: NDArray[np.floating], radius_m: float
    ) -> NDArray[np.bool_]:
        """Mask of points on the robot itself at `joints_rad` (cameras see the arm): within
        `radius_m` of the arm's collision meshes or the gripper boxes."""
        q = np.asarray(joints_rad, dtype=np.float64)
        pin.updateGeometryPlacements(self.model, self.data, self.geometry, self.geometry_data, q)
        surfaces = []
        for robot_id in self._robot_ids:
            placement = self.geometry_data.oMg[robot_id]
            local = _surface_samples(self.geometry.geometryObjects[robot_id])
            surfaces.append(local @ placement.rotation.T + placement.translation)
        points = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
        if not len(points):
            return np.zeros(0, dtype=bool)
        distances, _ = cKDTree(np.concatenate(surfaces)).query(
            points, distance_upper_bound=radius_m
        )
        mask: NDArray[np.bool_] = distances < radius_m
        return mask

    def is_free(self, joints_rad: NDArray[np.floating]) -> bool:
        q = np.asarray(joints_rad, dtype=np.float64)
        return not pin.computeCollisions(
            self.model, self.data, self.geometry, self.geometry_data, q, True
        )

    def colliding_pairs(self, joints_rad: NDArray[np.floating]) -> list[tuple[str, str]]:
        """Names of every colliding pair (robot part, environment or other robot part), for
        error messages."""
        q = np.asarray(joints_rad, dtype=np.float64)
        pin.computeCollisions(self.model, self.data, self.geometry, self.geometry_data, q, False)
        names = []
        for index, pair in enumerate(self.geometry.collisionPairs):
            if self.geometry_data.collisionResults[index].isCollision():
                names.append(
                    (
                        self.geometry.geometryObjects[pair.first].name,
                        self.geometry.geometryObjects[pair.second].name,
                    )
                )
        return names
