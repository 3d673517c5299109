"""rosbag2 (MCAP) files: `bags` writes and reads them with `rosbags` (every bag of the package
goes through it), `bag_recorder` records topics of the ROS graph, `bag_player` plays a bag back
with its recorded timing, and `request_recorder` keeps each /select_grasp request with the scene
it ran on for offline replay of failures. May import ros/conversions and the top-level
`installation` (where the interface definitions are installed).
"""
