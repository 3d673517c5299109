"""Motion planning for picks: collision checking, joint-space and Cartesian paths, timing."""
