"""The cell's cameras: one way to render them, and a worker that renders on a thread of its own.

Why a worker: rendering two 640x480 RGB-D frames and their sensor model takes about 2 x (40 + 13)
ms on an idle machine and far more on a loaded one (about 100 ms per render measured under load).
Rendered in-line, the physics thread published no /joint_states and no /clock meanwhile, and the
executor, which aborts a motion after 0.5 s without a joint state, aborted good motions.
MuJoCo's `Renderer.render()` releases the GIL, so on its own thread the physics thread keeps
stepping and publishing while a frame renders.

How the threads share the cell: the physics thread owns the `SimCell` (its MjData); when a frame
is due it copies what positions every body (`RenderState`) and hands it over with its stamp
(`FrameRequest`). The worker keeps its own MjData and `mujoco.Renderer` (a GL context is bound to
the thread that creates it), puts the state into its MjData, runs `mj_forward` and renders. A
request carries the `RenderScene` it was taken from; the worker starts over with a new MjData,
renderer and frame counters whenever that scene changes, so a reset's new model always arrives
with the first state of it, and an old model a request still holds stays as it was (what a model
draws never changes after it is compiled: a reset builds a new one; the sim-only faults change
only friction and gravity compensation, which drawing does not read). The worker holds one waiting
request: a newer one replaces it (a late frame is worthless, a backlog would only grow).
A request's frames are handed on together once every camera is rendered: a consumer that fuses
the newest frame of each camera (perception_node, on a timer) would otherwise find one camera a
period ahead of the others for as long as a render takes. (In-line rendering hid that: the
simulated clock, which such timers follow, stood still while it rendered.)
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede importing mujoco

import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import mujoco
import numpy as np
from numpy.typing import NDArray

from a2_grasping.sim.cameras import CameraSpec
from a2_grasping.sim.sensor import SensorModel

_JOIN_TIMEOUT_S = 10.0


@dataclass(frozen=True, eq=False)
class RenderScene:
    """What frames of one scene need besides the state: its model (what it draws never changes),
    the cameras as perception is told they are, each camera's sensor model, and the depth range
    outside which a camera sees no return. A reset makes a new one (frame counts restart)."""

    model: mujoco.MjModel
    cameras: tuple[CameraSpec, ...]
    sensors: Mapping[str, SensorModel]
    min_depth_m: float
    max_depth_m: float

    def camera(self, name: str) -> CameraSpec:
        """Raises KeyError naming the cameras there are."""
        spec = next((c for c in self.cameras if c.name == name), None)
        if spec is None:
            raise KeyError(f"no camera {name!r}; cameras: {[c.name for c in self.cameras]}")
        return spec


@dataclass(frozen=True, eq=False)
class RenderState:
    """The part of an MjData that decides where everything is drawn: joint positions, mocap
    bodies and actuator activations (both empty in this cell's model, kept so a model with them
    renders right), and the time. `mj_forward` from these gives the same poses as the source."""

    time_s: float
    qpos: NDArray[np.float64]
    mocap_pos: NDArray[np.float64]
    mocap_quat: NDArray[np.float64]
    act: NDArray[np.float64]

    @classmethod
    def capture(cls, data: mujoco.MjData) -> RenderState:
        """A copy: the source may step on at once."""
        return cls(
            time_s=float(data.time),
            qpos=data.qpos.copy(),
            mocap_pos=data.mocap_pos.copy(),
            mocap_quat=data.mocap_quat.copy(),
            act=data.act.copy(),
        )

    def restore(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Put this state into `data` (of the same model) and compute the poses from it."""
        data.time = self.time_s
        data.qpos[:] = self.qpos
        data.mocap_pos[:] = self.mocap_pos
        data.mocap_quat[:] = self.mocap_quat
        data.act[:] = self.act
        mujoco.mj_forward(model, data)


