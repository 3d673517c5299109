"""py_trees behaviours over the grasping interfaces (select, pick, report); see behaviours.py."""
