"""What bringup starts, as plain data: one definition for `launch/bringup.launch.py` (ROS 2
installs) and for the demo / tests here, which start the same nodes as processes (`launch` is not
installable from PyPI).

Profiles: `use_sim` takes the simulated cell's parameter files (`config/*.yaml`) and starts
`sim_node`; otherwise the real cell's (`config/real/*.yaml`: UR driver + Robotiq controller
names, RealSense topics, TF extrinsics). A `params_file` is applied after the profile's file of
every node, so one YAML with a block per node can override anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "a2_grasping"
PIPELINE_NODES = ("perception_node", "inference_node", "executor_node")
LIFECYCLE_NODES = ("inference_node", "executor_node")
URDF_FILE = ("urdf", "a2_cell.urdf")
RVIZ_FILE = ("config", "a2_grasping.rviz")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
DDS_PROFILE_FILE = ("config", "fastdds_large_data.xml")
# Jazzy's Fast DDS 2.x reads the FASTRTPS name, 3.x the FASTDDS one.
DDS_PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")


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
        """In a namespace the simulated clock is the cell's own: /clock -> <namespace>/clock
        (every other name of the package is relative already)."""
        return (("/clock", "clock"),) if self.namespace else ()

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
    `/**/<node>` (any namespace); a user's file may also say `<node>` or `/<node>`."""
    for key in (f"/**/{node}", node, f"/{node}"):
        block = document.get(key)
        if isinstance(block, dict) and isinstance(block.get("ros__parameters"), dict):
            return dict(block["ros__parameters"])
    raise KeyError(f"no ros__parameters for {node} (keys: {sorted(document)})")


def dds_profile_environment(share: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The Fast DDS profile variables to set for the nodes, unless the caller chose a profile.

    Without the profile, 640x480 images and scenes exceed Fast DDS's default 512 KB
    shared-memory segment and best-effort streams lose about half the frames.
    """
    profile = str(share.joinpath(*DDS_PROFILE_FILE))
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
                (config / f"{name}.yaml", *overlay),
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


def _parameter_text(value: object) -> str:
    """A parameter override as `ros2 run ... -p name:=value` parses it (YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_parameter_text(v) for v in value) + "]"
    return str(value)