class SceneRenderer:
    """Renders one scene's cameras from an MjData of its model: the perfect images, and each
    camera's next frame through its sensor model (frames counted from 0 for the scene).

    Not thread-safe: the renderer's GL context, created at the first render, is bound to the
    thread that created it; use and close it there.
    """

    def __init__(self, scene: RenderScene) -> None:
        self.scene = scene
        self._renderer: mujoco.Renderer | None = None
        self._frame_counts = dict.fromkeys(scene.sensors, 0)

    def render(
        self, data: mujoco.MjData, camera: str
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """(H, W, 3) RGB and (H, W) depth in metres along the optical axis (0 = no return), as
        the camera's sensor model delivers them (each call is the camera's next frame)."""
        rgb, depth_m = self.render_ideal(data, camera)
        frame_index = self._frame_counts[camera]
        self._frame_counts[camera] = frame_index + 1
        return self.scene.sensors[camera].apply(rgb, depth_m, frame_index)

    def render_ideal(
        self, data: mujoco.MjData, camera: str
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """The perfect images `render` starts from: exact depth, the rendered colour."""
        spec = self.scene.camera(camera)
        renderer = self._renderer_for(spec)
        renderer.update_scene(data, camera=camera)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        rgb = renderer.render().copy()
        renderer.enable_depth_rendering()
        try:
            depth_m = renderer.render().astype(np.float32)
        finally:
            renderer.disable_depth_rendering()
        in_range = (depth_m >= self.scene.min_depth_m) & (depth_m <= self.scene.max_depth_m)
        depth_m[~in_range] = 0.0
        return rgb, depth_m

    def _renderer_for(self, spec: CameraSpec) -> mujoco.Renderer:
        if self._renderer is None:
            try:
                self._renderer = mujoco.Renderer(self.scene.model, spec.height, spec.width)
            except mujoco.FatalError as error:
                raise RuntimeError(
                    f"cannot create an OpenGL context ({error}); MUJOCO_GL is "
                    f"{os.environ.get('MUJOCO_GL')!r}: set MUJOCO_GL=egl before mujoco is first "
                    "imported (importing a2_grasping.sim first does that)"
                ) from error
        return self._renderer

    def close(self) -> None:
        """Free the GL context (from the thread that rendered)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


@dataclass(frozen=True, eq=False)
class FrameRequest:
    """One camera period's frames: the state they show, the stamp it was published with, and
    the cameras to render (those whose frame the drop model did not lose)."""

    scene: RenderScene
    state: RenderState
    stamp_s: float
    cameras: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """One camera's frame as its sensor delivers it, stamped with the state it shows."""

    camera: CameraSpec
    stamp_s: float
    rgb: NDArray[np.uint8]
    depth_m: NDArray[np.float32]


@dataclass(frozen=True)
class RenderStats:
    """Since the last `RenderWorker.take_stats`: frames published, the seconds spent on them in
    all (state, render, sensor model, publishing) and in rendering with the sensor model, and
    requests a newer one replaced before they were rendered."""

    frames: int = 0
    frame_s: float = 0.0
    render_s: float = 0.0
    replaced: int = 0


class RenderWorker:
    """Renders `FrameRequest`s on its own thread and hands each request's frames to `publish`
    (called on that thread, once per request). `submit` never waits: a request still waiting is
    replaced by the newer one. A failure is passed to `on_error` (the traceback) and ends the
    worker: no more frames."""

    def __init__(
        self,
        publish: Callable[[Sequence[RenderedFrame]], None],
        on_error: Callable[[str], None],
        name: str = "sim_render",
    ) -> None:
        self._publish = publish
        self._on_error = on_error
        self._wake = threading.Condition()
        self._waiting: FrameRequest | None = None
        self._closing = False
        self._stats = RenderStats()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: FrameRequest) -> None:
        """Queue `request` for rendering, replacing one that has not started yet."""
        with self._wake:
            if self._waiting is not None:
                self._stats = replace(self._stats, replaced=self._stats.replaced + 1)
            self._waiting = request
            self._wake.notify()

    def take_stats(self) -> RenderStats:
        """The counts since the last call, which restart from zero."""
        with self._wake:
            stats, self._stats = self._stats, RenderStats()
        return stats

    def close(self, timeout_s: float = _JOIN_TIMEOUT_S) -> None:
        """Stop after the request being rendered (a waiting one is dropped)."""
        with self._wake:
            self._closing = True
            self._waiting = None
            self._wake.notify()
        self._thread.join(timeout=timeout_s)

    def _next(self) -> FrameRequest | None:
        with self._wake:
            while self._waiting is None and not self._closing:
                self._wake.wait()
            request, self._waiting = self._waiting, None
            return None if self._closing else request

    def _run(self) -> None:
        renderer: SceneRenderer | None = None
        data: mujoco.MjData | None = None
        try:
            while (request := self._next()) is not None:
                if renderer is None or data is None or renderer.scene is not request.scene:
                    if renderer is not None:
                        renderer.close()
                    renderer = SceneRenderer(request.scene)
                    data = mujoco.MjData(request.scene.model)
                started_s = time.perf_counter()
                request.state.restore(request.scene.model, data)
                frames, render_s = [], 0.0
                for name in request.cameras:
                    render_started_s = time.perf_counter()
                    rgb, depth_m = renderer.render(data, name)
                    render_s += time.perf_counter() - render_started_s
                    camera = request.scene.camera(name)
                    frames.append(RenderedFrame(camera, request.stamp_s, rgb, depth_m))
                self._publish(frames)
                frame_s = time.perf_counter() - started_s
                with self._wake:
                    self._stats = replace(
                        self._stats,
                        frames=self._stats.frames + len(frames),
                        frame_s=self._stats.frame_s + frame_s,
                        render_s=self._stats.render_s + render_s,
                    )
        except Exception:
            self._on_error(traceback.format_exc())
        finally:
            if renderer is not None:
                renderer.close()
