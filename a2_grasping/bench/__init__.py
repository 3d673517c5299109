"""Benchmarks: `a2-grasping bench <name>`, each a script that saves JSON (and plots), never a test.

`sim` (pick, language, place and pick-and-place episodes scored on the simulator's ground truth,
with `sim_place`, `language_episodes` and `sim_report`), `perception`, `selection` /
`selection_a2`, `model`, `gpu`, `pipeline`, `a2_pick` and `soak`. May import everything below it
(core/, sim/, ros/) and `testing/`; nothing imports bench/ except `tools/` (the demo and the CLI)
and the tests.
"""
