"""Bring up a2_grasping on a ROS 2 Jazzy install: `ros2 launch a2_grasping bringup.launch.py`.

Starts perception_node, inference_node and executor_node (lifecycle nodes, configured and
activated here) and robot_state_publisher (urdf/a2_cell.urdf); with `use_sim:=true` (the default)
also the simulated cell, sim_node. Which nodes start with which parameter files is defined once in
`a2_grasping.bringup`, which the demo uses too. `ros2 launch a2_grasping bringup.launch.py
--show-args` lists the arguments.

Real cell: `use_sim:=false` with your drivers running (ur_robot_driver, the Robotiq controller,
realsense2_camera), or `use_mock_hardware:=true` to have the UR driver started here on
mock_components hardware (no robot needed; the arm follows commands exactly).
"""

from os import environ
from pathlib import Path

from launch import Action, LaunchContext, LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown, matches_action
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from a2_grasping.bringup import (
    PACKAGE,
    BringupOptions,
    bringup_nodes,
    dds_profile_environment,
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
    for spec in bringup_nodes(Path(share), options):
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
        if not spec.lifecycle:
            node = Node(**common)
            actions += [_end_launch_when_it_fails(node, spec.name), node]
            continue
        node = LifecycleNode(**common)
        actions.append(_end_launch_when_it_fails(node, spec.name))
        configure = EmitEvent(
            event=ChangeState(
                lifecycle_node_matcher=matches_action(node),
                transition_id=Transition.TRANSITION_CONFIGURE,
            )
        )
        activate_when_configured = RegisterEventHandler(
            OnStateTransition(
                target_lifecycle_node=node,
                start_state="configuring",
                goal_state="inactive",
                entities=[
                    EmitEvent(
                        event=ChangeState(
                            lifecycle_node_matcher=matches_action(node),
                            transition_id=Transition.TRANSITION_ACTIVATE,
                        )
                    )
                ],
            )
        )
        actions += [activate_when_configured, node, configure]
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


def _end_launch_when_it_fails(node: Action, name: str) -> RegisterEventHandler:
    """A node that exits with an error ends the launch with that node named (its own error is
    on screen just above), rather than leaving the others waiting on it."""

    def on_exit(event: object, _context: LaunchContext) -> list[Action]:
        code = getattr(event, "returncode", 0)
        if code == 0:
            return []
        reason = f"{name} exited with code {code} (its error is above); stopping the bringup"
        return [LogInfo(msg=reason), EmitEvent(event=Shutdown(reason=reason))]

    return RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
