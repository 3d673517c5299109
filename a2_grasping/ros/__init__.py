"""The ROS 2 edge of the package: thin shells around `a2_grasping.core`, grouped by role.

`nodes` holds the processes (perception, inference, executor, simulator); `ports` the task
runner's ports over ROS; `hardware` the adapters to the arm, gripper, planner and camera poses;
`bags` rosbag2 recording and replay; `client` the libraries other programs use to call the nodes.
The modules here are the edge utilities every group shares: `conversions`, `task_conversions`
and `sim_conversions` (the only modules that build data messages), `qos`, `parameters`,
`diagnostics`, `markers`, `service_call` (the one wait for an answer), `spin`, `high_rate`,
`lifecycle_activator`. May import core/, sim/ (sim_node, sim_conversions) and the top-level
modules (bringup, installation); never bt/, testing/, bench/ or tools/.
"""
