"""The ROS-free core: geometry, scenes, grasp candidates, the A2 policy, planning.

Nothing under this package imports rclpy or message types (a test enforces it), so it runs and is
tested without a ROS graph.
"""
