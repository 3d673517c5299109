"""The ROS 2 edge of the package: thin shells around `a2_grasping.core`, grouped by role.

`nodes` holds the processes (perception, inference, executor, simulator); `hardware` the adapters
to the arm, gripper, planner and camera poses that the executor and perception nodes plug into
the core's ports; `bags` rosbag2 recording and replay; `client` the libraries other programs use
to call the nodes. The modules here are the edge utilities every group shares: `conversions` (the
only module that turns messages into numpy/Python values and back), `qos`, `parameters`,
`diagnostics`, `markers` and `spin`.
"""
