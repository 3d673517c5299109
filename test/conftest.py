"""Shared fixtures. ROS tests each get their own ROS_DOMAIN_ID, loopback-only discovery and their
own log directory, so they run in parallel (pytest -n 2) without seeing each other."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from a2_grasping.testing.node_process import use_large_data_transport as _use_large_data_transport

REPO_ROOT = Path(__file__).resolve().parents[1]

# Before anything initialises rclpy in this process: loopback only, logs out of ~/.ros.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)
os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="a2_test_ros_log_")
_use_large_data_transport(os.environ)


@pytest.fixture
def ros_domain_id() -> Iterator[int]:
    """A ROS_DOMAIN_ID no other test process on this host holds (domain_coordinator port lock)."""
    from domain_coordinator import domain_id

    with domain_id() as reserved:
        yield reserved


@pytest.fixture
def ros_env(ros_domain_id: int, tmp_path: Path) -> dict[str, str]:
    from a2_grasping.testing.node_process import local_ros_environment

    env = local_ros_environment(ros_domain_id)
    env["ROS_LOG_DIR"] = str(tmp_path / "ros_log")
    return env


@pytest.fixture
def ros_node(ros_domain_id: int) -> Iterator[object]:
    """An rclpy node in this process, on its own context and the test's domain."""
    import rclpy
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions

    context = Context()
    rclpy.init(
        context=context, domain_id=ros_domain_id, signal_handler_options=SignalHandlerOptions.NO
    )
    node = rclpy.create_node("a2_test_client", context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.fixture
def start_node(ros_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Factory: start a node executable in its own process; all are stopped (SIGINT) at teardown
    and must exit cleanly."""
    from a2_grasping.testing.node_process import NodeProcess

    started: list[NodeProcess] = []

    def start(name: str, *ros_args: str) -> NodeProcess:
        process = NodeProcess(
            name, list(ros_args), ros_env, tmp_path / f"{name}_{len(started)}.log"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        was_running = process.poll() is None
        code = process.stop(timeout_s=10.0)
        if was_running:
            assert code == 0, f"{process.name} exited with {code}:\n{process.output()}"
