"""The one place where messages become numpy/core values and back.

Image encodings accepted (the same on PyPI installs and real ones; ROS cv_bridge is not used):
colour rgb8, bgr8, rgba8, bgra8, mono8; depth 16UC1 (millimetres) and 32FC1 (metres).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Pose, PoseStamped, Transform, TransformStamped
from numpy.typing import NDArray
from rclpy.clock import Clock
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2, PointField
from service_msgs.msg import ServiceEventInfo
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from a2_grasping.core.errors import SelectionError
from a2_grasping.core.planning.paths import TimedPath
from a2_grasping.core.scene import CameraView, Scene
from a2_grasping.core.selection.common import ChosenObject
from a2_grasping.core.selection.grasp import RankedGrasps
from a2_grasping.core.selection.place import RankedPlaces
from a2_grasping.core.selection.place_regions import HeldObject, PlaceRegion
from a2_grasping.core.task.ports import ObjectBox
from a2_grasping.msg import GraspCandidate, GraspTarget, SceneSnapshot
from a2_grasping.srv import SelectGrasp, SelectPlace

_NS_PER_S = 1_000_000_000
_COLOR_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
_MM_PER_M = 1000.0
_UINT16_MAX = 65535


class ConversionError(ValueError):
    """A message that cannot be turned into core data; the text names the field and the fix."""


def time_to_seconds(stamp: Time) -> float:
    return float(stamp.sec + stamp.nanosec / _NS_PER_S)


def clock_seconds(clock: Clock) -> float:
    """A node clock's now (simulated time under use_sim_time), seconds."""
    return float(clock.now().nanoseconds) / _NS_PER_S


