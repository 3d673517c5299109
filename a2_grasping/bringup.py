"""What bringup starts, as plain data: one definition for `launch/bringup.launch.py` (ROS 2
installs) and for the demo / tests here, which start the same nodes as processes (`launch` is not
installable from PyPI).

Profiles: `use_sim` takes the simulated cell's parameter files (`config/*.yaml`) and starts
`sim_node`; otherwise the real cell's (`config/real/*.yaml`: UR driver + Robotiq controller
names, RealSense topics, TF extrinsics). A `params_file` is applied after the profile's file of
every node, so one YAML with a block per node can override anything.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "a2_grasping"
PIPELINE_NODES = ("perception_node", "inference_node", "executor_node")
LIFECYCLE_NODES = ("perception_node", "inference_node", "executor_node")
URDF_FILE = ("urdf", "a2_cell.urdf")
RVIZ_FILE = ("config", "a2_grasping.rviz")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
DDS_PROFILE_FILE = ("config", "fastdds_large_data.xml")
# What every pipeline node of a profile must agree on (the table, segmentation), under `/**`.
# Loaded after each node's own file: rcl ranks a node's parameters by the order in which their
# node keys first appear, and `-p` overrides (and launch's parameter dicts) join the `/**` entry,
# so a `/**` entry created before the node's own would let the node's file override them.
CELL_PARAMETERS_FILE = "cell.yaml"
# Jazzy's Fast DDS 2.x reads the FASTRTPS name, 3.x the FASTDDS one.
DDS_PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
# The process that drives the lifecycle nodes to active and checks that they got there.
ACTIVATOR = "lifecycle_activator"
# The transition that leads from each primary state towards active.
TOWARDS_ACTIVE = {"unconfigured": "configure", "inactive": "activate"}
# Lifecycle states a node passes through while a transition runs: wait for them to end.
TRANSITION_STATES = (
    "configuring",
    "activating",
    "deactivating",
    "cleaningup",
    "shuttingdown",
    "errorprocessing",
)
# How a process ends when the launch stops it (SIGINT, then SIGTERM, then SIGKILL).
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


@dataclass(frozen=True)
class BringupOptions:
    """The launch arguments, parsed (see bringup.launch.py for their documentation)."""

    use_sim: bool = True
    use_mock_hardware: bool = False
    params_file: str = ""
    cameras: tuple[str, ...] = ()
    launch_rviz: bool = False
    log_level: str = "info"
    publish_description: bool = True
    namespace: str = ""  # every node's namespace; empty: the root

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", self.namespace.strip().strip("/"))
        if self.namespace and not all(part.isidentifier() for part in self.namespace.split("/")):
            raise ValueError(
                f"namespace {self.namespace!r} is not a valid ROS namespace (letters, digits, "
                "'_' and '/', each part starting with a letter)"
            )
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}, got {self.log_level!r}")
        if self.use_sim and self.use_mock_hardware:
            raise ValueError(
                "use_sim and use_mock_hardware exclude each other: the simulator is the hardware"
            )
        for camera in self.cameras:
            if not camera.isidentifier():
                raise ValueError(f"camera name {camera!r} is not a valid parameter name")


# The global names a namespaced cell takes as its own (see NodeSpec.remappings).
NAMESPACED_GLOBALS = (("/clock", "clock"), ("/tf", "tf"), ("/tf_static", "tf_static"))


@dataclass(frozen=True)
class NodeSpec:
    """One node to start: parameter files in order, then single overrides."""

    package: str
    executable: str
    name: str
    parameter_files: tuple[Path, ...] = ()
    parameters: dict[str, object] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    lifecycle: bool = False
    namespace: str = ""

    @property
    def remappings(self) -> tuple[tuple[str, str], ...]:
        """In a namespace the cell has its own simulated clock and its own TF tree, as nav2
        runs several robots: /clock, /tf and /tf_static -> <namespace>/clock, /tf, /tf_static.
        Two cells then share no frame (each has its base_link, cameras and robot description);
        every other name of the package is relative already. /diagnostics stays global: the
        aggregators of a site read every cell's, each status named after its node."""
        return NAMESPACED_GLOBALS if self.namespace else ()

    def ros_arguments(self, log_level: str) -> list[str]:
        """What follows `--ros-args` for a process to run this node as the launch file would."""
        arguments = ["-r", f"__node:={self.name}", "--log-level", log_level]
        if self.namespace:
            arguments += ["-r", f"__ns:=/{self.namespace}"]
        for source, target in self.remappings:
            arguments += ["-r", f"{source}:={target}"]
        for path in self.parameter_files:
            arguments += ["--params-file", str(path)]
        for key, value in self.parameters.items():
            arguments += ["-p", f"{key}:={_parameter_text(value)}"]
        return arguments


