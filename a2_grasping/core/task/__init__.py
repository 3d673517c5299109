"""Task logic of the executor (pick, place, pick-and-place, their goal checks and post-motion
checks), over small protocols for planner, arm, gripper and the selection services (`ports`).
May import core/ (planning, selection's place regions and segmentation); the ROS adapters
implement its ports from ros/.
"""
