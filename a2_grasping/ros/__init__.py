"""The ROS 2 nodes: thin shells around `a2_grasping.core`.

`conversions` is the only module that turns messages into numpy/Python values and back.
"""
