"""The harness that runs the cell from one process, and synthetic inputs: node processes, the
simulator session (`sim_session`), sensor options, analytic clouds, RGB-D images and cameras, and
tiny seeded models (CLIP, GraspNet) built on this machine.

Shared by the tests, the benchmarks and the demo; no node imports it. May import core/, sim/,
ros/ and the top-level modules (bringup, installation), never bench/ or tools/.
"""