def node_parameters(document: Mapping[str, object], node: str) -> dict[str, object]:
    """A node's ros__parameters from a parameter file's content: the package's files key them
    `/**/<node>` (any namespace) or, for every node, `/**` (cell.yaml); a user's file may also
    say `<node>` or `/<node>`."""
    for key in (f"/**/{node}", node, f"/{node}", "/**"):
        block = document.get(key)
        if isinstance(block, dict) and isinstance(block.get("ros__parameters"), dict):
            return dict(block["ros__parameters"])
    raise KeyError(f"no ros__parameters for {node} (keys: {sorted(document)})")


def check_overlay(path: Path, cell_file: Path) -> None:
    """A site's params_file may set the cell's shared names (cell.yaml) only under `/**`: set for
    one node, the cell file's `/**` value would win over it (see CELL_PARAMETERS_FILE) and the
    nodes would disagree. ValueError naming the file, node and names."""
    import yaml

    shared = set(node_parameters(yaml.safe_load(cell_file.read_text()), "/**"))
    document = yaml.safe_load(path.read_text()) or {}
    for key, block in document.items():
        if key == "/**" or not isinstance(block, dict):
            continue
        values = block.get("ros__parameters")
        clash = sorted(shared & set(values)) if isinstance(values, dict) else []
        if clash:
            raise ValueError(
                f"{path}: {clash} under '{key}': these are shared by every node of the cell "
                f"({cell_file.name}); set them under '/**' so that all nodes use one value"
            )


def profile_parameters(config_dir: Path, node: str) -> dict[str, object]:
    """A pipeline node's parameters as bringup gives them from a profile's directory: the node's
    own file and the cell's shared values (cell.yaml). A node declares only some of the cell's
    names and ignores the rest."""
    import yaml

    cell = yaml.safe_load((config_dir / CELL_PARAMETERS_FILE).read_text())
    own = yaml.safe_load((config_dir / f"{node}.yaml").read_text())
    return {**node_parameters(own, node), **node_parameters(cell, node)}


