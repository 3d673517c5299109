"""Two simulated cells under two namespaces in one ROS domain, picking at the same time.

Each cell is the full pipeline as bringup starts it with `namespace:=cell_a` / `cell_b` (every
name relative, the simulated clock remapped to <namespace>/clock). Each must lift its own object,
planned on its own camera frames: a scene, a joint state or a clock tick from the other cell
would show up as a grasp at the other object's place or a motion that never ends.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from a2_grasping.action import Pick
from a2_grasping.ros import conversions
from a2_grasping.tools.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
SEEDS = {"cell_a": 0, "cell_b": 3}  # a ball and a box at different places (single scenes)
# Two cells are ten node processes on the CI machine's two cores, beside another test worker.
# Cameras at 2 Hz (instead of 5) halve the rendering; and a joint state may be up to 1.5 s old
# (instead of 0.5) before the executor stops a motion: under that load a cell's joint states
# were once older than 0.5 s in wall time. Neither changes what is checked: no cross-talk.
SIM_ARGUMENTS = ["-p", "camera_rate_hz:=2.0"]
EXECUTOR_ARGUMENTS = {"executor_node": ["-p", "max_joint_state_age_s:=1.5"]}


def test_two_namespaced_cells_pick_their_own_objects_at_once(tmp_path):
    from domain_coordinator import domain_id

    with (
        domain_id() as reserved,
        SimSession(
            reserved,
            tmp_path / "cell_a",
            SIM_ARGUMENTS,
            node_arguments=EXECUTOR_ARGUMENTS,
            namespace="cell_a",
        ) as cell_a,
        SimSession(
            reserved,
            tmp_path / "cell_b",
            SIM_ARGUMENTS,
            node_arguments=EXECUTOR_ARGUMENTS,
            namespace="cell_b",
        ) as cell_b,
    ):
        cells = {"cell_a": cell_a, "cell_b": cell_b}
        objects = {name: cell.reset(SEEDS[name], "single")[0] for name, cell in cells.items()}
        where = {
            name: np.array([o.pose.position.x, o.pose.position.y]) for name, o in objects.items()
        }
        assert np.linalg.norm(where["cell_a"] - where["cell_b"]) > 0.1, "objects must differ"
        for cell in cells.values():
            cell.wait_for_fresh_scene()
            assert cell.latest_scene().header.frame_id == "base_link"

        results: dict[str, Pick.Result] = {}

        def pick(name: str) -> None:
            results[name], _ = cells[name].pick(Pick.Goal(instruction="pick it up"))

        threads = [threading.Thread(target=pick, args=(name,)) for name in cells]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300.0)
        assert set(results) == set(cells)
        for name, cell in cells.items():
            result = results[name]
            assert result.error_code == Pick.Result.NONE, (name, result.error_message)
            (lifted,) = cell.objects()
            assert lifted.height_gain_m >= 0.05, name
            grasp = conversions.pose_to_matrix(result.executed_grasp.pose.pose)[:2, 3]
            assert np.linalg.norm(grasp - where[name]) < 0.05, (name, grasp, where)
