"""Starting and stopping nodes as separate processes (demo, tests, benchmarks).

The nodes are started through the same executables `ros2 run a2_grasping <node>` uses, so what is
exercised here is what a lab runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path

from a2_grasping.bringup import PACKAGE, dds_profile_environment
from a2_grasping.installation import install_prefix, node_executable


def use_large_data_transport(env: MutableMapping[str, str]) -> None:
    """Point Fast DDS at `large_data_profile` unless the caller chose a profile already (as
    bringup.launch.py does for its nodes)."""
    env.update(dds_profile_environment(install_prefix() / "share" / PACKAGE, env))


def local_ros_environment(
    domain_id: int | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for ROS processes that must stay on this machine.

    LOCALHOST discovery keeps DDS traffic on loopback. ROS_LOCALHOST_ONLY is removed: Jazzy
    still honours it but then ignores the discovery range, with a deprecation warning.
    The parent's environment is passed on whole: the ROS wheels' bootstrapper re-executes the
    interpreter with LD_LIBRARY_PATH set and marks that in the environment, so a child that got
    the mark without the library path could not import rclpy.
    """
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)
    env["PYTHONUNBUFFERED"] = "1"
    use_large_data_transport(env)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    return env


class NodeProcess:
    """A node running in its own process, with its output in a log file.

    Output goes to a file rather than a pipe so a chatty node can never block on a full pipe.
    """

    def __init__(
        self,
        name: str,
        ros_args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        command = [str(node_executable(name)), "--ros-args", *ros_args]
        self._process = subprocess.Popen(
            command, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def poll(self) -> int | None:
        return self._process.poll()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGINT (a clean ROS shutdown), escalating to SIGTERM and SIGKILL; the exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self._process.poll() is not None:
                break
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        return self._process.wait(timeout=timeout_s)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
