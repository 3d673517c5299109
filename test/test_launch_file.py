"""Static checks of launch/bringup.launch.py (launch/launch_ros are not installable here).

What is verified here: the file parses, imports only launch/launch_ros names that exist in Jazzy,
and every executable, launch argument default and config file it names exists in the install.
Running it needs a real ROS 2 Jazzy install (README, "Labs with ROS 2 Jazzy").
"""

from __future__ import annotations

import ast
from pathlib import Path

from a2_grasping.tools.node_process import install_prefix

LAUNCH_FILE = install_prefix() / "share" / "a2_grasping" / "launch" / "bringup.launch.py"
# Names from launch / launch_ros (Jazzy) the file may use.
KNOWN_IMPORTS = {
    "launch": {"LaunchDescription"},
    "launch.actions": {"DeclareLaunchArgument", "IncludeLaunchDescription", "GroupAction"},
    "launch.substitutions": {"LaunchConfiguration", "PathJoinSubstitution"},
    "launch.conditions": {"IfCondition", "UnlessCondition"},
    "launch_ros.actions": {"Node", "LifecycleNode"},
    "launch_ros.parameter_descriptions": {"ParameterValue", "ParameterFile"},
    "launch_ros.substitutions": {"FindPackageShare"},
}


def _tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


def test_imports_are_known_launch_names():
    for node in ast.walk(_tree()):
        if isinstance(node, ast.ImportFrom):
            assert node.module in KNOWN_IMPORTS, node.module
            for alias in node.names:
                assert alias.name in KNOWN_IMPORTS[node.module], f"{node.module}.{alias.name}"


def test_named_executables_and_files_exist_in_the_install():
    tree = _tree()
    executables = [
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "executable" and isinstance(kw.value, ast.Constant)
    ]
    assert executables == ["inference_node"]
    for name in executables:
        assert (install_prefix() / "lib" / "a2_grasping" / name).is_file(), name
    share = install_prefix() / "share" / "a2_grasping"
    # PathJoinSubstitution([FindPackageShare("a2_grasping"), "config", "x.yaml"]) -> parts
    path_parts = [
        [elt.value for elt in node.args[0].elts if isinstance(elt, ast.Constant)]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "PathJoinSubstitution"
        and isinstance(node.args[0], ast.List)
    ]
    assert ["config", "inference_node.yaml"] in path_parts
    for parts in path_parts:
        assert Path(share, *parts).exists(), parts


def test_every_argument_has_a_description():
    for node in ast.walk(_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument":
            keywords = {kw.arg for kw in node.keywords}
            assert {"default_value", "description"} <= keywords, ast.dump(node)[:80]
