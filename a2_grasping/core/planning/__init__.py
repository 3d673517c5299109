"""Motion planning for picks and places: collision checking, joint-space and Cartesian paths,
plans as named segments, timing. May import core's shared modules (kinematics, gripper,
geometry), never selection/ or task/ (the task logic calls the planner, not the reverse).
"""
