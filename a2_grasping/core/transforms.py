"""A transform tree fed from /tf and /tf_static, for machines without tf2_ros.

Frames form a tree (each child has one parent, as in TF). Static edges hold for all time;
dynamic edges keep a bounded history and are interpolated at the requested stamp (linear in
translation, spherical in rotation), never extrapolated beyond `max_extrapolation_s`: a camera
pose that is not known at the image's stamp is an error, not a guess.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation, Slerp

FloatArray = NDArray[np.float64]


class TransformLookupError(LookupError):
    """No transform between the frames at that stamp; the message says which link is missing."""


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps_s: list[float] = field(default_factory=list)
    poses: list[FloatArray] = field(default_factory=list)  # parent_from_child, (4, 4)


class TransformBuffer:
    def __init__(self, cache_s: float = 10.0, max_extrapolation_s: float = 0.0) -> None:
        if cache_s <= 0.0 or max_extrapolation_s < 0.0:
            raise ValueError("cache_s must be > 0 and max_extrapolation_s >= 0")
        self._cache_s = cache_s
        self._max_extrapolation_s = max_extrapolation_s
        self._edges: dict[str, _Edge] = {}  # by child frame

    def set_transform(
        self, parent: str, child: str, parent_from_child: FloatArray, stamp_s: float, static: bool
    ) -> None:
        """Add one transform. A child that changes parent (or between static and dynamic)
        starts a new history, as in tf2."""
        if not parent or not child or parent == child:
            raise ValueError(f"a transform needs two different frames, got '{parent}'->'{child}'")
        pose = np.asarray(parent_from_child, dtype=np.float64)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise ValueError(f"transform {parent}->{child} is not a finite 4x4 matrix")
        edge = self._edges.get(child)
        if edge is None or edge.parent != parent or edge.static != static:
            edge = self._edges[child] = _Edge(parent, static)
        if static:
            edge.stamps_s, edge.poses = [stamp_s], [pose]
            return
        index = bisect.bisect_right(edge.stamps_s, stamp_s)
        edge.stamps_s.insert(index, stamp_s)
        edge.poses.insert(index, pose)
        while edge.stamps_s[-1] - edge.stamps_s[0] > self._cache_s:
            del edge.stamps_s[0], edge.poses[0]

    def frames(self) -> set[str]:
        return set(self._edges) | {edge.parent for edge in self._edges.values()}

    def lookup(self, target: str, source: str, stamp_s: float | None) -> FloatArray:
        """target_from_source at `stamp_s` (None: the newest each dynamic link has).

        Raises:
            TransformLookupError: an unknown frame, frames in different trees, or a stamp
                outside a dynamic link's history.
        """
        if target == source:
            return np.eye(4)
        known = self.frames()
        for frame in (target, source):
            if frame not in known:
                raise TransformLookupError(
                    f"frame '{frame}' was never published on /tf or /tf_static"
                )
        source_chain = self._chain_to_root(source)
        target_chain = self._chain_to_root(target)
        common = next((f for f in source_chain if f in target_chain), None)
        if common is None:
            raise TransformLookupError(
                f"'{target}' and '{source}' are not connected (roots '{target_chain[-1]}' and "
                f"'{source_chain[-1]}')"
            )
        common_from_source = self._compose(source_chain[: source_chain.index(common)], stamp_s)
        common_from_target = self._compose(target_chain[: target_chain.index(common)], stamp_s)
        target_from_source: FloatArray = np.linalg.inv(common_from_target) @ common_from_source
        return target_from_source

    def _chain_to_root(self, frame: str) -> list[str]:
        chain = [frame]
        while (edge := self._edges.get(chain[-1])) is not None:
            if edge.parent in chain:
                raise TransformLookupError(f"the transforms form a loop through '{edge.parent}'")
            chain.append(edge.parent)
        return chain

    def _compose(self, frames: Iterable[str], stamp_s: float | None) -> FloatArray:
        """ancestor_from_first for a chain [first, ..., child of ancestor]."""
        pose = np.eye(4)
        for frame in frames:
            pose = self._edge_pose(frame, stamp_s) @ pose
        return pose

    def _edge_pose(self, child: str, stamp_s: float | None) -> FloatArray:
        edge = self._edges[child]
        if edge.static or stamp_s is None:
            return edge.poses[-1]
        first, last = edge.stamps_s[0], edge.stamps_s[-1]
        if stamp_s < first - self._max_extrapolation_s or stamp_s > last + (
            self._max_extrapolation_s
        ):
            raise TransformLookupError(
                f"{edge.parent}->{child} is known from {first:.3f} s to {last:.3f} s, not at "
                f"{stamp_s:.3f} s"
            )
        if stamp_s <= first:
            return edge.poses[0]
        if stamp_s >= last:
            return edge.poses[-1]
        index = bisect.bisect_right(edge.stamps_s, stamp_s)
        t0, t1 = edge.stamps_s[index - 1], edge.stamps_s[index]
        a, b = edge.poses[index - 1], edge.poses[index]
        weight = (stamp_s - t0) / (t1 - t0)
        pose = np.eye(4)
        pose[:3, 3] = (1.0 - weight) * a[:3, 3] + weight * b[:3, 3]
        rotations = Rotation.from_matrix(np.stack([a[:3, :3], b[:3, :3]]))
        pose[:3, :3] = Slerp([0.0, 1.0], rotations)([weight]).as_matrix()[0]
        return pose
