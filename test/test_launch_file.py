"""Checks of launch/bringup.launch.py where `launch`/`launch_ros` are not installable.

Verified here: the file imports only names that exist in Jazzy's launch/launch_ros; run against
recording stand-ins for those names (named as such below), it declares every documented argument
and, for each argument combination, starts the expected nodes with executables, parameter files,
URDF and RViz config that exist in the install, starts lifecycle_activator for the lifecycle
nodes, fails with a non-zero exit naming a node that dies (but not one the launch's own shutdown
ends, and never with a second shutdown), and respects a caller's Fast DDS profile under either
variable name. The activator's rules (bring_to_active) are checked here with scripted nodes, and
the activator itself against real nodes in test/ros/test_lifecycle_activator.py.
Running the launch file for real needs a ROS 2 Jazzy install (README, "Labs with ROS 2 Jazzy").
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from a2_grasping.bringup import (
    ACTIVATOR,
    LIFECYCLE_NODES,
    PIPELINE_NODES,
    BringupOptions,
    bring_to_active,
    bringup_nodes,
    dds_profile_environment,
    node_exit_failure,
    parse_bool,
    parse_cameras,
)
from a2_grasping.installation import install_prefix

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
        "ACTIVATOR",
        "PACKAGE",
        "BringupOptions",
        "activator_spec",
        "bringup_nodes",
        "dds_profile_environment",
        "node_exit_failure",
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
        ACTIVATOR,
    }
    for name, node in nodes.items():
        if node.kwargs["package"] == "a2_grasping":
            assert (install_prefix() / "lib" / "a2_grasping" / node.kwargs["executable"]).is_file()
        if name == ACTIVATOR:
            continue
        if node.kwargs["package"] == "a2_grasping":
            files = [p for p in node.kwargs["parameters"] if isinstance(p, str)]
            expected = [SHARE / "config" / f"{name}.yaml"]
            if name != "sim_node":
                expected.append(SHARE / "config" / "cell.yaml")
            assert files == [str(path) for path in expected]
            assert all(Path(p).is_file() for p in files)
        overrides = node.kwargs["parameters"][-1]
        assert overrides.get("use_sim_time") is (name != "sim_node" or None)
        assert node.kwargs["arguments"][-2:] == ["--log-level", "info"]
    description = nodes["robot_state_publisher"].kwargs["parameters"][-1]["robot_description"]
    assert description == (SHARE / "urdf" / "a2_cell.urdf").read_text()


def test_every_lifecycle_node_is_brought_to_active_by_the_activator(launch_module):
    _, actions = _run(launch_module)
    lifecycle = [a for a in actions if type(a).__name__ == "LifecycleNode"]
    expected = [name for name in PIPELINE_NODES if name in LIFECYCLE_NODES]
    assert [node.kwargs["name"] for node in lifecycle] == expected
    for node in lifecycle:
        assert node.kwargs["parameters"][-1]["autostart"] is False  # the activator drives them
    (activator,) = [a for a in actions if a.kwargs.get("name") == ACTIVATOR]
    assert type(activator).__name__ == "Node" and activator.kwargs["package"] == "a2_grasping"
    arguments = activator.kwargs["arguments"]
    assert arguments[: arguments.index("--ros-args")] == expected
    # started after the nodes it drives, its exit watched from before it starts
    assert all(actions.index(node) < actions.index(activator) for node in lifecycle)
    (watch,) = [
        a
        for a in actions
        if type(a).__name__ == "RegisterEventHandler"
        and a.args[0].kwargs["target_action"] is activator
    ]
    assert actions.index(watch) < actions.index(activator)
    # no transition is left to launch events that can be missed
    assert not [a for a in actions if type(a).__name__ == "EmitEvent"]
    _, actions = _run(launch_module, namespace="cell_a")
    (activator,) = [a for a in actions if a.kwargs.get("name") == ACTIVATOR]
    assert activator.kwargs["namespace"] == "cell_a"  # it finds the cell's nodes by relative name


def test_real_cell_arguments(launch_module, tmp_path):
    overlay = tmp_path / "site.yaml"
    overlay.write_text("/**:\n  ros__parameters:\n    table_height_m: 0.02\n")
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
        real = SHARE / "config" / "real"
        assert files == [str(real / f"{name}.yaml"), str(real / "cell.yaml"), str(overlay)]
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


@pytest.mark.parametrize(
    "given", ["FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"]
)
def test_a_callers_profile_is_respected_whichever_variable_names_it(
    launch_module, monkeypatch, given
):
    """Jazzy's Fast DDS 2.x reads only the FASTRTPS name: a profile given under the FASTDDS name
    alone must not be overridden by the package's (nor the other way round for Fast DDS 3)."""
    (other,) = {"FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"} - {given}
    monkeypatch.setenv(given, "/site/profile.xml")
    monkeypatch.delenv(other, raising=False)
    _, actions = _run(launch_module)
    settings = [a for a in actions if type(a).__name__ == "SetEnvironmentVariable"]
    assert [a.args for a in settings] == [(other, "/site/profile.xml")]
    assert dds_profile_environment(SHARE, {given: "/site/profile.xml"}) == {
        other: "/site/profile.xml"
    }
    assert dds_profile_environment(SHARE, {given: "/a.xml", other: "/b.xml"}) == {}


