"""The cell's fault operations (/sim/fault's physics side): move, remove, slip."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.sim.cell import SimCell
from a2_grasping.sim.config import SimConfig
from a2_grasping.sim.objects import Shape, generate_objects
from a2_grasping.sim.scripted_pick import pick

pytestmark = pytest.mark.sim


def _box_seed() -> int:
    return next(s for s in range(100) if generate_objects(s, "single")[0].shape is Shape.BOX)


@pytest.fixture
def cell():
    cell = SimCell(SimConfig(seed=_box_seed()))
    yield cell
    cell.close()


def _position(cell: SimCell, name: str) -> np.ndarray:
    state = next(s for s in cell.object_states() if s.spec.name == name)
    return state.base_from_object[:3, 3].copy()


def test_a_moved_object_rests_where_it_was_put(cell):
    name = cell.objects[0].name
    start = _position(cell, name)
    cell.move_object(name, (0.05, -0.03, 0.0), relative=True)
    cell.step(0.5)
    # Teleported at its resting height: it stays there (contact settling is sub-millimetre).
    np.testing.assert_allclose(
        _position(cell, name), start + np.array([0.05, -0.03, 0.0]), atol=2e-3
    )
    cell.move_object(name, (0.45, 0.1, 0.0), relative=False)
    cell.step(0.5)
    np.testing.assert_allclose(_position(cell, name)[:2], [0.45, 0.1], atol=2e-3)
    assert abs(_position(cell, name)[2] - start[2]) < 2e-3  # a z of 0 kept its height


def test_a_removed_object_leaves_the_view_for_good(cell):
    name = cell.objects[0].name
    cell.move_object(name, (0.0, 0.0, 0.0), relative=True)  # a no-op move is allowed
    _rgb, depth_before = cell.render_ideal(cell.cameras[0].name)
    cell.remove_object(name)
    cell.step(1.0)
    parked = _position(cell, name)
    assert np.linalg.norm(parked[:2]) > 10.0
    assert abs(parked[2]) < 1e-3  # weight compensated: it does not fall away
    _rgb, depth_after = cell.render_ideal(cell.cameras[0].name)
    assert np.any(np.abs(depth_after - depth_before) > 0.01)  # the object's pixels show table
    with pytest.raises(ValueError, match="removed"):
        cell.move_object(name, (0.0, 0.0, 0.01), relative=True)
    with pytest.raises(KeyError, match="no object named"):
        cell.remove_object("purple unicorn")


def test_a_slippery_held_object_slides_out_and_friction_comes_back():
    cell = SimCell(SimConfig(seed=_box_seed()))
    try:
        target = cell.objects[0]
        pick(cell, target)
        assert cell.lifted(target.name)
        cell.set_slippery(target.name, True)
        cell.step(1.0)
        assert abs(cell.object_height_gain_m(target.name)) < 0.01, "it must drop onto the table"
        cell.set_slippery(target.name, False)
        body = cell.model.body("object/" + target.name.replace(" ", "_"))
        first = int(body.geomadr[0])
        np.testing.assert_allclose(cell.model.geom_friction[first], [1.0, 0.005, 0.0001])
    finally:
        cell.close()
