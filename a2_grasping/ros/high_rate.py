"""Subscriptions that arrive at hundreds of Hz (/clock, /joint_states), on a lane of their own.

The nodes spin a MultiThreadedExecutor: their long callbacks (a grasp selection, a whole pick)
must not stall the rest. rclpy's (Jazzy) pays for that on every message: the wait set is rebuilt
in Python two or three times per callback and the hand-over to a pool thread fights for the GIL.
Measured (Intel Xeon, 2 cores, a 125 Hz /clock and /joint_states from another process): a
use_sim_time node on MultiThreadedExecutor(4) took 102 % of a core and ran 46 of the 125 joint
state callbacks per second; on a SingleThreadedExecutor, 11 % and all 125. In the simulated cell
every node follows /clock, so the idle cell kept about 1.85 of 2 cores busy.

So these subscriptions go on a companion node (`<node>_high_rate`, same namespace, no parameter
services) spun by a SingleThreadedExecutor on its own thread. Their callbacks must be short and
thread-safe. With use_sim_time the node's clock follows /clock through the companion: timers on
it still fire, because rcl wakes a ROS-time timer's wait set when the clock passes its due time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import ROSClock
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

USE_SIM_TIME = "use_sim_time"
CLOCK_TOPIC = "/clock"  # what rclpy's TimeSource subscribes to, before remapping
# How often the lane's thread looks at its stop flag; bounds how long close() waits.
_SPIN_SLICE_S = 0.1


class HighRateLane:
    """The companion node and its thread.

    Its thread must be stopped (`close()`, from the owner's destroy_node) before the context
    shuts down: rcl aborts the process when a context goes while a thread waits on it. So an
    owner creates its lane once nothing left in its constructor can fail.
    """

    def __init__(self, owner: Node) -> None:
        use_sim_time = bool(owner.get_parameter(USE_SIM_TIME).value)
        # The owner's remappings are applied where topic names are resolved: here for the clock
        # (a namespaced cell has its own, /clock -> <namespace>/clock), in subscribe() for the
        # rest. Global arguments would also give this node the owner's name (__node:=).
        clock_topic = owner.resolve_topic_name(CLOCK_TOPIC)
        self.node = rclpy.create_node(
            f"{owner.get_name()}_high_rate",
            namespace=owner.get_namespace(),
            context=owner.context,
            cli_args=["--ros-args", "-r", f"{CLOCK_TOPIC}:={clock_topic}"],
            use_global_arguments=False,
            start_parameter_services=False,
            parameter_overrides=[Parameter(USE_SIM_TIME, value=use_sim_time)],
        )
        self._owner = owner
        # The owner stops subscribing to /clock itself; the lane's time source moves its clock.
        # rclpy offers no public way to reach a node's time source: both calls below are rclpy's
        # own TimeSource API on Node's private attribute (rclpy Jazzy).
        owner._time_source.detach_node()
        clock = owner.get_clock()
        assert isinstance(clock, ROSClock)  # a node's clock is always a ROSClock
        self.node._time_source.attach_clock(clock)
        owner.add_on_set_parameters_callback(self._refuse_use_sim_time_change)
        self._executor = SingleThreadedExecutor(context=owner.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._spin, name=f"{owner.get_name()}_high_rate", daemon=True
        )
        self._thread.start()

    def subscribe(
        self, message_type: Any, topic: str, callback: Callable[[Any], None], qos: QoSProfile
    ) -> Subscription:
        """Subscribe on the lane to `topic` as the owner resolves it (namespace, remappings)."""
        resolved = self._owner.resolve_topic_name(topic)
        return self.node.create_subscription(message_type, resolved, callback, qos)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Destroy a subscription `subscribe` made (a lifecycle owner's cleanup)."""
        self.node.destroy_subscription(subscription)

    def close(self) -> None:
        self._stop.set()
        self._executor.wake()
        self._thread.join(timeout=2.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()

    def _spin(self) -> None:
        while not self._stop.is_set() and self._owner.context.ok():
            self._executor.spin_once(timeout_sec=_SPIN_SLICE_S)

    def _refuse_use_sim_time_change(self, parameters: list[Parameter]) -> SetParametersResult:
        current = self._owner.get_parameter(USE_SIM_TIME).value
        for parameter in parameters:
            if parameter.name == USE_SIM_TIME and parameter.value != current:
                return SetParametersResult(
                    successful=False,
                    reason="use_sim_time is fixed at start-up: the clock follows /clock on a "
                    "separate lane (a2_grasping.ros.high_rate)",
                )
        return SetParametersResult(successful=True)
