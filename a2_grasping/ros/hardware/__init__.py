"""Adapters between the core's ports and the robot cell's hardware interfaces: the arm and gripper
controllers (topics in `controllers`, which also watches /joint_states, or the ros2_control
actions in `controller_actions`), the MoveIt 2 planner (`moveit_planner`), where camera poses come
from (`extrinsics`, static or TF), and `backends`, the one place that chooses among them from the
executor's configuration. Optional dependencies (control_msgs, moveit_py, tf2_ros) are imported
only when their adapter is chosen. May import core/ and ros/ edge modules, never nodes/ or
ports/.
"""
