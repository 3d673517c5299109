"""Where this package is installed: its prefix (the venv, or a colcon install space), the node
executables and the shared files. Imports nothing from ROS: bags, tools and tests all use it.
"""

from __future__ import annotations

from pathlib import Path

import a2_grasping
from a2_grasping.bringup import DDS_PROFILE_FILE, PACKAGE


def install_prefix() -> Path:
    """The prefix this package was installed into (the venv, or a colcon install space).

    The installed copy is the package directory that holds the generated interfaces:
    <prefix>/lib/pythonX.Y/site-packages/a2_grasping/msg.
    """
    for directory in map(Path, a2_grasping.__path__):
        if (directory / "msg").is_dir():
            return directory.resolve().parents[3]
    raise FileNotFoundError(
        "a2_grasping is not installed (no generated a2_grasping.msg found); run ./run setup"
    )


def node_executable(name: str) -> Path:
    path = install_prefix() / "lib" / "a2_grasping" / name
    if not path.is_file():
        raise FileNotFoundError(f"node executable {path} does not exist")
    return path


def large_data_profile() -> Path:
    """The installed Fast DDS profile with a shared-memory segment large enough for scenes."""
    return install_prefix() / "share" / PACKAGE / Path(*DDS_PROFILE_FILE)
