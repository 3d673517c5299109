"""Checks of launch/bringup.launch.py where `launch`/`launch_ros` are not installable.

Verified here: the file imports only names that exist in Jazzy's launch/launch_ros; run against
recording stand-ins for those names (named as such below), it declares every documented argument
and, for each argument combination, starts the expected nodes with executables, parameter files,
URDF and RViz config that exist in the install, and drives the lifecycle nodes (inference_node,
executor_node) configure -> activate.
Running it for real needs a ROS 2 Jazzy install (README, "Labs with ROS 2 Jazzy").
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest
from lifecycle_msgs.msg import Transition

from a2_grasping.bringup import BringupOptions, bringup_nodes, parse_bool, parse_cameras
from a2_grasping.tools.node_process import install_prefix

SHARE = install_prefix() / "share" / "a2_grasping"
LAUNCH_FILE = SHARE / "launch" / "bringup.launch.py"
DOCUMENTED_ARGUMENTS = {
    "use_sim",
    "use_mock_hardware",
    "params_file",
    "cameras",
    "launch_rviz",
    "log_level",
    "publish_description",
    "namespace",
}
# Names of launch / launch_ros in Jazzy the file may use (module -> names).
KNOWN_IMPORTS = {
    "launch": {"Action", "LaunchContext", "LaunchDescription"},
    "launch.actions": {
        "DeclareLaunchArgument",
        "EmitEvent",
        "IncludeLaunchDescription",
        "LogInfo",
        "OpaqueFunction",
        "RegisterEventHandler",
        "SetEnvironmentVariable",
    },
    "launch.event_handlers": {"OnProcessExit"},
    "launch.events": {"Shutdown", "matches_action"},
    "launch.launch_description_sources": {"PythonLaunchDescriptionSource"},
    "launch.substitutions": {"LaunchConfiguration", "PathJoinSubstitution"},
    "launch_ros.actions": {"LifecycleNode", "Node"},
    "launch_ros.event_handlers": {"OnStateTransition"},
    "launch_ros.events.lifecycle": {"ChangeState"},
    "launch_ros.substitutions": {"FindPackageShare"},
    "lifecycle_msgs.msg": {"Transition"},
    "a2_grasping.bringup": {
        "PACKAGE",
        "BringupOptions",
        "bringup_nodes",
        "dds_profile_environment",
        "parse_bool",
        "parse_cameras",
    },
    "os": {"environ"},
    "pathlib": {"Path"},
}


def test_imports_are_known_names():
    tree = ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module in KNOWN_IMPORTS, node.module
            for alias in node.names:
                assert alias.name in KNOWN_IMPORTS[node.module], f"{node.module}.{alias.name}"
        assert not isinstance(node, ast.Import), "plain imports are not checked; use from-imports"


# ---- stand-ins for launch / launch_ros: record what the launch file builds ----


class _Recorded:
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args
        self.kwargs = kwargs


class _LaunchConfiguration(_Recorded):
    def perform(self, context: dict[str, str]) -> str:
        return context[str(self.args[0])]


class _FindPackageShare(_Recorded):
    def perform(self, _context: dict[str, str]) -> str:
        assert self.args[0] == "a2_grasping"
        return str(SHARE)


def _stand_in_modules() -> dict[str, types.ModuleType]:
    modules: dict[str, types.ModuleType] = {}
    special = {"LaunchConfiguration": _LaunchConfiguration, "FindPackageShare": _FindPackageShare}
    for module_name, names in KNOWN_IMPORTS.items():
        if not module_name.startswith("launch"):
            continue
        module = types.ModuleType(module_name)
        for name in names:
            if name == "matches_action":
                module.matches_action = lambda action: ("matches", action)  # type: ignore[attr-defined]
            else:
                setattr(module, name, special.get(name) or type(name, (_Recorded,), {}))
        modules[module_name] = module
    return modules


@pytest.fixture
def launch_module(monkeypatch):
    for name, module in _stand_in_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("bringup_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(launch_module, **overrides: str) -> tuple[dict[str, str], list]:
    description = launch_module.generate_launch_description()
    entities = description.args[0]
    declared = [e for e in entities if type(e).__name__ == "DeclareLaunchArgument"]
    context = {e.args[0]: e.kwargs["default_value"] for e in declared}
    assert all(e.kwargs["description"] for e in declared)
    assert set(overrides) <= set(context)
    context.update(overrides)
    (opaque,) = [e for e in entities if type(e).__name__ == "OpaqueFunction"]
    return context, opaque.kwargs["function"](context)


def _nodes(actions: list) -> dict[str, _Recorded]:
    return {a.kwargs["name"]: a for a in actions if type(a).__name__ in ("Node", "LifecycleNode")}


def test_default_bringup_starts_the_simulated_cell_and_every_node(launch_module):
    context, actions = _run(launch_module)
    assert set(context) == DOCUMENTED_ARGUMENTS
    nodes = _nodes(actions)
    assert set(nodes) == {
        "sim_node",
        "perception_node",
        "inference_node",
        "executor_node",
        "robot_state_publisher",
    }
    for name, node in nodes.items():
        if node.kwargs["package"] == "a2_grasping":
            assert (install_prefix() / "lib" / "a2_grasping" / node.kwargs["executable"]).is_file()
            files = [p for p in node.kwargs["parameters"] if isinstance(p, str)]
            assert files == [str(SHARE / "config" / f"{name}.yaml")]
            assert all(Path(p).is_file() for p in files)
        overrides = node.kwargs["parameters"][-1]
        assert overrides.get("use_sim_time") is (name != "sim_node" or None)
        assert node.kwargs["arguments"][-2:] == ["--log-level", "info"]
    description = nodes["robot_state_publisher"].kwargs["parameters"][-1]["robot_description"]
    assert description == (SHARE / "urdf" / "a2_cell.urdf").read_text()


def test_lifecycle_nodes_are_configured_then_activated_by_the_launch(launch_module):
    _, actions = _run(launch_module)
    lifecycle = [a for a in actions if type(a).__name__ == "LifecycleNode"]
    assert [node.kwargs["name"] for node in lifecycle] == ["inference_node", "executor_node"]
    emits = [a for a in actions if type(a).__name__ == "EmitEvent"]
    handlers = [
        a
        for a in actions
        if type(a).__name__ == "RegisterEventHandler"
        and type(a.args[0]).__name__ == "OnStateTransition"
    ]
    assert len(emits) == len(handlers) == len(lifecycle)
    for node, handler, configure in zip(lifecycle, handlers, emits, strict=True):
        assert node.kwargs["parameters"][-1]["autostart"] is False
        assert configure.kwargs["event"].kwargs["transition_id"] == Transition.TRANSITION_CONFIGURE
        on_inactive = handler.args[0]
        assert on_inactive.kwargs["target_lifecycle_node"] is node
        assert on_inactive.kwargs["goal_state"] == "inactive"
        (activate,) = on_inactive.kwargs["entities"]
        assert activate.kwargs["event"].kwargs["transition_id"] == Transition.TRANSITION_ACTIVATE
        # the handler is registered before the node starts, so no transition is missed
        assert actions.index(handler) < actions.index(node) < actions.index(configure)


def test_real_cell_arguments(launch_module, tmp_path):
    overlay = tmp_path / "site.yaml"
    overlay.write_text("executor_node:\n  ros__parameters:\n    table_height_m: 0.02\n")
    _, actions = _run(
        launch_module,
        use_sim="false",
        use_mock_hardware="true",
        cameras="wrist, overhead",
        launch_rviz="true",
        params_file=str(overlay),
        log_level="debug",
    )
    nodes = _nodes(actions)
    assert "sim_node" not in nodes
    for name in ("perception_node", "inference_node", "executor_node"):
        files = [p for p in nodes[name].kwargs["parameters"] if isinstance(p, str)]
        assert files == [str(SHARE / "config" / "real" / f"{name}.yaml"), str(overlay)]
        assert Path(files[0]).is_file()
        assert nodes[name].kwargs["parameters"][-1]["use_sim_time"] is False
    perception = nodes["perception_node"].kwargs["parameters"][-1]
    assert perception["camera_names"] == ["wrist", "overhead"]
    rviz = nodes["rviz2"].kwargs["arguments"]
    assert rviz[0] == "-d" and Path(rviz[1]).is_file()
    (include,) = [a for a in actions if type(a).__name__ == "IncludeLaunchDescription"]
    assert dict(include.kwargs["launch_arguments"])["use_mock_hardware"] == "true"


def test_invalid_arguments_fail_with_the_arguments_name(launch_module):
    with pytest.raises(ValueError, match="use_sim"):
        _run(launch_module, use_sim="maybe")
    with pytest.raises(ValueError, match="exclude each other"):
        _run(launch_module, use_mock_hardware="true")
    with pytest.raises(ValueError, match="log_level"):
        _run(launch_module, log_level="loud")


def test_bringup_plan_helpers():
    assert parse_cameras("[a, 'b']") == ("a", "b")
    assert parse_cameras("") == ()
    assert parse_bool("True", "x") is True
    with pytest.raises(ValueError, match="not a valid parameter name"):
        BringupOptions(cameras=("front left",))
    (sim,) = [n for n in bringup_nodes(SHARE, BringupOptions()) if n.name == "sim_node"]
    assert sim.ros_arguments("info")[-2:] == [
        "--params-file",
        str(SHARE / "config" / "sim_node.yaml"),
    ]


def test_the_nodes_get_the_demos_dds_profile_unless_one_is_set(launch_module, monkeypatch):
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    _, actions = _run(launch_module)
    settings = [a for a in actions if type(a).__name__ == "SetEnvironmentVariable"]
    profile = str(SHARE / "config" / "fastdds_large_data.xml")
    assert {a.args for a in settings} == {
        ("FASTRTPS_DEFAULT_PROFILES_FILE", profile),
        ("FASTDDS_DEFAULT_PROFILES_FILE", profile),
    }
    assert Path(profile).is_file()
    first_node = min(actions.index(a) for a in _nodes(actions).values())
    assert all(actions.index(a) < first_node for a in settings)
    monkeypatch.setenv("FASTRTPS_DEFAULT_PROFILES_FILE", "/site/profile.xml")
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/site/profile.xml")
    _, actions = _run(launch_module)
    assert not [a for a in actions if type(a).__name__ == "SetEnvironmentVariable"]


def test_a_node_that_fails_ends_the_launch_naming_it(launch_module):
    _, actions = _run(launch_module)
    exits = {
        a.args[0].kwargs["target_action"].kwargs["name"]: a.args[0].kwargs["on_exit"]
        for a in actions
        if type(a).__name__ == "RegisterEventHandler"
        and type(a.args[0]).__name__ == "OnProcessExit"
    }
    assert set(exits) == set(_nodes(actions))
    failed = exits["inference_node"](types.SimpleNamespace(returncode=2), {})
    log, shutdown = failed
    assert "inference_node exited with code 2" in log.kwargs["msg"]
    assert "inference_node" in shutdown.kwargs["event"].kwargs["reason"]
    assert exits["inference_node"](types.SimpleNamespace(returncode=0), {}) == []


def test_a_namespace_moves_every_node_and_the_simulated_clock(launch_module):
    _, actions = _run(launch_module, namespace="/cell_a/")
    for name, node in _nodes(actions).items():
        assert node.kwargs["namespace"] == "cell_a", name
        assert node.kwargs["remappings"] == [("/clock", "clock")], name
    _, actions = _run(launch_module)
    assert all(n.kwargs["namespace"] == "" for n in _nodes(actions).values())
    assert all(n.kwargs["remappings"] == [] for n in _nodes(actions).values())
    (sim,) = [
        n for n in bringup_nodes(SHARE, BringupOptions(namespace="cell_a")) if n.name == "sim_node"
    ]
    arguments = sim.ros_arguments("info")
    assert arguments[4:8] == ["-r", "__ns:=/cell_a", "-r", "/clock:=clock"]
    with pytest.raises(ValueError, match="namespace"):
        BringupOptions(namespace="cell a")