def seconds_to_time(seconds: float) -> Time:
    total_ns = round(seconds * _NS_PER_S)
    return Time(sec=total_ns // _NS_PER_S, nanosec=total_ns % _NS_PER_S)


def duration_to_seconds(duration: Duration) -> float:
    return float(duration.sec + duration.nanosec / _NS_PER_S)


def time_to_ns(stamp: Time) -> int:
    """A stamp as integer nanoseconds (bags index messages by them)."""
    return int(stamp.sec) * _NS_PER_S + int(stamp.nanosec)


def ns_to_time(stamp_ns: int) -> Time:
    sec, nanosec = divmod(int(stamp_ns), _NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


@functools.cache
def constant_names(message_type: type) -> Mapping[int, str]:
    """Value -> name of the integer constants a generated message class defines (the error codes
    of SelectGrasp.Response or Pick.Result): the names come from the .srv/.action file itself, so
    they cannot drift from the contract. Read-only; computed once per type."""
    names: dict[int, str] = {}
    for name in dir(message_type):
        value = getattr(message_type, name)
        if name.isupper() and not name.startswith("_") and isinstance(value, int):
            names[value] = name
    return MappingProxyType(names)


def code_name(message_type: type, code: int) -> str:
    """The constant's name for `code`, or "UNKNOWN(<code>)" when the contract has none."""
    return constant_names(message_type).get(code, f"UNKNOWN({code})")


# ---- images ----


def _image_rows(image: Image, bytes_per_pixel: int) -> NDArray[np.uint8]:
    """(H, W * bytes_per_pixel) view of the pixel bytes, honouring the row step (padding)."""
    row_bytes = image.width * bytes_per_pixel
    if image.height == 0 or image.width == 0:
        raise ConversionError(f"image is empty ({image.width}x{image.height})")
    if image.step < row_bytes:
        raise ConversionError(f"image step {image.step} < width x pixel size {row_bytes}")
    if len(image.data) < image.step * image.height:
        raise ConversionError(
            f"image data has {len(image.data)} bytes, {image.step * image.height} expected"
        )
    raw = np.frombuffer(image.data, dtype=np.uint8, count=image.step * image.height)
    return raw.reshape(image.height, image.step)[:, :row_bytes]


def color_image_to_rgb(image: Image) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB from any accepted colour encoding."""
    channels = _COLOR_CHANNELS.get(image.encoding)
    if channels is None:
        raise ConversionError(
            f"colour encoding '{image.encoding}' is not supported "
            f"(accepted: {', '.join(_COLOR_CHANNELS)})"
        )
    pixels = _image_rows(image, channels).reshape(image.height, image.width, channels)
    if image.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    rgb = pixels[..., :3]
    if image.encoding.startswith("bgr"):
        rgb = rgb[..., ::-1]
    return np.ascontiguousarray(rgb)


def depth_image_to_m(image: Image) -> NDArray[np.float32]:
    """(H, W) float32 metres; invalid pixels (0, NaN, inf) become 0."""
    if image.encoding == "16UC1":
        rows = _image_rows(image, 2)
        dtype = np.dtype(">u2" if image.is_bigendian else "<u2")
        depth = rows.copy().view(dtype).reshape(image.height, image.width)
        depth_m = depth.astype(np.float32) / _MM_PER_M
    elif image.encoding == "32FC1":
        rows = _image_rows(image, 4)
        float_type = np.dtype(">f4" if image.is_bigendian else "<f4")
        depth_m = rows.copy().view(float_type).reshape(image.height, image.width).astype(np.float32)
    else:
        raise ConversionError(
            f"depth encoding '{image.encoding}' is not supported (accepted: 16UC1 mm, 32FC1 m)"
        )
    depth_m[~np.isfinite(depth_m) | (depth_m < 0)] = 0.0
    return depth_m


def rgb_to_image(
    rgb: NDArray[np.uint8], stamp: Time, frame_id: str, encoding: str = "rgb8"
) -> Image:
    """Image in any accepted colour encoding (rgb8 unless asked; others are for drivers/tests)."""
    channels = _COLOR_CHANNELS.get(encoding)
    if channels is None:
        raise ConversionError(f"cannot encode colour as '{encoding}'")
    pixels = np.asarray(rgb, dtype=np.uint8)
    if encoding == "mono8":
        pixels = np.round(pixels @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None]
    else:
        pixels = pixels[..., ::-1] if encoding.startswith("bgr") else pixels
        if channels == 4:
            pixels = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], 2)
    height, width = rgb.shape[:2]
    image = Image(height=height, width=width, encoding=encoding, step=width * channels)
    image.header.stamp, image.header.frame_id = stamp, frame_id
    image.data = np.ascontiguousarray(pixels).tobytes()  # bytes: 1 ms, not 95 ms
    return image


def depth_m_to_image(
    depth_m: NDArray[np.floating], stamp: Time, frame_id: str, encoding: str = "32FC1"
) -> Image:
    """32FC1 metres (0 = no data), or 16UC1 millimetres as depth drivers publish it."""
    height, width = depth_m.shape
    if encoding == "32FC1":
        data = np.ascontiguousarray(depth_m, dtype="<f4")
    elif encoding == "16UC1":  # 0 = no return, also for depths the format cannot hold
        depth_mm = np.nan_to_num(np.asarray(depth_m, dtype=np.float64) * _MM_PER_M, nan=0.0)
        depth_mm[(depth_mm <= 0.0) | (depth_mm > _UINT16_MAX)] = 0.0
        data = np.rint(depth_mm).astype("<u2")
    else:
        raise ConversionError(f"cannot encode depth as '{encoding}' (16UC1 or 32FC1)")
    image = Image(height=height, width=width, encoding=encoding, step=width * data.dtype.itemsize)
    image.header.stamp, image.header.frame_id = stamp, frame_id
    image.data = data.tobytes()
    return image


def intrinsics_to_camera_info(
    intrinsics: NDArray[np.floating], width: int, height: int, stamp: Time, frame_id: str
) -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera with matrix K (P = [K | 0]): the inverse of
    camera_info_to_intrinsics."""
    k = np.asarray(intrinsics, dtype=np.float64)
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.header.stamp, info.header.frame_id = stamp, frame_id
    info.d = [0.0] * 5
    info.k = [float(v) for v in k.reshape(-1)]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [float(v) for v in np.c_[k, np.zeros(3)].reshape(-1)]
    return info


def camera_info_to_intrinsics(info: CameraInfo, width: int, height: int) -> NDArray[np.float64]:
    """K (3, 3), checked against the image size it must describe."""
    if (info.width, info.height) != (width, height):
        raise ConversionError(
            f"CameraInfo is for {info.width}x{info.height} but the image is {width}x{height}"
        )
    k = np.array(info.k, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0 or k[2, 2] != 1.0:
        raise ConversionError(f"CameraInfo K is not a valid intrinsic matrix: {k.tolist()}")
    return k


# ---- joints ----


def joint_state(
    names: tuple[str, ...],
    positions: NDArray[np.float64],
    velocities: NDArray[np.float64],
    stamp: Time,
) -> JointState:
    msg = JointState(name=list(names))
    msg.header.stamp = stamp
    msg.position = [float(v) for v in positions]
    msg.velocity = [float(v) for v in velocities]
    return msg


def joint_state_fields(
    msg: JointState,
) -> tuple[list[str], list[float], list[float], float]:
    """(names, positions, velocities, stamp_s) of a JointState; velocities may be empty."""
    return (
        list(msg.name),
        [float(v) for v in msg.position],
        [float(v) for v in msg.velocity],
        time_to_seconds(msg.header.stamp),
    )


def joint_positions(msg: JointState, joint_names: Sequence[str]) -> NDArray[np.float64]:
    """A JointState's positions in the order of `joint_names` (drivers publish in their own).

    Raises:
        ConversionError: a joint of `joint_names` is not in the message.
    """
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise ConversionError(f"joint state has no joints {missing} (it has {list(msg.name)})")
    return np.array([msg.position[index[name]] for name in joint_names], dtype=np.float64)


@dataclass(frozen=True)
class TrajectoryCommand:
    """A JointTrajectory's content as plain numbers (validation happens in the controller)."""

    joint_names: tuple[str, ...]
    times_s: tuple[float, ...]
    positions_rad: tuple[tuple[float, ...], ...]
    velocities_rad_s: tuple[tuple[float, ...], ...]  # per point, empty when not given


def trajectory_from_msg(msg: JointTrajectory) -> TrajectoryCommand:
    return TrajectoryCommand(
        joint_names=tuple(msg.joint_names),
        times_s=tuple(duration_to_seconds(p.time_from_start) for p in msg.points),
        positions_rad=tuple(tuple(float(v) for v in p.positions) for p in msg.points),
        velocities_rad_s=tuple(tuple(float(v) for v in p.velocities) for p in msg.points),
    )


def timed_path_from_msg(msg: JointTrajectory, joint_names: Sequence[str]) -> TimedPath:
    """A JointTrajectory in the order of `joint_names` (a planner or driver may order joints
    otherwise); points without velocities get zeros.

    Raises:
        ConversionError: a joint of `joint_names` is not in the message.
    """
    names = list(msg.joint_names)
    missing = [name for name in joint_names if name not in names]
    if missing:
        raise ConversionError(f"trajectory has no joints {missing} (it has {names})")
    order = [names.index(name) for name in joint_names]
    points = msg.points
    times = np.array([duration_to_seconds(p.time_from_start) for p in points], dtype=np.float64)
    positions = np.array([[p.positions[i] for i in order] for p in points], dtype=np.float64)
    velocities = np.array(
        [
            [p.velocities[i] for i in order] if len(p.velocities) else [0.0] * len(order)
            for p in points
        ],
        dtype=np.float64,
    )
    return TimedPath(times, positions, velocities)


def stop_trajectory_msg(joint_names: Sequence[str]) -> JointTrajectory:
    """An empty trajectory: a joint trajectory controller stops and holds position."""
    return JointTrajectory(joint_names=list(joint_names))


def gripper_command_msg(position_rad: float) -> Float64MultiArray:
    """The gripper position controller's command: one value, the knuckle angle."""
    return Float64MultiArray(data=[float(position_rad)])


def pose_stamped(matrix: NDArray[np.float64], frame_id: str) -> PoseStamped:
    """A 4x4 pose in `frame_id` as a PoseStamped (stamp zero: the latest transform)."""
    pose = PoseStamped()
    pose.header.frame_id = frame_id
    pose.pose = matrix_to_pose(matrix)
    return pose


def trajectory_to_msg(
    joint_names: tuple[str, ...],
    times_s: NDArray[np.float64],
    positions_rad: NDArray[np.float64],
    velocities_rad_s: NDArray[np.float64] | None = None,
) -> JointTrajectory:
    """JointTrajectory (header stamp 0: start on receipt, as the JTC does)."""
    msg = JointTrajectory(joint_names=list(joint_names))
    for i, t in enumerate(times_s):
        point = JointTrajectoryPoint(positions=[float(v) for v in positions_rad[i]])
        if velocities_rad_s is not None:
            point.velocities = [float(v) for v in velocities_rad_s[i]]
        total_ns = round(float(t) * _NS_PER_S)
        point.time_from_start = Duration(sec=total_ns // _NS_PER_S, nanosec=total_ns % _NS_PER_S)
        msg.points.append(point)
    return msg


# ---- poses ----


def pose_to_matrix(pose: Pose) -> NDArray[np.float64]:
    q = np.array([pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w])
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise ConversionError(f"pose orientation is not a unit quaternion (norm {norm:.6f})")
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_quat(q / norm).as_matrix()
    matrix[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    if not np.all(np.isfinite(matrix)):
        raise ConversionError("pose position is not finite")
    return matrix


def transform_to_matrix(transform: Transform) -> NDArray[np.float64]:
    """4x4 matrix of a geometry_msgs/Transform (as TF returns it)."""
    pose = Pose()
    pose.position.x = transform.translation.x
    pose.position.y = transform.translation.y
    pose.position.z = transform.translation.z
    pose.orientation = transform.rotation
    return pose_to_matrix(pose)


def transform_stamped(
    parent: str, child: str, parent_from_child: NDArray[np.float64], stamp: Time
) -> TransformStamped:
    """A /tf or /tf_static entry."""
    pose = matrix_to_pose(parent_from_child)
    message = TransformStamped()
    message.header.frame_id, message.header.stamp, message.child_frame_id = parent, stamp, child
    translation = message.transform.translation
    translation.x, translation.y, translation.z = pose.position.x, pose.position.y, pose.position.z
    message.transform.rotation = pose.orientation
    return message


def matrix_to_pose(matrix: NDArray[np.float64]) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in matrix[:3, 3])
    x, y, z, w = (float(v) for v in Rotation.from_matrix(matrix[:3, :3]).as_quat())
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = x, y, z, w
    return pose


# ---- point clouds ----

_XYZRGB_FIELDS = [
    PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
    PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
    PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
    PointField(name="rgb", offset=12, datatype=PointField.FLOAT32, count=1),
]
_XYZRGB_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<u4")])


def xyzrgb_to_cloud(
    points_xyz: NDArray[np.float32], colors_rgb: NDArray[np.uint8], stamp: Time, frame_id: str
) -> PointCloud2:
    """Unorganised x, y, z, rgb cloud (rgb packed 0x00RRGGBB in a float32 field, as RViz reads)."""
    packed = np.empty(len(points_xyz), dtype=_XYZRGB_DTYPE)
    packed["x"], packed["y"], packed["z"] = points_xyz.T.astype(np.float32)
    c = colors_rgb.astype(np.uint32)
    packed["rgb"] = (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]
    cloud = PointCloud2(
        height=1,
        width=len(points_xyz),
        fields=_XYZRGB_FIELDS,
        is_bigendian=False,
        point_step=_XYZRGB_DTYPE.itemsize,
        row_step=_XYZRGB_DTYPE.itemsize * len(points_xyz),
        is_dense=True,
    )
    cloud.header.stamp, cloud.header.frame_id = stamp, frame_id
    cloud.data = packed.tobytes()
    return cloud


def cloud_to_xyzrgb(cloud: PointCloud2) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """(N, 3) float32 points and (N, 3) uint8 colours from an x, y, z, rgb cloud."""
    offsets = {f.name: (f.offset, f.datatype) for f in cloud.fields}
    for name in ("x", "y", "z", "rgb"):
        if name not in offsets or offsets[name][1] != PointField.FLOAT32:
            raise ConversionError(f"cloud needs float32 fields x, y, z, rgb; has {list(offsets)}")
    if cloud.is_bigendian:
        raise ConversionError("big-endian point clouds are not supported")
    count = cloud.width * cloud.height
    if len(cloud.data) < count * cloud.point_step:
        raise ConversionError("cloud data is shorter than width x height x point_step")
    dtype = np.dtype(
        {
            "names": ["x", "y", "z", "rgb"],
            "formats": ["<f4", "<f4", "<f4", "<u4"],
            "offsets": [offsets[n][0] for n in ("x", "y", "z", "rgb")],
            "itemsize": cloud.point_step,
        }
    )
    records = np.frombuffer(cloud.data, dtype=dtype, count=count)
    points = np.stack([records["x"], records["y"], records["z"]], axis=1).astype(np.float32)
    rgb = records["rgb"]
    colors = np.stack([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255], axis=1).astype(np.uint8)
    return points, colors


# ---- scene and selection ----


def camera_view_from_msgs(
    name: str,
    color: Image,
    depth: Image,
    info: CameraInfo,
    base_from_camera: NDArray[np.float64],
) -> CameraView:
    """A validated view from one synchronised colour/depth/CameraInfo triple.

    Raises ConversionError (or ValueError) naming the camera, e.g. for an unsupported encoding or
    depth that is not registered to the colour image (different size).
    """
    try:
        rgb = color_image_to_rgb(color)
        depth_m = depth_image_to_m(depth)
        if depth_m.shape != rgb.shape[:2]:
            raise ConversionError(
                f"depth is {depth.width}x{depth.height} but colour is {color.width}x"
                f"{color.height}; depth must be registered to colour (aligned_depth_to_color)"
            )
        k = camera_info_to_intrinsics(info, rgb.shape[1], rgb.shape[0])
        return CameraView(rgb, depth_m, k, base_from_camera, name=name)
    except ValueError as error:
        raise ConversionError(f"camera '{name}': {error}") from None


def scene_to_msg(
    scene: Scene, stamp: Time, view_stamps: dict[str, Time], view_frames: dict[str, str]
) -> SceneSnapshot:
    """SceneSnapshot of a fused scene; each view keeps its sensor stamp and optical frame."""
    msg = SceneSnapshot()
    msg.header.stamp, msg.header.frame_id = stamp, scene.frame_id
    msg.points = xyzrgb_to_cloud(scene.points_xyz, scene.colors_rgb, stamp, scene.frame_id)
    msg.workspace_box_m = [float(v) for v in scene.workspace_box_m]
    for view in scene.views:
        view_stamp, frame = view_stamps[view.name], view_frames[view.name]
        msg.camera_names.append(view.name)
        msg.color_images.append(rgb_to_image(view.color_rgb, view_stamp, frame))
        msg.depth_images.append(
            depth_m_to_image(view.depth_m.astype(np.float32, copy=False), view_stamp, frame)
        )
        msg.camera_infos.append(
            intrinsics_to_camera_info(
                view.intrinsics, view.width_px, view.height_px, view_stamp, frame
            )
        )
        msg.base_from_camera.append(matrix_to_pose(np.asarray(view.base_from_camera)))
    return msg


def scene_from_msg(msg: SceneSnapshot) -> Scene:
    """Validated core Scene; raises ConversionError (or ValueError) naming the bad field."""
    n = len(msg.camera_names)
    for name in ("color_images", "depth_images", "camera_infos", "base_from_camera"):
        if len(getattr(msg, name)) != n:
            raise ConversionError(f"{name} has {len(getattr(msg, name))} entries, {n} cameras")
    views = []
    for i, camera in enumerate(msg.camera_names):
        color = color_image_to_rgb(msg.color_images[i])
        depth = depth_image_to_m(msg.depth_images[i])
        k = camera_info_to_intrinsics(msg.camera_infos[i], color.shape[1], color.shape[0])
        views.append(
            CameraView(
                name=camera,
                color_rgb=color,
                depth_m=depth,
                intrinsics=k,
                base_from_camera=pose_to_matrix(msg.base_from_camera[i]),
            )
        )
    points, colors = cloud_to_xyzrgb(msg.points)
    return Scene(
        frame_id=msg.header.frame_id,
        stamp_s=time_to_seconds(msg.header.stamp),
        points_xyz=points,
        colors_rgb=colors,
        workspace_box_m=np.array(msg.workspace_box_m, dtype=np.float64),
        views=tuple(views),
    )


def fill_selection_response(
    ranked: RankedGrasps, frame_id: str, stamp: Time, response: SelectGrasp.Response
) -> SelectGrasp.Response:
    response.error_code = SelectGrasp.Response.NONE
    response.error_message = ""
    response.mode = ranked.mode.value
    response.selected_index = ranked.selected_index
    response.candidates = []
    grasps = ranked.candidates
    for i in range(len(grasps)):
        candidate = GraspCandidate()
        candidate.pose.header.frame_id = frame_id
        candidate.pose.header.stamp = stamp
        candidate.pose.pose = matrix_to_pose(grasps.tcp_poses[i])
        candidate.score = float(ranked.score[i])
        candidate.quality = float(grasps.quality[i])
        candidate.width_m = float(grasps.width_m[i])
        candidate.approach_depth_m = float(grasps.approach_depth_m[i])
        candidate.candidate_id = int(grasps.candidate_id[i])
        response.candidates.append(candidate)
    response.target = grasp_target_to_msg(ranked.target)
    for stage, ms in ranked.timings_ms.items():
        response.timing_stages.append(stage)
        response.timing_ms.append(float(ms))
    return response


def grasp_target_to_msg(target: ChosenObject | None) -> GraspTarget:
    """The object a grasp closes on; an empty message (no description) for None."""
    msg = GraspTarget()
    if target is None:
        return msg
    obj = target.object
    msg.description = obj.description
    msg.color = obj.color_name
    msg.shape = obj.shape.value
    msg.box_pose = matrix_to_pose(obj.base_from_box())
    msg.box_size_m.x, msg.box_size_m.y, msg.box_size_m.z = (float(v) for v in obj.extents_m)
    msg.point_count = len(obj.point_indices)
    msg.matched_words = list(target.matched_words)
    msg.unknown_words = list(target.unknown_words)
    msg.reference_description = target.reference.description if target.reference else ""
    return msg


def object_box_from_msg(msg: GraspTarget) -> ObjectBox | None:
    """The target's box, or None when the message names no object.

    Raises:
        ValueError: the pose is malformed or an extent is not a positive finite length.
    """
    if not msg.description.strip():
        return None
    extents = np.array([msg.box_size_m.x, msg.box_size_m.y, msg.box_size_m.z], dtype=np.float64)
    if not np.all(np.isfinite(extents)) or np.any(extents <= 0.0):
        raise ValueError(f"target box_size_m must be positive finite lengths, got {extents}")
    return ObjectBox(pose_to_matrix(msg.box_pose), extents, msg.description, msg.color)


def error_response(error: SelectionError, response: SelectGrasp.Response) -> SelectGrasp.Response:
    """Fill a refusal: code and message set, no candidates, selected_index -1."""
    response.error_code = int(error.code)
    response.error_message = error.message
    response.candidates = []
    response.selected_index = -1
    return response


def place_request_to_msg(
    instruction: str,
    held: HeldObject,
    moving_xy_m: NDArray[np.float64] | None = None,
    max_input_age_s: float = 0.0,
) -> SelectPlace.Request:
    """The SelectPlace request for a place of `held` (the inverse of held_object_from_request and
    moving_object_from_request); max_input_age_s 0 = the server's default."""
    request = SelectPlace.Request(instruction=instruction, max_input_age_s=float(max_input_age_s))
    if moving_xy_m is not None:
        request.has_moving_object = True
        request.moving_object_m.x, request.moving_object_m.y = (float(v) for v in moving_xy_m)
    request.held_size_m.x, request.held_size_m.y, request.held_size_m.z = (
        float(v) for v in held.size_m
    )
    request.tcp_above_bottom_m = float(held.tcp_above_bottom_m)
    rotation = np.eye(4)
    rotation[:3, :3] = held.tcp_rotation
    request.tcp_orientation = matrix_to_pose(rotation).orientation
    return request


def held_object_from_request(request: SelectPlace.Request) -> HeldObject:
    """The held object of a SelectPlace request.

    Raises:
        ValueError: naming the field (sizes and heights positive and finite, a unit quaternion).
    """
    size = np.array(
        [request.held_size_m.x, request.held_size_m.y, request.held_size_m.z], dtype=np.float64
    )
    if not np.all(np.isfinite(size)) or np.any(size <= 0.0) or np.any(size > 0.5):
        raise ValueError(f"held_size_m must be three lengths in (0, 0.5] m, got {size.tolist()}")
    above = float(request.tcp_above_bottom_m)
    if not np.isfinite(above) or not 0.0 <= above <= 0.3:
        raise ValueError(f"tcp_above_bottom_m must be in [0, 0.3] m, got {above}")
    pose = Pose(orientation=request.tcp_orientation)
    rotation = pose_to_matrix(pose)[:3, :3]  # ConversionError (a ValueError) if not unit
    return HeldObject(size, above, rotation)


def moving_object_from_request(request: SelectPlace.Request) -> NDArray[np.float64] | None:
    """(x, y) of the object a pick-and-place will move, or None (a place from the hand).

    Raises:
        ValueError: the position is not finite.
    """
    if not request.has_moving_object:
        return None
    point = request.moving_object_m
    xy = np.array([point.x, point.y], dtype=np.float64)
    if not np.all(np.isfinite(xy)) or not np.isfinite(point.z):
        raise ValueError(f"moving_object_m must be finite, got {[point.x, point.y, point.z]}")
    return xy


def fill_place_response(
    ranked: RankedPlaces, frame_id: str, stamp: Time, response: SelectPlace.Response
) -> SelectPlace.Response:
    response.error_code = SelectPlace.Response.NONE
    response.error_message = ""
    response.releases = []
    for pose in ranked.releases:
        release = PoseStamped()
        release.header.frame_id = frame_id
        release.header.stamp = stamp
        release.pose = matrix_to_pose(pose)
        response.releases.append(release)
    response.relation = ranked.relation.name
    response.direction = ranked.relation.direction or ""
    response.reference = grasp_target_to_msg(ranked.reference)
    region = ranked.region
    response.region_center_m.x, response.region_center_m.y = (float(v) for v in region.center_xy_m)
    response.region_center_m.z = float(region.support_z_m)
    response.region_radius_min_m = float(region.radius_min_m)
    response.region_radius_max_m = float(region.radius_max_m)
    response.region_direction_rad = float(region.direction_rad)
    response.region_half_angle_rad = float(region.half_angle_rad)
    return response


def place_region_from_msg(response: SelectPlace.Response) -> PlaceRegion:
    return PlaceRegion(
        np.array([response.region_center_m.x, response.region_center_m.y], dtype=np.float64),
        float(response.region_radius_min_m),
        float(response.region_radius_max_m),
        float(response.region_direction_rad),
        float(response.region_half_angle_rad),
        float(response.region_center_m.z),
    )


def place_error_response(
    error: SelectionError, response: SelectPlace.Response
) -> SelectPlace.Response:
    """Fill a refusal: code and message set, no releases."""
    response.error_code = int(error.code)
    response.error_message = error.message
    response.releases = []
    return response


def select_request_to_msg(
    instruction: str,
    *,
    max_input_age_s: float = 0.0,
    max_candidates: int = 0,
    camera_names: Sequence[str] = (),
) -> SelectGrasp.Request:
    """0 for max_candidates / max_input_age_s = the server's default."""
    return SelectGrasp.Request(
        instruction=instruction,
        camera_names=list(camera_names),
        max_candidates=int(max_candidates),
        max_input_age_s=float(max_input_age_s),
    )


def select_grasp_events(
    request: SelectGrasp.Request,
    response: SelectGrasp.Response,
    received: Time,
    sent: Time,
    sequence: int,
) -> tuple[SelectGrasp.Event, SelectGrasp.Event]:
    """One call as the two service events `ros2 service echo` shows (request received, response
    sent), as a recorder writes them to `<service>/_service_event`."""
    events = []
    for kind, when, requests, responses in (
        (ServiceEventInfo.REQUEST_RECEIVED, received, [request], []),
        (ServiceEventInfo.RESPONSE_SENT, sent, [], [response]),
    ):
        info = ServiceEventInfo(event_type=kind, stamp=when, sequence_number=sequence)
        events.append(SelectGrasp.Event(info=info, request=requests, response=responses))
    return events[0], events[1]
