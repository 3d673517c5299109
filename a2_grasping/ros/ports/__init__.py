"""The task runner's ports over ROS: robot states and scenes from topics, grasps and places from
the selection services. Each adapter receives what it uses in its constructor; executor_node
wires them. May import core/, ros/conversions.py, ros/service_call.py and ros/hardware/."""
