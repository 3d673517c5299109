"""Two simulated cells under two namespaces in one ROS domain, picking at the same time.

Each cell is the full pipeline as bringup starts it with `namespace:=cell_a` / `cell_b` (every
name relative; the simulated clock and TF remapped to <namespace>/clock, /tf, /tf_static). Each
must lift its own object, planned on its own camera frames: a scene, a joint state or a clock
tick from the other cell would show up as a grasp at the other object's place or a motion that
never ends. The cameras' extrinsics come from TF, each cell's from its own calibration publisher
(`a2-grasping publish-calibration --namespace`), with the same frame names in both cells and
cell_b's cameras mounted 6 cm higher: a transform from the other cell's tree would misplace
every point by 6 cm.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from a2_grasping.action import Pick
from a2_grasping.installation import install_prefix
from a2_grasping.ros import conversions
from a2_grasping.sim.config import SimConfig
from a2_grasping.testing.node_process import local_ros_environment
from a2_grasping.testing.sim_session import SimSession

pytestmark = [pytest.mark.ros, pytest.mark.sim]
SEEDS = {"cell_a": 0, "cell_b": 3}  # a ball and a box at different places (single scenes)
# Two cells are ten node processes on the CI machine's two cores, beside another test worker.
# Cameras at 2 Hz (instead of 5) halve the rendering; and a joint state may be up to 1.5 s old
# (instead of 0.5) before the executor stops a motion: under that load a cell's joint states
# were once older than 0.5 s in wall time; the scene after the lift may take longer than 3 s to
# come (input_wait_s 8 s: at 2 Hz and under that load it once took more than 3 s). None of these
# changes what is checked: no cross-talk.
SIM_ARGUMENTS = ["-p", "camera_rate_hz:=2.0"]
CAMERA_RAISE_M = {"cell_a": 0.0, "cell_b": 0.06}


def _camera_poses(cell: str) -> list[float]:
    """sim_node's camera_poses (base_from_optical, 7 numbers per camera) for the cell."""
    poses = [float(v) for v in SimConfig().camera_poses]
    for camera in range(len(poses) // 7):
        poses[7 * camera + 2] += CAMERA_RAISE_M[cell]
    return poses


def _node_arguments() -> dict[str, list[str]]:
    cameras = SimConfig().camera_names
    tf = [a for c in cameras for a in ("-p", f"{c}.extrinsics_source:=tf")]
    return {
        "perception_node": tf,
        "executor_node": ["-p", "max_joint_state_age_s:=1.5", "-p", "input_wait_s:=8.0"],
    }


def _publish_calibration(cell: str, domain: int, directory: Path) -> subprocess.Popen[str]:
    """The cell's camera poses as hand-eye results, on <cell>/tf_static."""
    poses, files = _camera_poses(cell), []
    for index, camera in enumerate(SimConfig().camera_names):
        x, y, z, qx, qy, qz, qw = poses[7 * index : 7 * index + 7]
        path = directory / f"{cell}_{camera}.yaml"
        result = {
            "parameters": {
                "calibration_type": "eye_on_base",
                "robot_base_frame": "base_link",
                "robot_effector_frame": "tool0",
                "tracking_base_frame": f"{camera}_color_optical_frame",
            },
            "transform": {
                "translation": {"x": x, "y": y, "z": z},
                "rotation": {"x": qx, "y": qy, "z": qz, "w": qw},
            },
        }
        path.write_text(yaml.safe_dump(result))
        files.append(str(path))
    command = [str(install_prefix() / "bin" / "a2-grasping"), "publish-calibration"]
    return subprocess.Popen(
        [*command, *files, "--namespace", cell],
        env=local_ros_environment(domain),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_namespaced_cells_pick_their_own_objects_at_once(tmp_path):
    from domain_coordinator import domain_id

    def sim_arguments(cell: str) -> list[str]:
        poses = ",".join(f"{v:.6f}" for v in _camera_poses(cell))
        return [*SIM_ARGUMENTS, "-p", f"camera_poses:=[{poses}]"]

    with domain_id() as reserved:
        publishers = [_publish_calibration(c, reserved, tmp_path) for c in CAMERA_RAISE_M]
        try:
            _pick_in_both_cells(reserved, tmp_path, sim_arguments)
        finally:
            for publisher in publishers:
                publisher.terminate()
        for cell, publisher in zip(CAMERA_RAISE_M, publishers, strict=True):
            output, _ = publisher.communicate(timeout=10.0)
            assert f"on /{cell}/tf_static" in output, output


def _pick_in_both_cells(reserved: int, tmp_path: Path, sim_arguments) -> None:
    with (
        SimSession(
            reserved,
            tmp_path / "cell_a",
            sim_arguments("cell_a"),
            node_arguments=_node_arguments(),
            namespace="cell_a",
        ) as cell_a,
        SimSession(
            reserved,
            tmp_path / "cell_b",
            sim_arguments("cell_b"),
            node_arguments=_node_arguments(),
            namespace="cell_b",
        ) as cell_b,
    ):
        cells = {"cell_a": cell_a, "cell_b": cell_b}
        objects = {name: cell.reset(SEEDS[name], "single")[0] for name, cell in cells.items()}
        where = {
            name: np.array([o.pose.position.x, o.pose.position.y]) for name, o in objects.items()
        }
        assert np.linalg.norm(where["cell_a"] - where["cell_b"]) > 0.1, "objects must differ"
        for name, cell in cells.items():
            cell.wait_for_fresh_scene()
            scene_msg = cell.latest_scene()
            assert scene_msg is not None and scene_msg.header.frame_id == "base_link"
            # Registered with its own cell's extrinsics, the table lies at z = 0 (the other
            # cell's would put it 6 cm off).
            table_z = np.median(conversions.scene_from_msg(scene_msg).points_xyz[:, 2])
            assert abs(table_z) < 0.01, (name, table_z)

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
