"""Recording topics of the ROS graph into an MCAP bag, the way `ros2 bag record` does.

Generic: each topic's type comes from the graph (`get_topic_names_and_types`), its class from
`bags.message_class`, its definition and hash from `bags.typestore()`. Subscriptions are raw, so
the CDR bytes on the wire go to the bag unchanged (no deserialise/serialise round trip). Each
message is stamped with its receive time on the node's clock (ROS time: the system clock, or
/clock when the node has use_sim_time), as `ros2 bag record [--use-sim-time]` stamps.

Threading: callbacks only stamp the bytes and queue them; one writer thread owns the BagWriter.
When the disk cannot keep up, messages are dropped and counted, never queued without bound.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from rclpy.topic_endpoint_info import TopicEndpointInfo

from a2_grasping.ros.bags.bags import BagWriter, bag_qos, message_class, type_hash

# How often the graph is searched for topics that appeared since (s).
DISCOVERY_PERIOD_S = 0.5
# Messages waiting for the writer thread. ~1.5 MB per 640x480 RGB-D image pair: 64 messages
# bound the backlog to about 100 MB while absorbing a slow chunk write.
QUEUE_DEPTH = 64
# DDS reader history per topic. Callbacks only enqueue, so a short history does not drop.
SUBSCRIPTION_DEPTH = 10


@dataclass(frozen=True)
class _Message:
    topic: str
    stamp_ns: int
    data: bytes


def request_qos(publishers: Sequence[TopicEndpointInfo]) -> QoSProfile:
    """The subscription QoS that matches every publisher of a topic, as ros2 bag record picks it.

    Reliable only when every publisher offers reliable: a reliable request does not match a
    best-effort publisher, and camera drivers commonly publish images best effort (the sensor
    data profile). Transient local only when every publisher offers it, so latched topics (a
    scene, /tf_static) are recorded from their last message.
    """
    offers = [p.qos_profile for p in publishers]
    reliable = bool(offers) and all(q.reliability == ReliabilityPolicy.RELIABLE for q in offers)
    latched = bool(offers) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class TopicRecorder:
    """Subscribes `node` to the chosen topics (or all, `all_topics`) as they appear in the graph
    and writes what arrives to `writer` until `close()`.

    `skipped` maps topics that cannot be recorded to the reason (several types on one topic, no
    installed class, no definition in the Jazzy type store, or publishers whose type hash differs
    from that definition: a bag with the wrong definition would not decode anywhere).
    """

    def __init__(
        self, node: Node, writer: BagWriter, topics: Sequence[str] = (), all_topics: bool = False
    ) -> None:
        if not topics and not all_topics:
            raise ValueError("name at least one topic, or record all topics")
        self._node = node
        self._writer = writer
        self._wanted = set(topics)
        self._all = all_topics
        self._subscriptions: dict[str, Subscription] = {}
        self.skipped: dict[str, str] = {}
        self.received: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.failed = 0
        self.last_error = ""
        # Topic declarations (unbounded, one per topic) are kept apart from the bounded message
        # queue, so a full message queue can never lose a declaration. A topic is declared before
        # its subscription exists, so the writer thread always sees it before its messages.
        self._new_topics: queue.SimpleQueue[tuple[str, str, list[Any]]] = queue.SimpleQueue()
        self._messages: queue.Queue[_Message | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._write_loop, name="bag_writer", daemon=True)
        self._thread.start()
        self._discover()
        self._timer = node.create_timer(DISCOVERY_PERIOD_S, self._discover)

    @property
    def recording(self) -> list[str]:
        return sorted(self._subscriptions)

    def missing(self) -> list[str]:
        """Requested topics not recorded so far (not in the graph yet, or skipped)."""
        return sorted(self._wanted - set(self._subscriptions))

    # ---- executor callbacks: graph look-ups and queueing only ----

    def _discover(self) -> None:
        for topic, types in self._node.get_topic_names_and_types():
            if topic in self._subscriptions or topic in self.skipped:
                continue
            if not self._all and topic not in self._wanted:
                continue
            publishers = self._node.get_publishers_info_by_topic(topic)
            if not publishers:
                continue  # only subscribers so far: nothing to learn the QoS from
            reason = self._unrecordable(types, publishers)
            if reason:
                self.skipped[topic] = reason
                self._node.get_logger().warning(f"not recording {topic}: {reason}")
                continue
            cls = message_class(types[0])
            assert cls is not None  # checked by _unrecordable
            offers = [bag_qos(p.qos_profile) for p in publishers]
            self._new_topics.put((topic, types[0], offers))
            self._subscriptions[topic] = self._node.create_subscription(
                cls,
                topic,
                functools.partial(self._on_message, topic),
                request_qos(publishers),
                raw=True,
            )
            self._node.get_logger().info(f"recording {topic} ({types[0]})")

    @staticmethod
    def _unrecordable(types: list[str], publishers: Sequence[TopicEndpointInfo]) -> str:
        if len(types) != 1:
            return f"published with several types {types}"
        if message_class(types[0]) is None:
            return f"type {types[0]} is not installed here"
        expected = type_hash(types[0])
        if expected is None:
            return f"no definition of {types[0]} in the Jazzy type store"
        for publisher in publishers:
            offered = str(publisher.topic_type_hash)
            if offered.startswith("RIHS01_") and offered != expected:
                return (
                    f"a publisher's {types[0]} has hash {offered}, the known definition "
                    f"{expected}: the definitions differ"
                )
        return ""

    def _on_message(self, topic: str, data: bytes) -> None:
        stamp_ns = self._node.get_clock().now().nanoseconds
        self.received[topic] += 1
        try:
            self._messages.put_nowait(_Message(topic, stamp_ns, data))
        except queue.Full:
            self.dropped[topic] += 1

    # ---- writer thread ----

    def _write_loop(self) -> None:
        while (item := self._messages.get()) is not None:
            try:
                self._declare_new_topics()
                self._writer.write_serialized(item.topic, item.data, item.stamp_ns)
            except Exception as error:  # keep recording the other messages; report, don't die
                self.failed += 1
                self.last_error = repr(error)
        self._declare_new_topics()

    def _declare_new_topics(self) -> None:
        while True:
            try:
                topic, type_name, offers = self._new_topics.get_nowait()
            except queue.Empty:
                return
            self._writer.add_topic(topic, type_name, offers)

    # ---- shutdown ----

    def close(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Stop receiving, flush the queue (bounded wait), close the bag; messages per topic."""
        self._node.destroy_timer(self._timer)
        for subscription in self._subscriptions.values():
            self._node.destroy_subscription(subscription)
        self._messages.put(None, timeout=timeout_s)
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"the bag writer did not finish within {timeout_s:.0f} s")
        self._writer.close()
        return dict(self._writer.counts)
