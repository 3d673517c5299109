"""lifecycle_activator (what bringup.launch.py runs to bring its lifecycle nodes to active)
against the real nodes over DDS. Its rules, with scripted lost responses and missed events, are
tested in test/test_launch_file.py; here: it drives real nodes to active and confirms it, and
fails naming the node and its state when one cannot get there."""

from __future__ import annotations

import subprocess

import pytest
import torch
from lifecycle_msgs.srv import GetState

from a2_grasping.installation import install_prefix
from a2_grasping.ros.client import clients

pytestmark = pytest.mark.ros
WAIT_S = 60.0


def _activator(ros_env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [str(install_prefix() / "lib" / "a2_grasping" / "lifecycle_activator"), *arguments]
    return subprocess.run(
        command, env=ros_env, capture_output=True, text=True, timeout=600, check=False
    )


def _state(ros_node, name: str) -> str:
    client = ros_node.create_client(GetState, f"/{name}/get_state")
    clients.wait_for_service(client, WAIT_S)
    return str(clients.call(ros_node, client, GetState.Request(), WAIT_S).current_state.label)


def test_every_node_is_brought_to_active_and_confirmed(start_node, ros_node, ros_env):
    start_node("inference_node")  # autostart false: unconfigured, as bringup starts them
    start_node("executor_node")
    done = _activator(ros_env, "inference_node", "executor_node")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lifecycle_activator: active: inference_node, executor_node" in done.stdout
    assert _state(ros_node, "inference_node") == "active"
    assert _state(ros_node, "executor_node") == "active"
    # Run again (e.g. a second launch of the activator): active nodes are left as they are.
    again = _activator(ros_env, "inference_node", "executor_node")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "configure" not in again.stdout + again.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_node_that_cannot_configure_fails_naming_it_and_its_state(start_node, ros_env):
    start_node("inference_node", "-p", "device:=cuda")  # configure fails: no CUDA here
    done = _activator(ros_env, "--attempts", "2", "inference_node")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "FAILED: inference_node is still 'unconfigured' after 2 attempts to configure"
        in done.stderr
    )
    assert (done.stdout + done.stderr).count("inference_node: configure failed") == 2


def test_a_node_that_never_answers_fails_naming_it(ros_env):
    # --timeout-s is how long the activator waits for the node, not a bound on this test.
    done = _activator(ros_env, "--timeout-s", "3", "no_such_node")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: no_such_node never reported its state" in done.stderr
