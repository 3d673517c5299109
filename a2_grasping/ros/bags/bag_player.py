"""Playing a bag back onto the ROS graph with its recorded timing, the way `ros2 bag play --clock`
does.

Messages are published as the CDR bytes stored in the bag (rclpy publishes bytes as they are),
with the recorded type, at their recorded times relative to the first message (scaled by
`rate_factor`). With `publish_clock`, /clock follows the bag's timeline (the recorded message
stamps), so nodes with use_sim_time see the time the data was recorded at; a /clock topic in the
bag is then not replayed (there would be two clocks). Topics whose type cannot be resolved here
are skipped with a reason, never a crash.

The player only publishes: it needs no spinning, and `play` may run in any thread.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Connection, ConnectionExtRosbag2, QosDurability, QosReliability
from rosbags.rosbag2.errors import ReaderError
from rosgraph_msgs.msg import Clock

from a2_grasping.ros import conversions
from a2_grasping.ros.bags.bags import (
    BagError,
    message_class,
    open_reader,
    recorded_type_hash,
    type_hash,
)

CLOCK_TOPIC = "/clock"
# /clock as rclpy's and rclcpp's time sources subscribe to it (and ros2 bag play publishes it):
# best effort, depth 1. A late clock tick is worthless; a newer one replaces it.
CLOCK_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT
)
# /clock ticks between messages (Hz of wall time), so timers of use_sim_time nodes keep running
# through gaps in the bag.
CLOCK_RATE_HZ = 50.0
# Publisher history of a replayed topic (ros2 bag play's default).
PUBLISHER_DEPTH = 10


@dataclass
class PlaybackSummary:
    """What one `play` call did."""

    published: Counter[str] = field(default_factory=Counter)
    loops: int = 0
    wall_s: float = 0.0
    bag_duration_s: float = 0.0
    stopped: bool = False


def _offered_qos(connection: Connection) -> QoSProfile:
    """Replay with the QoS the recorded publishers offered when they all agreed on reliability
    and durability (latched topics stay latched); otherwise reliable + volatile, which every
    subscriber of the topic matches."""
    offers = (
        connection.ext.offered_qos_profiles
        if isinstance(connection.ext, ConnectionExtRosbag2)
        else []
    )
    reliabilities = {q.reliability for q in offers}
    durabilities = {q.durability for q in offers}
    best_effort = reliabilities == {QosReliability.BEST_EFFORT}
    latched = durabilities == {QosDurability.TRANSIENT_LOCAL}
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=PUBLISHER_DEPTH,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class BagPlayer:
    """Publishers for the playable topics of a bag, and `play` to send its messages.

    `skipped` maps topics that are not played to the reason. Raises BagError when the bag cannot
    be opened, and ValueError on a non-positive rate.
    """

    def __init__(
        self,
        node: Node,
        path: Path,
        topics: Sequence[str] = (),
        rate_factor: float = 1.0,
        publish_clock: bool = True,
    ) -> None:
        if not rate_factor > 0.0:
            raise ValueError(f"rate_factor must be > 0, got {rate_factor}")
        self._node = node
        self.path = path
        self._rate = rate_factor
        self._reader = open_reader(path)
        self.skipped: dict[str, str] = {}
        try:
            self._publishers: dict[int, Publisher] = {}  # by connection id
            by_topic: dict[str, Publisher] = {}
            for connection in self._reader.connections:
                topic = connection.topic
                if topics and topic not in topics:
                    continue
                reason = self._unplayable(connection, publish_clock)
                if reason:
                    self.skipped[topic] = reason
                    node.get_logger().warning(f"not replaying {topic}: {reason}")
                    continue
                if topic not in by_topic:
                    cls = message_class(connection.msgtype)
                    by_topic[topic] = node.create_publisher(cls, topic, _offered_qos(connection))
                self._publishers[connection.id] = by_topic[topic]
            self._topic_publishers = by_topic
            self._clock = (
                node.create_publisher(Clock, CLOCK_TOPIC, CLOCK_QOS) if publish_clock else None
            )
            for topic in topics:
                if topic not in by_topic and topic not in self.skipped:
                    self.skipped[topic] = "not in the bag"
                    node.get_logger().warning(f"not replaying {topic}: not in the bag")
        except BaseException:
            self._reader.close()
            raise

    @staticmethod
    def _unplayable(connection: Connection, publish_clock: bool) -> str:
        if connection.topic == CLOCK_TOPIC and publish_clock:
            return "the player publishes /clock from the bag's timeline"
        if isinstance(connection.ext, ConnectionExtRosbag2) and (
            connection.ext.serialization_format != "cdr"
        ):
            return f"serialization format {connection.ext.serialization_format} is not cdr"
        if message_class(connection.msgtype) is None:
            return f"type {connection.msgtype} is not installed here"
        known = type_hash(connection.msgtype)
        recorded = recorded_type_hash(connection)
        if recorded and known and recorded != known:
            return (
                f"recorded with another definition of {connection.msgtype} "
                f"({recorded}, installed: {known})"
            )
        return ""

    @property
    def topics(self) -> list[str]:
        """The topics `play` publishes."""
        return sorted(self._topic_publishers)

    def wait_for_subscribers(
        self, topics: Sequence[str], timeout_s: float, count: int = 1
    ) -> list[str]:
        """Wait until each of `topics` (/clock included) has `count` matched subscribers:
        messages published before are lost to discovery. Returns the topics still short of
        subscribers at the deadline."""
        publishers = dict(self._topic_publishers)
        if self._clock is not None:
            publishers[CLOCK_TOPIC] = self._clock
        deadline = time.monotonic() + timeout_s
        while True:
            short = [
                t
                for t in topics
                if t not in publishers or publishers[t].get_subscription_count() < count
            ]
            if not short or time.monotonic() > deadline:
                return short
            time.sleep(0.05)

    def play(self, loop: bool = False, stop: threading.Event | None = None) -> PlaybackSummary:
        """Publish the bag's messages with their recorded spacing (blocking; `stop` ends early).

        BagError when the bag turns out to be corrupt while reading.
        """
        stop = stop or threading.Event()
        summary = PlaybackSummary()
        started_s = time.monotonic()
        start_ns, end_ns = self._reader.start_time, self._reader.end_time
        summary.bag_duration_s = max(0, end_ns - start_ns) * 1e-9
        while not stop.is_set():
            self._play_once(start_ns, summary, stop)
            summary.loops += 1
            if not loop or not self._publishers:
                break
        summary.stopped = stop.is_set()
        summary.wall_s = time.monotonic() - started_s
        return summary

    def _play_once(self, start_ns: int, summary: PlaybackSummary, stop: threading.Event) -> None:
        connections = [c for c in self._reader.connections if c.id in self._publishers]
        if not connections:
            return
        wall_start_s = time.monotonic()
        try:
            for connection, stamp_ns, data in self._reader.messages(connections=connections):
                due_s = wall_start_s + (stamp_ns - start_ns) * 1e-9 / self._rate
                if not self._wait_until(due_s, stamp_ns, start_ns, wall_start_s, stop):
                    return
                self._publish_clock(stamp_ns)
                self._publishers[connection.id].publish(bytes(data))
                summary.published[connection.topic] += 1
        except (ReaderError, OSError, ValueError, KeyError, IndexError) as error:
            raise BagError(f"the bag {self.path} is corrupt: {error}") from None

    def _wait_until(
        self,
        due_s: float,
        stamp_ns: int,
        start_ns: int,
        wall_start_s: float,
        stop: threading.Event,
    ) -> bool:
        """Sleep until `due_s` (monotonic), the time of the message stamped `stamp_ns`, ticking
        /clock along the bag's timeline meanwhile; False when stopped."""
        period_s = 1.0 / CLOCK_RATE_HZ
        while (remaining_s := due_s - time.monotonic()) > 0.0:
            if stop.wait(min(remaining_s, period_s)):
                return False
            bag_ns = start_ns + int((time.monotonic() - wall_start_s) * self._rate * 1e9)
            self._publish_clock(min(bag_ns, stamp_ns))
        return not stop.is_set()

    def _publish_clock(self, stamp_ns: int) -> None:
        if self._clock is None:
            return
        self._clock.publish(Clock(clock=conversions.ns_to_time(stamp_ns)))

    def close(self) -> None:
        for publisher in self._topic_publishers.values():
            self._node.destroy_publisher(publisher)
        if self._clock is not None:
            self._node.destroy_publisher(self._clock)
        self._reader.close()

    def __enter__(self) -> BagPlayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
