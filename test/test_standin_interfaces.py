"""The control_msgs and tf2_msgs this environment has are the released types, field for field.

Where the released packages are missing, interfaces/ builds stand-ins. A type on the wire is its
fields (names, types, order; nested types likewise) and its constants:
- tf2_msgs/TFMessage: its RIHS01 hash, which covers every field of every nested type, equals the
  one rosbags computes from its own copy of the ROS 2 Jazzy definitions;
- control_msgs (not in rosbags' stores): fields, order and constants as the Jazzy definitions at
  docs.ros.org/en/jazzy/p/control_msgs list them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a2_grasping.installation import install_prefix

POINT = "trajectory_msgs/JointTrajectoryPoint"
MULTI_POINT = "trajectory_msgs/MultiDOFJointTrajectoryPoint"
GRIPPER_STATE = {"position": "double", "effort": "double", "stalled": "boolean",
                 "reached_goal": "boolean"}  # fmt: skip
PUBLISHED = {
    ("msg", "JointTolerance"): {
        "name": "string", "position": "double", "velocity": "double", "acceleration": "double",
    },
    ("msg", "JointComponentTolerance"): {
        "joint_name": "string", "component": "uint16", "position": "double",
        "velocity": "double", "acceleration": "double",
    },
    ("msg", "GripperCommand"): {"position": "double", "max_effort": "double"},
    ("action", "FollowJointTrajectory.Goal"): {
        "trajectory": "trajectory_msgs/JointTrajectory",
        "multi_dof_trajectory": "trajectory_msgs/MultiDOFJointTrajectory",
        "path_tolerance": "sequence<control_msgs/JointTolerance>",
        "component_path_tolerance": "sequence<control_msgs/JointComponentTolerance>",
        "goal_tolerance": "sequence<control_msgs/JointTolerance>",
        "component_goal_tolerance": "sequence<control_msgs/JointComponentTolerance>",
        "goal_time_tolerance": "builtin_interfaces/Duration",
    },
    ("action", "FollowJointTrajectory.Result"): {"error_code": "int32", "error_string": "string"},
    ("action", "FollowJointTrajectory.Feedback"): {
        "header": "std_msgs/Header", "joint_names": "sequence<string>",
        "desired": POINT, "actual": POINT, "error": POINT,
        "multi_dof_joint_names": "sequence<string>",
        "multi_dof_desired": MULTI_POINT, "multi_dof_actual": MULTI_POINT,
        "multi_dof_error": MULTI_POINT,
    },
    ("action", "GripperCommand.Goal"): {"command": "control_msgs/GripperCommand"},
    ("action", "GripperCommand.Result"): GRIPPER_STATE,
    ("action", "GripperCommand.Feedback"): GRIPPER_STATE,
}  # fmt: skip
CONSTANTS = {
    ("action", "FollowJointTrajectory.Result"): {
        "SUCCESSFUL": 0, "INVALID_GOAL": -1, "INVALID_JOINTS": -2, "OLD_HEADER_TIMESTAMP": -3,
        "PATH_TOLERANCE_VIOLATED": -4, "GOAL_TOLERANCE_VIOLATED": -5,
    },
    ("msg", "JointComponentTolerance"): {
        "X_AXIS": 1, "Y_AXIS": 2, "Z_AXIS": 3, "TRANSLATION": 4, "ROTATION": 5,
    },
}  # fmt: skip


def _type(kind: str, dotted: str) -> type:
    import importlib

    module = importlib.import_module(f"control_msgs.{kind}")
    found: type = module
    for part in dotted.split("."):
        found = getattr(found, part)
    return found


@pytest.mark.parametrize(("kind", "name"), list(PUBLISHED))
def test_control_msgs_fields_are_the_published_ones(kind, name):
    fields = _type(kind, name).get_fields_and_field_types()
    assert list(fields.items()) == list(PUBLISHED[(kind, name)].items())


@pytest.mark.parametrize(("kind", "name"), list(CONSTANTS))
def test_control_msgs_constants_are_the_published_ones(kind, name):
    message = _type(kind, name)
    for constant, value in CONSTANTS[(kind, name)].items():
        assert getattr(message, constant) == value, constant


def test_tf_message_hashes_like_the_jazzy_release():
    from rosbags.typesys import Stores, get_typestore

    share = install_prefix() / "share" / "tf2_msgs"
    document = json.loads((share / "msg" / "TFMessage.json").read_text())
    installed = {e["type_name"]: e["hash_string"] for e in document["type_hashes"]}
    jazzy = get_typestore(Stores.ROS2_JAZZY).hash_rihs01("tf2_msgs/msg/TFMessage")
    assert installed["tf2_msgs/msg/TFMessage"] == jazzy


def test_stand_ins_say_what_they_are():
    """A stand-in carries a marker, so setup.py replaces it and never a released package."""
    import control_msgs
    import tf2_msgs

    for module in (control_msgs, tf2_msgs):
        if Path(module.__file__).is_relative_to(install_prefix()):
            share = install_prefix() / "share" / module.__name__
            assert (share / "a2_grasping_standin.xml").is_file(), module.__name__
