"""executor_node refuses a configuration it cannot honour at start-up, naming the cause."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.ros

WAIT_S = 20.0


def _exit_code(process) -> int:
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None:
        assert time.monotonic() < deadline, "executor_node kept running with a bad configuration"
        time.sleep(0.05)
    return process.poll()


def test_action_controllers_without_control_msgs_exit_naming_the_package(start_node):
    try:
        import control_msgs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("control_msgs is installed: the action backend starts")
    process = start_node("executor_node", "-p", "controller_interface:=action")
    assert _exit_code(process) == 2
    assert "needs control_msgs" in process.output()


def test_unknown_controller_interface_is_refused(start_node):
    process = start_node("executor_node", "-p", "controller_interface:=serial")
    assert _exit_code(process) == 2
    assert "controller_interface must be one of ('topic', 'action')" in process.output()
