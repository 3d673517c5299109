"""Configuration of the simulated cell and of sim_node (each field is a ROS parameter)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from a2_grasping.core.config_fields import config_field, validate_ranges
from a2_grasping.core.kinematics import UR_JOINT_NAMES
from a2_grasping.sim.cameras import CameraSpec, perturbed_camera
from a2_grasping.sim.objects import SceneKind
from a2_grasping.sim.sensor import sensor_profile

# Names as the UR and Robotiq ROS 2 drivers publish them in /joint_states.
ARM_JOINTS = UR_JOINT_NAMES
GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
# Knuckle travel as the ros2_robotiq_gripper driver reports it: 0 open .. ~0.8 rad closed.
GRIPPER_CLOSED_RAD = 0.8

# Two cameras diagonally in front of the workspace, 45° either side of the base x axis, about
# 0.8 m from the workspace centre (0.5, 0, 0.03) and 46° above the table: each sees the top and
# one side face, together both faces a y-closing grasp pinches. Computed with
# cameras.look_at_base_from_optical((0.889, ±0.389, 0.6), (0.5, 0.0, 0.03)).
_FRONT_LEFT = (0.889, 0.389, 0.6, 0.354838, 0.856655, -0.345969, -0.143305)
_FRONT_RIGHT = (0.889, -0.389, 0.6, 0.856655, 0.354838, -0.143305, -0.345969)


@dataclass(frozen=True)
class SimConfig:
    """Parameters of sim_node; the cell uses the scene, camera, arm and physics fields."""

    seed: int = config_field(0, "Seed of the scene (objects, sizes, colours, poses).", min_value=0)
    scene: str = config_field(
        "single",
        "Scene kind: 'single' (one object), 'clutter' (5-8, colours unique), 'language' (6-15, "
        "colours repeated, small and large), 'place' (a plate and/or a tray and 3-6 objects) or "
        "'household' (4-6 mugs, bowls, bottles, tools and fruit built from convex parts).",
    )
    real_time_factor: float = config_field(
        1.0,
        "Simulated seconds per wall-clock second; 0 runs as fast as possible.",
        min_value=0.0,
        max_value=100.0,
    )
    joint_state_rate_hz: float = config_field(
        125.0,
        "Rate of /joint_states and /clock in simulated time (the UR driver publishes at 500 Hz; "
        "125 Hz keeps the Python publisher cheap).",
        min_value=100.0,
        max_value=500.0,
    )
    camera_rate_hz: float = config_field(
        5.0,
        "RGB-D frame rate per camera in simulated time. Each RGB-D frame costs ~40 ms of "
        "rendering, so two cameras at 5 Hz take ~40 % of a core at real time.",
        min_value=0.1,
        max_value=30.0,
    )
    camera_names: tuple[str, ...] = config_field(
        ("front_left", "front_right"),
        "Camera names; topics are /<name>/color/image_raw etc., frames <name>_color_optical_frame.",
    )
    camera_poses: tuple[float, ...] = config_field(
        _FRONT_LEFT + _FRONT_RIGHT,
        "base_from_optical of each camera, 7 numbers each in camera_names order: "
        "x, y, z (m), qx, qy, qz, qw of the optical frame (z forward, x right, y down).",
    )
    camera_fovy_deg: float = config_field(
        45.0,
        "Vertical field of view of every camera (fx = fy follow from it).",
        min_value=10.0,
        max_value=120.0,
    )
    image_width: int = config_field(640, "Image width in pixels.", min_value=16, max_value=1920)
    image_height: int = config_field(480, "Image height in pixels.", min_value=16, max_value=1080)
    min_depth_m: float = config_field(
        0.1,
        "Depth closer than this reads 0 (no return), as on a RealSense.",
        min_value=0.0,
        max_value=10.0,
    )
    max_depth_m: float = config_field(
        3.0,
        "Depth beyond this (and the background) reads 0 (no return).",
        min_value=0.1,
        max_value=60.0,
    )
    sensor_profile: str = config_field(
        "ideal",
        "Camera sensor model (a2_grasping/sim/sensor.py): 'ideal' (perfect images), 'd435', "
        "'d415', 'd455' (RealSense stereo: depth noise ~ z^2, occlusion bands left of "
        "foreground edges) or 'l515' (LiDAR: noise ~ constant); the realistic ones add holes, "
        "flying pixels, a depth scale error and colour gain, white balance and noise.",
    )
    sensor_seed: int = config_field(
        0,
        "Seed of the sensor noise, frame drops and lighting variation (mixed with the scene "
        "seed, so each scene has its own draws).",
        min_value=0,
    )
    camera_drop_rate: float = config_field(
        0.0,
        "Probability that a camera frame is dropped (not published), seeded per camera and "
        "frame, as USB bandwidth and driver hiccups lose frames on real cameras.",
        min_value=0.0,
        max_value=0.9,
    )
    calibration_error_m: float = config_field(
        0.0,
        "Extrinsic calibration error: each camera is rendered this far (m, random direction) "
        "from its configured pose, while the published frames keep the configured pose.",
        min_value=0.0,
        max_value=0.05,
    )
    calibration_error_deg: float = config_field(
        0.0,
        "Extrinsic calibration error: each camera is rendered turned by this angle (deg, "
        "random axis) from its configured orientation.",
        min_value=0.0,
        max_value=5.0,
    )
    calibration_seed: int = config_field(
        0, "Seed of the calibration error's directions (per camera).", min_value=0
    )
    lighting_variation: float = config_field(
        0.0,
        "0 keeps the fixed lab lighting; v in 0..1 draws per scene a ceiling light tilted up "
        "to 35*v deg, of 6500 +- 3000*v K, intensity x (1 +- 0.3*v) (seeded by the scene seed "
        "and sensor_seed).",
        min_value=0.0,
        max_value=1.0,
    )
    home_joint_positions: tuple[float, ...] = config_field(
        (0.0, -1.9, 2.0, -1.671, -1.5708, 0.0),
        "Arm joint positions (rad) at start and after a reset, ARM_JOINTS order: gripper above "
        "the near edge of the workspace, pointing down, out of the cameras' view of the objects.",
    )
    max_velocity_rad_s: float = config_field(
        math.pi,
        "Joint velocity limit of every arm joint (UR5e: 180 deg/s).",
        min_value=0.01,
        max_value=math.pi,
    )
    max_acceleration_rad_s2: float = config_field(
        5.0,
        "Joint acceleration limit of every arm joint (UR publishes none; 5 rad/s^2 is a common "
        "planning value).",
        min_value=0.1,
        max_value=40.0,
    )
    joint_state_topic: str = config_field("joint_states", "sensor_msgs/JointState output.")
    trajectory_topic: str = config_field(
        "scaled_joint_trajectory_controller/joint_trajectory",
        "trajectory_msgs/JointTrajectory input (the UR driver's controller topic).",
    )
    gripper_command_topic: str = config_field(
        "robotiq_gripper_controller/commands",
        "std_msgs/Float64MultiArray input, one value: knuckle position in rad "
        "(0 open, 0.8 closed).",
    )
    trajectory_action: str = config_field(
        "scaled_joint_trajectory_controller/follow_joint_trajectory",
        "control_msgs/FollowJointTrajectory server, as the UR driver's controller offers it "
        "(only where control_msgs can be imported).",
    )
    gripper_action: str = config_field(
        "robotiq_gripper_controller/gripper_cmd",
        "control_msgs/GripperCommand server, as a GripperActionController offers it (only where "
        "control_msgs can be imported).",
    )
    controllers_active: bool = config_field(
        True,
        "False: the controllers are loaded but not active, as after a protective stop: action "
        "goals are rejected and command topics ignored (with a warning).",
    )
    max_start_offset_rad: float = config_field(
        0.05,
        "A trajectory goal whose first point, at time 0, is farther than this from the arm's "
        "position (rad, any joint) is rejected.",
        min_value=0.001,
        max_value=3.2,
    )
    publish_clock: bool = config_field(
        True, "Publish /clock (simulated time) for use_sim_time nodes."
    )
    reset_service: str = config_field("sim/reset", "Sim-only a2_grasping/srv/SimReset service.")
    objects_service: str = config_field(
        "sim/objects", "Sim-only, test-only a2_grasping/srv/SimObjects ground truth service."
    )
    fault_service: str = config_field(
        "sim/fault",
        "Sim-only, test-only a2_grasping/srv/SimFault service: move, remove or make slip an "
        "object, freeze the joint states or a camera for a while.",
    )

    def __post_init__(self) -> None:
        # ROS hands array parameters over as lists; keep the config immutable and comparable.
        for name in ("camera_names", "camera_poses", "home_joint_positions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        validate_ranges(self)
        SceneKind(self.scene)  # ValueError naming the bad kind
        if len(self.camera_poses) != 7 * len(self.camera_names):
            raise ValueError(
                f"camera_poses has {len(self.camera_poses)} numbers; 7 per camera "
                f"({len(self.camera_names)} cameras) expected"
            )
        if len(set(self.camera_names)) != len(self.camera_names):
            raise ValueError(f"camera_names must be unique: {self.camera_names}")
        if len(self.home_joint_positions) != len(ARM_JOINTS):
            raise ValueError(f"home_joint_positions needs {len(ARM_JOINTS)} values")
        if self.min_depth_m >= self.max_depth_m:
            raise ValueError("min_depth_m must be below max_depth_m")
        self.cameras()  # validates every pose
        sensor_profile(self.sensor_profile)  # ValueError listing the profiles

    def cameras(self) -> tuple[CameraSpec, ...]:
        return tuple(
            CameraSpec(
                name=name,
                base_from_optical=tuple(float(v) for v in self.camera_poses[7 * i : 7 * i + 7]),
                fovy_deg=self.camera_fovy_deg,
                width=self.image_width,
                height=self.image_height,
            )
            for i, name in enumerate(self.camera_names)
        )

    def rendered_cameras(self) -> tuple[CameraSpec, ...]:
        """The cameras where the simulator renders them: `cameras()` moved by the calibration
        error (the same specs when there is none). Only rendering uses these."""
        return tuple(
            perturbed_camera(
                spec,
                translation_m=self.calibration_error_m,
                rotation_deg=self.calibration_error_deg,
                seed=self.calibration_seed,
                camera_index=index,
            )
            for index, spec in enumerate(self.cameras())
        )
