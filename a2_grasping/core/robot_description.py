"""Where the robot's kinematic and collision description comes from.

The UR5e URDF (links, joints, collision meshes) is the one shipped by `airo-models` (MIT
licence, installed from PyPI); `robot-descriptions` would clone from GitHub at run time. Its
`base_link` is the ROS base frame every pose in this package is expressed in.
"""

from __future__ import annotations

from pathlib import Path

from airo_models import get_urdf_path


def ur5e_urdf_path() -> Path:
    return Path(get_urdf_path("ur5e"))
