"""Bring up a2_grasping on a ROS 2 Jazzy install: `ros2 launch a2_grasping bringup.launch.py`.

Starts perception_node, inference_node and executor_node (lifecycle nodes, configured and
activated here) and robot_state_publisher (urdf/a2_cell.urdf); with `use_sim:=true` (the default)
also the simulated cell, sim_node. Which nodes start with which parameter files is defined once in
`a2_grasping.bringup`, which the demo uses too. `ros2 launch a2_grasping bringup.launch.py
--show-args` lists the arguments.

The bringup comes up whole or fails saying why: `lifecycle_activator` drives every lifecycle node
to active, reading back each node's state (a lost transition event or response is retried, not
trusted), and the launch fails naming the node and its state when one does not get there. A node
that dies or is killed fails the launch (non-zero exit, the node named); a node ended by the
launch's own SIGINT/SIGTERM/SIGKILL during a shutdown does not start a second shutdown.

Real cell: `use_sim:=false` with your drivers running (ur_robot_driver, the Robotiq controller,
realsense2_camera), or `use_mock_hardware:=true` to have the UR driver started here on
mock_components hardware (no robot needed; the arm follows commands exactly).
"""

from os import environ
from pathlib import Path

from launch import Action, LaunchContext, LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from a2_grasping.bringup import (
    ACTIVATOR,
    PACKAGE,
    BringupOptions,
    activator_spec,
    bringup_nodes,
    dds_profile_environment,
    node_exit_failure,
    parse_bool,
    parse_cameras,
)

ARGUMENTS = (
    ("use_sim", "true", "Start the simulated cell (sim_node) and use its clock and profile."),
    (
        "use_mock_hardware",
        "false",
        "Real-cell profile without a robot: start ur_robot_driver with mock_components "
        "hardware (needs use_sim:=false).",
    ),
    (
        "params_file",
        "",
        "Optional YAML applied after the profile's file of every node (one block per node).",
    ),
    ("cameras", "", "Comma-separated camera names to fuse (default: the profile's cameras)."),
    ("launch_rviz", "false", "Start RViz with config/a2_grasping.rviz."),
    (
        "publish_description",
        "true",
        "Start robot_state_publisher with urdf/a2_cell.urdf. Set false when your own launch "
        "already publishes the robot (e.g. ur_robot_driver's); the gripper and camera frames "
        "must then come from your description.",
    ),
    ("log_level", "info", "Log level of every node: debug, info, warn, error, fatal."),
    (
        "namespace",
        "",
        "Namespace of every node and name (e.g. cell_a: /cell_a/pick, /cell_a/joint_states); "
        "several cells can then share one ROS domain. Empty: the root namespace.",
    ),
)


def _nodes(context: LaunchContext) -> list[Action]:
    """Build the actions from the evaluated arguments (bringup.py holds the plan)."""
    share = FindPackageShare(PACKAGE).perform(context)

    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    options = BringupOptions(
        use_sim=parse_bool(argument("use_sim"), "use_sim"),
        use_mock_hardware=parse_bool(argument("use_mock_hardware"), "use_mock_hardware"),
        params_file=argument("params_file"),
        cameras=parse_cameras(argument("cameras")),
        launch_rviz=parse_bool(argument("launch_rviz"), "launch_rviz"),
        log_level=argument("log_level"),
        publish_description=parse_bool(argument("publish_description"), "publish_description"),
        namespace=argument("namespace"),
    )
    # The same Fast DDS profile as the demo and the tests (unless the caller set one).
    actions: list[Action] = [
        SetEnvironmentVariable(name, value)
        for name, value in dds_profile_environment(Path(share), environ).items()
    ]
    nodes = bringup_nodes(Path(share), options)
    for spec in [*nodes, activator_spec(options, nodes)]:
        common = {
            "package": spec.package,
            "executable": spec.executable,
            "name": spec.name,
            "output": "screen",
            "parameters": [*(str(path) for path in spec.parameter_files), spec.parameters],
            "arguments": [*spec.arguments, "--ros-args", "--log-level", options.log_level],
            "namespace": spec.namespace,
            "remappings": list(spec.remappings),
        }
        # The exit handler first, so that no exit can go unseen.
        node = LifecycleNode(**common) if spec.lifecycle else Node(**common)
        actions += [_fail_launch_when_it_fails(node, spec.name), node]
    if options.use_mock_hardware:
        actions.append(
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(
                    PathJoinSubstitution(
                        [FindPackageShare("ur_robot_driver"), "launch", "ur_control.launch.py"]
                    )
                ),
                launch_arguments={
                    "ur_type": "ur5e",
                    "robot_ip": "0.0.0.0",
                    "use_mock_hardware": "true",
                    "launch_rviz": "false",
                    "initial_joint_controller": "scaled_joint_trajectory_controller",
                }.items(),
            )
        )
    return actions


def _fail_launch_when_it_fails(node: Action, name: str) -> RegisterEventHandler:
    """A node that dies or is killed, or a lifecycle node that does not reach active (the
    activator's exit 1), fails the launch: the exception ends it once, with a non-zero exit code
    and the node named (its own error is on screen just above). While the launch shuts down, a
    node that the shutdown's signals end is no failure, and no second shutdown is started."""

    def on_exit(event: object, context: LaunchContext) -> list[Action]:
        shutting_down = bool(getattr(context, "is_shutdown", False))
        reason = node_exit_failure(name, getattr(event, "returncode", 0), shutting_down)
        if reason is None:
            return []
        if name == ACTIVATOR:
            reason = f"not every lifecycle node reached active: {reason}"
        raise RuntimeError(f"{reason}; stopping the bringup")

    return RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