def _exit_handlers(actions: list) -> dict[str, object]:
    return {
        a.args[0].kwargs["target_action"].kwargs["name"]: a.args[0].kwargs["on_exit"]
        for a in actions
        if type(a).__name__ == "RegisterEventHandler"
        and type(a.args[0]).__name__ == "OnProcessExit"
    }


def _exit(handler, returncode: int, shutting_down: bool = False) -> list:
    return handler(
        types.SimpleNamespace(returncode=returncode),
        types.SimpleNamespace(is_shutdown=shutting_down),
    )


def test_a_node_that_fails_fails_the_launch_naming_it(launch_module):
    """An exception from an event handler is how a launch ends with a non-zero exit code
    (LaunchService.run_async: 'Caught exception in launch', one shutdown, return code 1)."""
    _, actions = _run(launch_module)
    exits = _exit_handlers(actions)
    assert set(exits) == set(_nodes(actions))
    with pytest.raises(RuntimeError, match="inference_node exited with code 2"):
        _exit(exits["inference_node"], 2)
    with pytest.raises(RuntimeError, match=r"executor_node was killed by signal 9 \(SIGKILL\)"):
        _exit(exits["executor_node"], -9)  # killed after start-up: no longer exit 0
    with pytest.raises(RuntimeError, match="not every lifecycle node reached active"):
        _exit(exits[ACTIVATOR], 1)
    assert _exit(exits["inference_node"], 0) == []
    assert _exit(exits[ACTIVATOR], 0) == []  # all active: the activator's job is done


def test_the_launchs_own_shutdown_is_no_failure_and_starts_no_second_one(launch_module):
    """Ctrl-C to the whole process group: nodes that die of the second SIGINT (or of the
    launch's SIGTERM / SIGKILL) while the launch shuts down are not failures; the handlers never
    emit a shutdown themselves, so none can start during a shutdown."""
    _, actions = _run(launch_module)
    exits = _exit_handlers(actions)
    for name, handler in exits.items():
        for code in (0, -2, -15, -9, 130, 143, 137):
            assert _exit(handler, code, shutting_down=True) == [], (name, code)
    # an error of its own during the shutdown still fails the launch (non-zero exit), and does
    # so by raising: LaunchService does not emit a second Shutdown while shutting down
    with pytest.raises(RuntimeError, match="while the bringup shut down"):
        _exit(exits["perception_node"], 1, shutting_down=True)
    assert node_exit_failure("x", -2, shutting_down=False) == (
        "x was killed by signal 2 (SIGINT) (its output is above)"
    )


