"""Write the cell URDF (urdf/a2_cell.urdf) with the camera mounts of a perception_node YAML.

    python -m a2_grasping.tools.write_urdf      # from the repository root: the simulated cell
    python -m a2_grasping.tools.write_urdf --perception-config my_cell/perception_node.yaml \
        --output my_cell/a2_cell.urdf                                 # a real cell

Cameras with `extrinsics_source: tf` are left out: their pose comes from your calibration's TF.
A test keeps the shipped file equal to this script's output for config/perception_node.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from a2_grasping.bringup import node_parameters
from a2_grasping.core.robot_description import CameraMount, cell_urdf


def camera_mounts(perception_config: Path) -> list[CameraMount]:
    """Static camera poses of a perception_node parameter file."""
    document = yaml.safe_load(perception_config.read_text())
    parameters = node_parameters(document, "perception_node")
    mounts = []
    for name in parameters["camera_names"]:
        block = parameters.get(name, {})
        if block.get("extrinsics_source", "static") != "static":
            continue
        if "base_from_optical" not in block:
            raise ValueError(f"{perception_config}: camera {name} has no base_from_optical")
        mounts.append(CameraMount(name, tuple(float(v) for v in block["base_from_optical"])))
    return mounts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--perception-config", type=Path, default=Path("config/perception_node.yaml")
    )
    parser.add_argument("--output", type=Path, default=Path("urdf/a2_cell.urdf"))
    args = parser.parse_args(argv)
    args.output.write_text(cell_urdf(cameras=camera_mounts(args.perception_config)))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
