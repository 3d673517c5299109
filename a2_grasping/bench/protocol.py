"""What the cell benchmarks (and the demo) share: what counts as a lift, how the executor runs
under a benchmark, which refusals repeat on an identical scene."""

from __future__ import annotations

# An object is lifted when its centre rises at least this far above where it rested (m).
LIFT_SUCCESS_M = 0.05
# Benchmarks count every grasp themselves (attempts, steps): the executor must not retry inside
# one goal.
BENCH_EXECUTOR_ARGUMENTS = {"executor_node": ["-p", "max_grasp_attempts:=1"]}
# Grounding refusals that depend on the scene only: repeated on an identical scene, they repeat.
REFUSALS = {1: "INVALID_REQUEST", 11: "TARGET_NOT_FOUND", 12: "AMBIGUOUS_TARGET"}