def dds_profile_environment(share: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The Fast DDS profile variables to set for the nodes.

    A profile the caller chose is respected whichever variable names it: Fast DDS 2.x (Jazzy)
    reads only the FASTRTPS name, 3.x only the FASTDDS one, so a caller's profile given under one
    name is set under the other too (set under both, both are left alone). Without any, both
    name the package's large-data profile: 640x480 images and scenes exceed Fast DDS's default
    512 KB shared-memory segment and best-effort streams lose about half the frames.
    """
    chosen = [environ[name] for name in DDS_PROFILE_VARIABLES if environ.get(name)]
    profile = chosen[0] if chosen else str(share.joinpath(*DDS_PROFILE_FILE))
    return {name: profile for name in DDS_PROFILE_VARIABLES if not environ.get(name)}


def parse_bool(text: str, name: str) -> bool:
    """Launch arguments arrive as text."""
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"launch argument {name}={text!r} is not a boolean (true/false)")


def parse_cameras(text: str) -> tuple[str, ...]:
    """'front_left,front_right' or '[front_left, front_right]'; empty = the profile's cameras."""
    names = text.strip().strip("[]")
    return tuple(name.strip().strip("'\"") for name in names.split(",") if name.strip())


def profile_config_dir(share: Path, use_sim: bool) -> Path:
    return share / "config" if use_sim else share / "config" / "real"


def bringup_nodes(share: Path, options: BringupOptions) -> list[NodeSpec]:
    """Every node of the bringup, in start order; `share` is the package's share directory."""
    config = profile_config_dir(share, options.use_sim)
    overlay = (Path(options.params_file),) if options.params_file else ()
    for path in overlay:
        check_overlay(path, config / CELL_PARAMETERS_FILE)
    nodes = []
    if options.use_sim:
        nodes.append(
            NodeSpec(
                PACKAGE,
                "sim_node",
                "sim_node",
                (config / "sim_node.yaml", *overlay),
                namespace=options.namespace,
            )
        )
    for name in PIPELINE_NODES:
        parameters: dict[str, object] = {"use_sim_time": options.use_sim}
        if name == "perception_node" and options.cameras:
            parameters["camera_names"] = list(options.cameras)
        if name in LIFECYCLE_NODES:
            parameters["autostart"] = False  # bringup drives configure -> activate
        nodes.append(
            NodeSpec(
                PACKAGE,
                name,
                name,
                (config / f"{name}.yaml", config / CELL_PARAMETERS_FILE, *overlay),
                parameters,
                lifecycle=name in LIFECYCLE_NODES,
                namespace=options.namespace,
            )
        )
    if options.publish_description:
        urdf = share.joinpath(*URDF_FILE).read_text()
        nodes.append(
            NodeSpec(
                "robot_state_publisher",
                "robot_state_publisher",
                "robot_state_publisher",
                parameters={"robot_description": urdf, "use_sim_time": options.use_sim},
                namespace=options.namespace,
            )
        )
    if options.launch_rviz:
        nodes.append(
            NodeSpec(
                "rviz2",
                "rviz2",
                "rviz2",
                parameters={"use_sim_time": options.use_sim},
                arguments=("-d", str(share.joinpath(*RVIZ_FILE))),
                namespace=options.namespace,
            )
        )
    return nodes


def activator_spec(options: BringupOptions, nodes: list[NodeSpec]) -> NodeSpec:
    """The process the launch runs beside the nodes to bring every lifecycle node to active
    (`a2_grasping.ros.lifecycle_activator`); it exits 0 once all are active, 1 naming the node
    and its state otherwise."""
    names = tuple(spec.name for spec in nodes if spec.lifecycle)
    return NodeSpec(PACKAGE, ACTIVATOR, ACTIVATOR, arguments=names, namespace=options.namespace)


@dataclass(frozen=True)
class Activation:
    """How bringing one lifecycle node to active ended."""

    node: str
    active: bool
    state: str  # the last state the node reported ("" if it never answered)
    message: str


def bring_to_active(
    name: str,
    get_state: Callable[[], str | None],
    change_state: Callable[[str], bool | None],
    *,
    attempts: int = 3,
    expired: Callable[[], bool] = lambda: False,
    pause: Callable[[], None] = lambda: None,
) -> Activation:
    """Drive one lifecycle node to active, trusting only the state it reports.

    `get_state` returns the node's state label (None: no answer in time); `change_state` asks
    for a transition ("configure", "activate") and returns whether it succeeded (None: no
    answer). Whatever a transition call returns, the state is read again before the next step:
    a response lost or timed out may still have changed the state, and a refused one may be
    retried. Each transition is tried at most `attempts` times; while the node is between
    states (configuring, ...) or does not answer, it is asked again after `pause` until
    `expired`. Ends active, or not active with the node's last state named.
    """
    tries: Counter[str] = Counter()
    state = ""
    while True:
        reported = get_state()
        if reported == "active":
            return Activation(name, True, reported, f"{name} is active")
        if reported is not None:
            state = reported
        transition = TOWARDS_ACTIVE.get(state) if reported is not None else None
        if transition is None:
            if reported is not None and state not in TRANSITION_STATES:
                return Activation(
                    name, False, state, f"{name} is '{state}': it cannot be made active"
                )
            if expired():
                seen = f"still '{state}'" if state else "never reported its state"
                return Activation(name, False, state, f"{name} {seen}: not active in time")
            pause()
            continue
        if tries[transition] >= attempts:
            return Activation(
                name,
                False,
                state,
                f"{name} is still '{state}' after {attempts} attempts to {transition} "
                "(its log says why)",
            )
        tries[transition] += 1
        change_state(transition)


def node_exit_failure(name: str, returncode: int | None, shutting_down: bool) -> str | None:
    """Why a node's exit fails the launch (None: it does not).

    An exit code of 0 is no failure. While the launch shuts down, a process ended by one of the
    signals the launch stops processes with is no failure either (a node that dies of a second
    Ctrl-C); an error code then still is. Anything else while running is: a node that died or
    was killed leaves the cell without it.
    """
    if not returncode:
        return None
    if shutting_down and returncode in {-sig for sig in SHUTDOWN_SIGNALS} | {
        128 + sig for sig in SHUTDOWN_SIGNALS
    }:
        return None
    if returncode < 0:
        try:
            signal_name = signal.Signals(-returncode).name
        except ValueError:
            signal_name = "unknown"
        how = f"was killed by signal {-returncode} ({signal_name})"
    else:
        how = f"exited with code {returncode}"
    when = " while the bringup shut down" if shutting_down else ""
    return f"{name} {how}{when} (its output is above)"


def _parameter_text(value: object) -> str:
    """A parameter override as `ros2 run ... -p name:=value` parses it (YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_parameter_text(v) for v in value) + "]"
    return str(value)
