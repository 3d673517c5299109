"""QoS profiles shared between nodes, each defined once with the reason for it."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# The scene is state, not a stream: a late-starting subscriber must still get the last one, and it
# must not be dropped on a lossy link, hence reliable + transient-local with depth 1.
SCENE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# Displays (RViz markers, planned paths) may start after the last answer: keep the newest one.
LATCHED_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Joint states arrive at 100-500 Hz; a short queue absorbs scheduling jitter without lag.
JOINT_STATE_QOS = QoSProfile(depth=10)

# As tf2_ros listens: /tf reliable with a deep queue (transforms from many publishers arrive in
# bursts), /tf_static reliable + transient-local (published once, at start-up, to every late
# subscriber).
TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE
)
TF_STATIC_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# /diagnostics: what diagnostic_updater publishes with (reliable, depth 10); aggregators and
# rqt_runtime_monitor subscribe to it.
DIAGNOSTICS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10)
