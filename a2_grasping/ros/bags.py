"""rosbag2 files (MCAP) written and read with `rosbags` (rosbag2_py is not installable here).

Messages are stored as the CDR bytes rclpy serialises, with the message definitions of the ROS 2
Jazzy type store plus this package's own interfaces (read from the installed .msg/.srv files), so
`ros2 bag info/play` on a real install reads the files, and bags recorded there read here.
Service calls are stored as `<service>/_service_event` with type `<pkg>/srv/<Srv>_Event`, the
layout `ros2 bag record --services` uses.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from a2_grasping.tools.node_process import install_prefix

PACKAGE = "a2_grasping"
BAG_VERSION = 9  # rosbag2 metadata version of Jazzy


def ros_type_name(message: Any) -> str:
    """'pkg/msg/Name' (or 'pkg/srv/Name_Event') of an rclpy message instance or class."""
    cls = message if isinstance(message, type) else type(message)
    package, kind = cls.__module__.split(".")[:2]
    return f"{package}/{kind}/{cls.__name__}"


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


class BagWriter:
    """Appends rclpy messages to a new MCAP bag; one connection per topic, created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, Any] = {}

    def write(self, topic: str, message: Any, stamp_ns: int) -> None:
        connection = self._connections.get(topic)
        if connection is None:
            name = ros_type_name(message)
            # rosbags files service types under 'pkg/srv/msg/X' (its names always hold '/msg/');
            # the definition text it generates already names them the ROS way, 'pkg/srv/X'.
            store_name = name.replace("/srv/", "/srv/msg/", 1)
            msgdef, _ = typestore().generate_msgdef(store_name, ros_version=2)
            connection = self._writer.add_connection(
                topic, name, msgdef=msgdef, rihs01=typestore().hash_rihs01(store_name)
            )
            self._connections[topic] = connection
        self._writer.write(connection, stamp_ns, serialize_message(message))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_messages(
    path: Path, message_types: dict[str, type], topics: tuple[str, ...] = ()
) -> Iterator[tuple[str, int, Any]]:
    """(topic, stamp_ns, rclpy message) in recorded order for the given topics (all when empty).

    `message_types` maps a ROS type name ('sensor_msgs/msg/Image') to its rclpy class; topics of
    other types are skipped.
    """
    with Reader(path) as reader:
        connections = [
            c
            for c in reader.connections
            if c.msgtype in message_types and (not topics or c.topic in topics)
        ]
        for connection, stamp_ns, data in reader.messages(connections=connections):
            message = deserialize_message(bytes(data), message_types[connection.msgtype])
            yield connection.topic, stamp_ns, message
