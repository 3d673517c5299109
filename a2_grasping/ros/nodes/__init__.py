"""The ROS 2 nodes, one process each: perception (cameras -> fused scene), inference
(/select_grasp, /select_place), executor (the /pick, /place and /pick_and_place actions) and the
simulated cell. Each is a thin shell that wires topics, services and actions to the core through
the conversion modules; each module's `main()` is the executable `ros2 run a2_grasping <node>`
starts (CMakeLists.txt generates the launchers). May import everything else under ros/; nothing
imports nodes/.
"""
