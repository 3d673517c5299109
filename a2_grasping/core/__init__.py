"""The ROS-free core: geometry, scenes, grasp candidates, the A2 policy, selection, planning and
the executor's task logic.

Imports nothing of the package outside core/ and neither rclpy nor message types (tests enforce
both), so it runs and is tested without a ROS graph; core/ has no import circle.
"""
