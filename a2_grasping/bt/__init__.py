"""py_trees behaviours over the grasping interfaces (select, pick, place, report); see
behaviours.py. May import ros/client (the non-blocking client) and the conversions.
"""
