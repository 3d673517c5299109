"""The installed package: layout, executables, import isolation of the core, configuration files."""

from __future__ import annotations

import dataclasses
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import a2_grasping
import a2_grasping.core
from a2_grasping.bringup import profile_parameters
from a2_grasping.core.config_fields import describe
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place import PlaceConfig
from a2_grasping.installation import install_prefix

REPO_ROOT = Path(__file__).resolve().parents[1]
ROS_ROOTS = {
    "rclpy",
    "rcl_interfaces",
    "std_msgs",
    "sensor_msgs",
    "geometry_msgs",
    "builtin_interfaces",
}
OWN_ROS_MODULES = ("a2_grasping.msg", "a2_grasping.srv", "a2_grasping.action", "a2_grasping.ros")


def test_tests_run_against_the_installed_package():
    # ./run test uses `python -P`, so the source tree must not shadow the installed copy.
    assert Path(a2_grasping.__path__[0]).resolve().is_relative_to(install_prefix())


def test_core_imports_no_ros():
    modules = [
        m.name for m in pkgutil.walk_packages(a2_grasping.core.__path__, "a2_grasping.core.")
    ]
    assert "a2_grasping.core.selection.request" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"ros_roots = {ROS_ROOTS!r}\n"
        "ros = sorted(m for m in sys.modules if m.split('.')[0] in ros_roots"
        f" or m.startswith({OWN_ROS_MODULES!r}))\n"
        "print(ros)\n"
    )
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize("cwd", [REPO_ROOT, Path("/")])
def test_interfaces_import_with_an_empty_environment(cwd):
    # From the repository root the source package shadows the installed one; its __init__
    # extends the package path so the generated modules are still found.
    code = (
        "from a2_grasping.msg import GraspCandidate, SceneSnapshot\n"
        "from a2_grasping.srv import SelectGrasp\n"
        "from a2_grasping.action import Pick\n"
        "print(SelectGrasp.Response.NO_SCENE, Pick.Result.CANCELED, GraspCandidate().width_m)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "8", "0.0"]


def test_executables_are_installed_where_ros2_run_and_the_shell_find_them():
    prefix = install_prefix()
    node = prefix / "lib" / "a2_grasping" / "inference_node"
    assert node.is_file() and node.stat().st_mode & 0o111
    version = subprocess.run(
        [str(prefix / "bin" / "a2-grasping"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    package_xml = (REPO_ROOT / "package.xml").read_text()
    declared = re.search(r"<version>(.+)</version>", package_xml).group(1)
    assert version.stdout.strip() == f"a2-grasping {declared}"
    assert a2_grasping.__version__ == declared


def test_share_holds_config_and_launch():
    share = install_prefix() / "share" / "a2_grasping"
    for relative in ("package.xml", "config/inference_node.yaml", "launch/bringup.launch.py"):
        assert (share / relative).is_file(), relative
    index = install_prefix() / "share" / "ament_index" / "resource_index" / "packages"
    assert (index / "a2_grasping").is_file()


def test_config_file_matches_the_declared_parameters():
    config_types = (InferenceConfig, SelectionConfig, SegmentationConfig, PlaceConfig)
    declared = {name: text for t in config_types for name, text in describe(t).items()}
    assert len(declared) == sum(len(describe(t)) for t in config_types)  # no name declared twice
    values = profile_parameters(REPO_ROOT / "config", "inference_node")
    values = {k: v for k, v in values.items() if k in declared}  # cell.yaml serves every node
    assert set(values) == set(declared)
    assert all(declared.values()), "every parameter needs a description"
    for config_type in config_types:
        own = {k: v for k, v in values.items() if k in describe(config_type)}
        config = config_type(**own)  # the shipped values validate
        defaults = {f.name: f.default for f in dataclasses.fields(config_type)}
        assert dataclasses.asdict(config) == defaults, "config/ documents the defaults"
