"""Faults the simulated cell can be told to inject (sim-only, behind /sim/fault).

A real cell knocks objects aside, loses a grasp, and has cameras or a driver that stop for a
while; tests and benchmarks make that happen on purpose, at a chosen stage of a task, to check
that every such path ends with the right code and nothing reported done that was not. The
schedule belongs to the physics thread: it applies a fault between two steps and undoes a timed
one once its simulated duration has passed. A reset clears every fault (a new model has none).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from a2_grasping.sim.cell import SimCell


class FaultKind(enum.IntEnum):
    """The values of a2_grasping/srv/SimFault's kind constants."""

    MOVE_OBJECT = 1
    REMOVE_OBJECT = 2
    SLIP = 3
    FREEZE_JOINT_STATES = 4
    FREEZE_CAMERAS = 5


_TIMED = {FaultKind.SLIP, FaultKind.FREEZE_JOINT_STATES, FaultKind.FREEZE_CAMERAS}


@dataclass(frozen=True)
class FaultRequest:
    kind: FaultKind
    object_name: str = ""
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    relative: bool = True
    duration_s: float = 0.0
    camera_name: str = ""  # empty: every camera

    def __post_init__(self) -> None:
        """Raises ValueError for what no cell could apply (the cell checks names)."""
        if self.kind in _TIMED and not (math.isfinite(self.duration_s) and self.duration_s > 0.0):
            raise ValueError(f"{self.kind.name} needs duration_s > 0, got {self.duration_s}")
        if not all(math.isfinite(v) for v in self.position_m):
            raise ValueError(f"position_m must be finite, got {self.position_m}")
        needs_object = {FaultKind.MOVE_OBJECT, FaultKind.REMOVE_OBJECT, FaultKind.SLIP}
        if self.kind in needs_object and not self.object_name:
            raise ValueError(f"{self.kind.name} needs object_name")


class FaultSchedule:
    """The faults in force (physics thread only)."""

    def __init__(self, camera_names: Sequence[str]) -> None:
        self._camera_names = tuple(camera_names)
        self.clear()

    def clear(self) -> None:
        self._joint_states_until_s = -math.inf
        self._cameras_until_s = dict.fromkeys(self._camera_names, -math.inf)
        self._slips: dict[str, float] = {}  # object name -> when its friction returns

    def apply(self, cell: SimCell, request: FaultRequest, now_s: float) -> str:
        """Apply `request`; returns what was done. Raises KeyError / ValueError (unknown object
        or camera, a receptacle, a removed object) with the cell unchanged."""
        kind, name = request.kind, request.object_name
        if kind is FaultKind.MOVE_OBJECT:
            cell.move_object(name, request.position_m, request.relative)
            how = "by" if request.relative else "to"
            return f"moved {name} {how} {tuple(round(v, 4) for v in request.position_m)} m"
        if kind is FaultKind.REMOVE_OBJECT:
            cell.remove_object(name)
            return f"removed {name} from the cell"
        until_s = now_s + request.duration_s
        if kind is FaultKind.SLIP:
            cell.set_slippery(name, True)
            self._slips[name] = max(until_s, self._slips.get(name, -math.inf))
            return f"{name} has no friction until t = {until_s:.3f} s"
        if kind is FaultKind.FREEZE_JOINT_STATES:
            self._joint_states_until_s = max(self._joint_states_until_s, until_s)
            return f"no joint states until t = {until_s:.3f} s"
        cameras = [request.camera_name] if request.camera_name else list(self._camera_names)
        unknown = [c for c in cameras if c not in self._cameras_until_s]
        if unknown:
            raise KeyError(f"no camera {unknown[0]!r}; cameras: {list(self._camera_names)}")
        for camera in cameras:
            self._cameras_until_s[camera] = max(self._cameras_until_s[camera], until_s)
        return f"no frames from {', '.join(cameras)} until t = {until_s:.3f} s"

    def expire(self, cell: SimCell, now_s: float) -> None:
        """Undo the slips whose time is over."""
        for name, until_s in list(self._slips.items()):
            if now_s >= until_s:
                cell.set_slippery(name, False)
                del self._slips[name]

    def joint_states_frozen(self, now_s: float) -> bool:
        return now_s < self._joint_states_until_s

    def camera_frozen(self, camera: str, now_s: float) -> bool:
        return now_s < self._cameras_until_s.get(camera, -math.inf)
