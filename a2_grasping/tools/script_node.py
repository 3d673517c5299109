"""A node for a command-line tool: its own context, and Ctrl-C / SIGTERM as a stop flag."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def script_node(name: str, use_sim_time: bool = False, namespace: str = "") -> Iterator[Any]:
    """A node on its own context (no rclpy signal handlers: ours set a flag instead), in
    `namespace` (a cell's, as bringup's namespace argument sets it) when one is given."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions

    from a2_grasping.testing.node_process import use_large_data_transport

    use_large_data_transport(os.environ)  # before the DDS participant is created
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(
        name,
        namespace="/" + namespace.strip("/"),
        context=context,
        parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)],
    )
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
