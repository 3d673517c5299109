"""The render worker: frames of a copied state, on its own thread, exactly as the cell renders."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import ARM_JOINTS, SimConfig
from a2_grasping.sim.rendering import FrameRequest, RenderedFrame, RenderWorker

pytestmark = pytest.mark.sim
WAIT_S = 60.0  # a render under load; the tests wait for frames, they do not time them


class _Frames:
    """What the worker published, for the test thread to wait on."""

    def __init__(self) -> None:
        self.frames: list[RenderedFrame] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()

    def publish(self, frames: Sequence[RenderedFrame]) -> None:
        with self._changed:
            self.frames.extend(frames)
            self._changed.notify_all()

    def on_error(self, text: str) -> None:
        with self._changed:
            self.errors.append(text)
            self._changed.notify_all()

    def wait_for(self, count: int) -> list[RenderedFrame]:
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: len(self.frames) >= count or self.errors, WAIT_S
            )
            assert not self.errors, self.errors[0]
            assert arrived, f"{len(self.frames)} of {count} frames within {WAIT_S} s"
            return list(self.frames)


def _request(cell: SimCell, stamp_s: float) -> FrameRequest:
    return FrameRequest(
        cell.render_scene, cell.render_state(), stamp_s, tuple(c.name for c in cell.cameras)
    )


def _poses_at_state(cell: SimCell) -> None:
    """Bodies where the state puts them: after mj_step they lag qpos by one physics step."""
    import mujoco  # here: a2_grasping.sim must set MUJOCO_GL before mujoco is first imported

    mujoco.mj_forward(cell.model, cell.data)


def _start_moving(cell: SimCell) -> None:
    start = cell.joint_positions()[:6]
    goal = start + np.array([0.5, -0.3, 0.3, 0.2, 0.4, 0.6])
    cell.command_trajectory(ARM_JOINTS, [1.0], [goal])
    cell.step(0.4)  # mid-motion


def test_frames_show_the_submitted_state_bit_identical_while_physics_steps_on():
    cell = SimCell(SimConfig(scene="clutter", seed=3))
    frames = _Frames()
    worker = RenderWorker(frames.publish, frames.on_error)
    try:
        _start_moving(cell)
        _poses_at_state(cell)
        expected = {c.name: cell.render_ideal(c.name) for c in cell.cameras}
        worker.submit(_request(cell, stamp_s=12.5))
        cell.step(0.1)  # the arm moves on while the worker renders
        published = frames.wait_for(len(cell.cameras))
        assert sorted(f.camera.name for f in published) == sorted(expected)
        for frame in published:
            rgb, depth_m = expected[frame.camera.name]
            assert frame.stamp_s == 12.5
            assert frame.camera == cell.render_scene.camera(frame.camera.name)
            assert np.array_equal(frame.rgb, rgb) and np.array_equal(frame.depth_m, depth_m)
            later_rgb, _ = cell.render_ideal(frame.camera.name)
            assert not np.array_equal(frame.rgb, later_rgb), "the arm moved: another picture"
    finally:
        worker.close()
        cell.close()


def test_sensor_model_frame_counts_and_resets_follow_the_cell():
    cell = SimCell(SimConfig(scene="clutter", seed=4, sensor_profile="d435"))
    frames = _Frames()
    worker = RenderWorker(frames.publish, frames.on_error)
    cameras = len(cell.cameras)
    try:
        _poses_at_state(cell)
        for period in range(2):  # each camera's frames 0 and 1: new noise each
            worker.submit(_request(cell, stamp_s=float(period)))
            frames.wait_for(cameras * (period + 1))
        cell.reset(5, "clutter")  # a new model: new sensor draws, frames count from 0 again
        _poses_at_state(cell)
        worker.submit(_request(cell, stamp_s=2.0))
        published = frames.wait_for(3 * cameras)
        # What the cell's own renderer gives, frame for frame (it counts from 0 after a reset).
        expected = {}
        for seed, periods in ((4, (0.0, 1.0)), (5, (2.0,))):
            cell.reset(seed, "clutter")
            _poses_at_state(cell)
            for period in periods:
                for camera in cell.cameras:
                    expected[period, camera.name] = cell.render(camera.name)
        assert sorted((f.stamp_s, f.camera.name) for f in published) == sorted(expected)
        for frame in published:
            rgb, depth_m = expected[frame.stamp_s, frame.camera.name]
            assert np.array_equal(frame.rgb, rgb) and np.array_equal(frame.depth_m, depth_m)
        name = cell.cameras[0].name
        first, second = (expected[period, name][1] for period in (0.0, 1.0))
        assert not np.array_equal(first, second), "each frame its own noise"
    finally:
        worker.close()
        cell.close()


def test_a_newer_request_replaces_one_still_waiting():
    cell = SimCell(SimConfig())
    frames = _Frames()
    publishing, release = threading.Event(), threading.Event()

    def slow_publish(published: Sequence[RenderedFrame]) -> None:
        publishing.set()
        assert release.wait(WAIT_S)
        frames.publish(published)

    worker = RenderWorker(slow_publish, frames.on_error)
    cameras = len(cell.cameras)
    try:
        worker.submit(_request(cell, stamp_s=1.0))
        assert publishing.wait(WAIT_S)  # busy with the first request
        worker.submit(_request(cell, stamp_s=2.0))
        worker.submit(_request(cell, stamp_s=3.0))  # replaces 2.0, never rendered
        release.set()
        published = frames.wait_for(2 * cameras)
        assert [f.stamp_s for f in published] == [1.0] * cameras + [3.0] * cameras
        stats = worker.take_stats()
        assert (stats.frames, stats.replaced) == (2 * cameras, 1)
        assert stats.frame_s >= stats.render_s > 0.0
        assert worker.take_stats().frames == 0, "counts restart"
    finally:
        release.set()
        worker.close()
        cell.close()


def test_a_failure_is_reported_and_ends_the_worker():
    cell = SimCell(SimConfig())
    frames = _Frames()

    def broken_publish(published: Sequence[RenderedFrame]) -> None:
        raise RuntimeError("publisher gone")

    worker = RenderWorker(broken_publish, frames.on_error)
    try:
        worker.submit(_request(cell, stamp_s=1.0))
        with pytest.raises(AssertionError, match="publisher gone"):
            frames.wait_for(1)
    finally:
        worker.close()
        cell.close()
