"""Selection: from a scene and an instruction to ranked grasps or release poses, or a refusal.

What lives here: what both selectors share (`common`: the Selector protocol, the prelude, the
per-stage budget), the grasp selector (`grasp`) and the place selector (`place`), each with its
modes as strategy objects chosen when it is built, the place
instructions, regions and release poses they share with the executor's checks
(`place_regions`), A2's place candidates (`a2_place`), the instruction parser and grounding
(`grounding`), object segmentation and description (`objects`, `colors`), request validation
(`request`), and the composition root that picks the candidate generator for a configuration
(`candidates`).

It may import the shared core modules beside it (errors, config_fields, geometry, scene, gripper,
inference_config), `core.candidates` and, lazily in `candidates`, `core.graspnet`; never
`core.task`, `core.planning`, ROS or the simulator.
"""