class _ScriptedNode:
    """A lifecycle node as the activator sees it: get_state answers from `states` in turn (the
    last one repeats; None: no answer), and every change_state call is recorded."""

    def __init__(self, *states: str | None) -> None:
        self.states = list(states)
        self.calls: list[str] = []

    def get_state(self) -> str | None:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def change_state(self, transition: str) -> bool | None:
        self.calls.append(transition)
        return None


def _activate(node: _ScriptedNode, **kwargs) -> object:
    polls = iter(range(50))
    return bring_to_active(
        "inference_node",
        node.get_state,
        node.change_state,
        expired=lambda: next(polls) >= 49,
        **kwargs,
    )


def test_activation_trusts_the_state_the_node_reports_not_one_response():
    # The launch missed the transition events and configure's response timed out (None), but
    # the node did configure: the state read back says inactive, so activate follows.
    node = _ScriptedNode("unconfigured", "inactive", "active")
    outcome = _activate(node)
    assert outcome.active and node.calls == ["configure", "activate"]
    # Already active (e.g. autostart): nothing is asked of it.
    node = _ScriptedNode("active")
    assert _activate(node).active and node.calls == []
    # Between states (configure still loading models, get_state unanswered): wait, no new
    # transition on top of the running one.
    node = _ScriptedNode("unconfigured", "configuring", None, "configuring", "inactive", "active")
    assert _activate(node).active and node.calls == ["configure", "activate"]


def test_activation_retries_then_fails_naming_the_node_and_its_state():
    node = _ScriptedNode("inactive")  # every activate fails or is lost: still inactive
    outcome = _activate(node, attempts=3)
    assert not outcome.active and outcome.state == "inactive"
    assert node.calls == ["activate"] * 3
    assert "inference_node is still 'inactive' after 3 attempts to activate" in outcome.message
    # a configure that fails returns the node to unconfigured: retried, then reported
    node = _ScriptedNode("unconfigured")
    outcome = _activate(node, attempts=2)
    assert node.calls == ["configure"] * 2 and outcome.state == "unconfigured"
    # shut down or failed for good: no transition leads to active
    node = _ScriptedNode("finalized")
    outcome = _activate(node)
    assert not outcome.active and node.calls == []
    assert "inference_node is 'finalized'" in outcome.message
    # never answers (not started, or stuck): fails when the time is up, saying so
    node = _ScriptedNode(None)
    outcome = _activate(node)
    assert not outcome.active and "never reported its state" in outcome.message
    node = _ScriptedNode("configuring")
    assert "still 'configuring'" in _activate(node).message


def test_a_namespace_moves_every_node_the_simulated_clock_and_tf(launch_module):
    _, actions = _run(launch_module, namespace="/cell_a/", publish_description="true")
    nodes = _nodes(actions)
    assert "robot_state_publisher" in nodes  # its TF tree is the cell's too
    for name, node in nodes.items():
        assert node.kwargs["namespace"] == "cell_a", name
        assert node.kwargs["remappings"] == [
            ("/clock", "clock"),
            ("/tf", "tf"),
            ("/tf_static", "tf_static"),
        ], name
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


def test_a_site_file_that_sets_a_shared_name_for_one_node_is_refused(tmp_path):
    """cell.yaml's `/**` value would win over it for that node (rcl ranks `/**` after a node's
    own key once it appears later), and the nodes would disagree on the table."""
    overlay = tmp_path / "site.yaml"
    overlay.write_text("executor_node:\n  ros__parameters:\n    table_height_m: 0.02\n")
    with pytest.raises(ValueError, match=r"\['table_height_m'\] under 'executor_node'.*'/\*\*'"):
        bringup_nodes(SHARE, BringupOptions(use_sim=False, params_file=str(overlay)))
