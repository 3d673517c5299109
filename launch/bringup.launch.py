"""Bring up a2_grasping on a ROS 2 Jazzy install: `ros2 launch a2_grasping bringup.launch.py`.

Today this starts inference_node (/select_grasp); perception, the executor, the simulated cell and
robot_state_publisher join as they are built. `launch` is not installable where the package is
developed, so this file is checked statically there (test/test_launch_file.py) and run on real
installs.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution(
                [FindPackageShare("a2_grasping"), "config", "inference_node.yaml"]
            ),
            description="Parameters of inference_node (see config/inference_node.yaml).",
        ),
        DeclareLaunchArgument(
            "autostart",
            default_value="true",
            description="Configure and activate inference_node at start-up (lifecycle).",
        ),
        DeclareLaunchArgument(
            "log_level",
            default_value="info",
            description="Log level of all nodes: debug, info, warn, error.",
        ),
    ]
    inference_node = Node(
        package="a2_grasping",
        executable="inference_node",
        name="inference_node",
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {"autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool)},
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
    )
    return LaunchDescription([*arguments, inference_node])
