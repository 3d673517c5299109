"""rosbag2 files (MCAP) written and read with `rosbags` (rosbag2_py is not installable here).

Messages are stored as CDR bytes, with the message definitions of the ROS 2 Jazzy type store plus
this package's own interfaces (read from the installed .msg/.srv files), so `ros2 bag info/play`
on a real install reads the files, and bags recorded there read here. Service calls are stored as
`<service>/_service_event` with type `<pkg>/srv/<Srv>_Event`, the layout `ros2 bag record
--services` uses.

Every bag this package writes goes through `BagWriter` (the request recorder, `a2-grasping
record`, the regression bag); every bag it reads is opened by `open_reader`.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from rclpy.duration import Duration
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.interfaces import (
    Connection,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import CompressionFormat, CompressionMode, Reader, StoragePlugin, Writer
from rosbags.rosbag2.errors import ReaderError
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from a2_grasping.installation import install_prefix

PACKAGE = "a2_grasping"
BAG_VERSION: Literal[9] = 9  # rosbag2 metadata version of Jazzy
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTERFACE_KINDS = ("msg", "srv", "action")


class BagError(Exception):
    """A bag that cannot be opened or read: missing, not a rosbag2 bag, or corrupt."""


def ros_type_name(message: Any) -> str:
    """'pkg/msg/Name' (or 'pkg/srv/Name_Event') of an rclpy message instance or class."""
    cls = message if isinstance(message, type) else type(message)
    package, kind = cls.__module__.split(".")[:2]
    return f"{package}/{kind}/{cls.__name__}"


def message_class(type_name: str) -> type | None:
    """The installed rclpy class of 'pkg/msg/Name' ('pkg/srv/Name_Event' too); None if absent.

    Plain importlib (rosidl_runtime_py is not installable from PyPI). The name comes from a bag
    or the graph, so it is checked to be a 'pkg/kind/Name' triple before anything is imported.
    """
    parts = type_name.split("/")
    if len(parts) != 3 or parts[1] not in _INTERFACE_KINDS:
        return None
    package, kind, name = parts
    if not (_NAME.fullmatch(package) and _NAME.fullmatch(name)):
        return None
    try:
        module = importlib.import_module(f"{package}.{kind}")
    except ImportError:
        return None
    cls = getattr(module, name, None)
    return cls if isinstance(cls, type) else None


@functools.cache
def typestore() -> Typestore:
    """Jazzy's standard types plus this package's messages and service request/response/event."""
    store = get_typestore(Stores.ROS2_JAZZY)
    share = install_prefix() / "share" / PACKAGE
    types: dict[str, Any] = {}
    for path in sorted((share / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    for path in sorted((share / "srv").glob("*.srv")):
        request, response = _split_service(path)
        name = f"{PACKAGE}/srv/{path.stem}"
        service_types = {
            **get_types_from_msg(request, f"{name}_Request"),
            **get_types_from_msg(response, f"{name}_Response"),
            **get_types_from_msg(
                "service_msgs/msg/ServiceEventInfo info\n"
                f"{name}_Request[<=1] request\n{name}_Response[<=1] response\n",
                f"{name}_Event",
            ),
        }
        types.update(service_types)
    store.register(types)
    return store


def _split_service(path: Path) -> tuple[str, str]:
    lines = path.read_text().splitlines()
    separator = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if len(separator) != 1:
        raise ValueError(f"{path}: expected one '---' line between request and response")
    return "\n".join(lines[: separator[0]]), "\n".join(lines[separator[0] + 1 :])


def _store_name(type_name: str) -> str:
    # rosbags files service types under 'pkg/srv/msg/X' (its names always hold '/msg/'); the
    # definition text it generates names them the ROS way, 'pkg/srv/X'.
    return type_name.replace("/srv/", "/srv/msg/", 1)


def type_hash(type_name: str) -> str | None:
    """RIHS01 hash of a type in `typestore()` (what the rmw reports for it), None if unknown."""
    name = _store_name(type_name)
    if name not in typestore().fielddefs:
        return None
    return typestore().hash_rihs01(name)


def recorded_type_hash(connection: Connection) -> str | None:
    """RIHS01 hash of the definition a bag recorded a topic with: metadata.yaml's
    type_description_hash, else computed from the definition embedded in the MCAP schema (what
    a bag without metadata.yaml offers); None when the bag holds neither."""
    if connection.digest:
        return connection.digest
    if not connection.msgdef.data:
        return None
    try:
        store = get_typestore(Stores.EMPTY)
        store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        return store.hash_rihs01(_store_name(connection.msgtype))
    except Exception:  # an unparsable definition: cannot tell, like a bag without one
        return None


def _qos_time(duration: Duration) -> QosTime:
    sec, nsec = divmod(duration.nanoseconds, 1_000_000_000)
    return QosTime(sec, nsec)


def bag_qos(profile: QoSProfile) -> Qos:
    """An rclpy QoS profile (e.g. a publisher's, from the graph) as rosbag2 metadata stores it."""
    return Qos(
        history=QosHistory[HistoryPolicy(profile.history).name],
        depth=profile.depth,
        reliability=QosReliability[ReliabilityPolicy(profile.reliability).name],
        durability=QosDurability[DurabilityPolicy(profile.durability).name],
        deadline=_qos_time(profile.deadline),
        lifespan=_qos_time(profile.lifespan),
        liveliness=QosLiveliness[LivelinessPolicy(profile.liveliness).name],
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=profile.avoid_ros_namespace_conventions,
    )


class BagWriter:
    """Writes a new MCAP bag: one connection per topic, each message as CDR bytes with a stamp.

    `compress`: zstd chunk compression inside the MCAP file (what `ros2 bag record
    --storage-preset-profile zstd_fast` produces; readers decompress transparently).
    Not thread-safe: use one writer from one thread.
    """

    def __init__(
        self, path: Path, compress: bool = False, custom_data: dict[str, str] | None = None
    ) -> None:
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if compress:
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(key, value)
        self._writer.open()
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, type_name: str, offered_qos: Iterable[Qos] = ()) -> None:
        """Declare a topic; KeyError when `typestore()` has no definition of its type."""
        if topic in self._connections:
            return
        name = _store_name(type_name)
        if name not in typestore().fielddefs:
            raise KeyError(f"no message definition of {type_name} in the Jazzy type store")
        msgdef, _ = typestore().generate_msgdef(name, ros_version=2)
        self._connections[topic] = self._writer.add_connection(
            topic,
            type_name,
            msgdef=msgdef,
            rihs01=typestore().hash_rihs01(name),
            offered_qos_profiles=list(offered_qos),
        )
        self.counts[topic] = 0

    def write_serialized(self, topic: str, data: bytes, stamp_ns: int) -> None:
        """Append already serialised (CDR) bytes of a declared topic."""
        self._writer.write(self._connections[topic], stamp_ns, data)
        self.counts[topic] += 1

    def write(self, topic: str, message: Any, stamp_ns: int) -> None:
        """Append an rclpy message; its topic is declared on first use."""
        self.add_topic(topic, ros_type_name(message))
        self.write_serialized(topic, serialize_message(message), stamp_ns)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_reader(path: Path) -> Reader:
    """An open reader on a bag: a rosbag2 directory, or a bare .mcap file.

    A directory whose metadata.yaml is missing but which holds exactly one .mcap file is read from
    that file (MCAP carries its own schemas, channels and index), as `ros2 bag play` can play a
    single storage file. Every failure is a BagError with a message naming the path.
    """
    target = path
    if path.is_dir() and not (path / "metadata.yaml").exists():
        files = sorted(path.glob("*.mcap"))
        if len(files) != 1:
            raise BagError(
                f"{path} is not a rosbag2 bag: no metadata.yaml and {len(files)} .mcap files"
            )
        target = files[0]
    try:
        reader = Reader(target)
        reader.open()
    except FileNotFoundError as error:
        raise BagError(f"no bag at {path}: {error}") from None
    except (ReaderError, OSError, ValueError, KeyError, IndexError) as error:
        raise BagError(f"cannot read the bag {path}: {error}") from None
    return reader


def read_messages(
    path: Path, message_types: dict[str, type], topics: tuple[str, ...] = ()
) -> Iterator[tuple[str, int, Any]]:
    """(topic, stamp_ns, rclpy message) in recorded order for the given topics (all when empty).

    `message_types` maps a ROS type name ('sensor_msgs/msg/Image') to its rclpy class; topics of
    other types are skipped.
    """
    reader = open_reader(path)
    try:
        connections = [
            c
            for c in reader.connections
            if c.msgtype in message_types and (not topics or c.topic in topics)
        ]
        for connection, stamp_ns, data in reader.messages(connections=connections):
            message = deserialize_message(bytes(data), message_types[connection.msgtype])
            yield connection.topic, stamp_ns, message
    finally:
        reader.close()
