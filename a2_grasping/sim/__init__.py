"""The simulated cell: a MuJoCo UR5e + Robotiq 2F-85 on a table, seeded objects, RGB-D cameras.

ROS-free (the ROS face is `a2_grasping.ros.nodes.sim_node`). Conventions the rest of the system
relies on: the MuJoCo world frame is the robot's `base_link` (ROS-Industrial), the table top is
z = 0, objects spawn in x 0.35..0.65 m, y -0.25..0.25 m, joints carry the UR driver's names.

Modules: `objects` (seeded scene descriptions, numpy only), `cameras` (optical-frame poses and
intrinsics), `trajectory` (the joint-trajectory controller), `config`, `cell` and `rendering`
(the cameras, also on a thread of their own; the only modules that import MuJoCo). May import
core/ (scenes, gripper, kinematics), never ros/.
"""

import os

# Headless rendering through EGL. MuJoCo reads this when it is first imported, so it is set as
# soon as anything of the simulated cell is imported (before cell.py imports mujoco).
os.environ.setdefault("MUJOCO_GL", "egl")
