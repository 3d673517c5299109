"""Task logic of the executor (pick, place, pick-and-place), ROS-free, over small protocols."""
