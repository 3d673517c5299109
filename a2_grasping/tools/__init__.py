"""Command-line tools: the `a2-grasping` command and developer utilities."""
