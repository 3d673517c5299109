"""inference_node reloads without a restart (issue 27 item 3): weights, device and precision set
while unconfigured (cleanup -> set -> configure), validated at configure; the request recorder
reopens; the warm-up is reported in /diagnostics. The node runs in its own process over DDS."""

from __future__ import annotations

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo

from a2_grasping.core.errors import SelectErrorCode
from a2_grasping.msg import SceneSnapshot
from a2_grasping.ros import conversions
from a2_grasping.ros.client import clients
from a2_grasping.srv import SelectGrasp
from a2_grasping.testing.synthetic_clouds import box_points, tabletop_cloud

pytestmark = pytest.mark.ros
DISCOVERY_TIMEOUT_S = 60.0  # a node that imports torch on a loaded 2-core machine: > 15 s seen
CALL_TIMEOUT_S = 4.0
# A small CLIP with the fusion network's width (768): a2 mode at CPU speed in a test.
SMALL_CLIP = {
    "vision": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 336,
        "patch_size": 14,
    },
    "text": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    },
    "projection_dim": 768,
}


def _select(node, client, **fields) -> SelectGrasp.Response:
    request = SelectGrasp.Request(instruction="grasp the box")
    for name, value in fields.items():
        setattr(request, name, value)
    return clients.select_grasp(
        node,
        client,
        request,
        within_s=DISCOVERY_TIMEOUT_S,
        resend_after_s=CALL_TIMEOUT_S,
        wait_for_scene=True,
    )


def _client(node):
    client = node.create_client(SelectGrasp, "/select_grasp")
    clients.wait_for_service(client, DISCOVERY_TIMEOUT_S)
    return client


def _publish_scene(node) -> None:
    """A 5 x 4 x 6 cm box on the table and one 48x64 camera looking down at it (latched)."""
    stamp = conversions.seconds_to_time(node.get_clock().now().nanoseconds * 1e-9)
    rng = np.random.default_rng(0)
    points = tabletop_cloud(rng, box_points(rng, (0.05, 0.04, 0.06), (0.0, 0.0), 4000))
    points[:, :2] += (0.5, 0.0)
    scene = SceneSnapshot()
    scene.header.frame_id = "base_link"
    scene.header.stamp = stamp
    colors = np.full(points.shape, 200, dtype=np.uint8)
    scene.points = conversions.xyzrgb_to_cloud(
        points.astype(np.float32), colors, stamp, "base_link"
    )
    scene.workspace_box_m = [0.2, 0.8, -0.3, 0.3, -0.01, 0.4]
    frame = "front_color_optical_frame"
    scene.camera_names.append("front")
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    scene.color_images.append(conversions.rgb_to_image(image, stamp, frame))
    depth = np.full((48, 64), 0.8, np.float32)
    scene.depth_images.append(conversions.depth_m_to_image(depth, stamp, frame))
    info = CameraInfo(width=64, height=48, k=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
    info.header.frame_id = frame
    scene.camera_infos.append(info)
    camera_pose = np.eye(4)
    camera_pose[:3, :3] = np.diag([1.0, -1.0, -1.0])  # looking straight down
    camera_pose[:3, 3] = (0.5, 0.0, 0.8)
    scene.base_from_camera.append(conversions.matrix_to_pose(camera_pose))
    publisher = node.create_publisher(
        SceneSnapshot,
        "/a2/scene",
        QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        ),
    )
    publisher.publish(scene)


def _write_weights(directory, seed: int) -> dict[str, str]:
    import torch
    from safetensors.torch import save_file

    from a2_grasping.core.policy.fusion_config import FusionConfig
    from a2_grasping.core.policy.fusion_model import A2FusionModel
    from a2_grasping.testing.offline_clip import letter_tokenizer, random_clip

    torch.manual_seed(seed)
    clip_dir = directory / "clip"
    random_clip(SMALL_CLIP).save_pretrained(clip_dir)
    letter_tokenizer(directory / "vocab").save_pretrained(clip_dir)
    fusion_path = directory / "fusion.safetensors"
    save_file(A2FusionModel(FusionConfig()).state_dict(), str(fusion_path))
    return {"clip_model": str(clip_dir), "fusion_weights_path": str(fusion_path)}


def _transition(node, transition_id: int) -> bool:
    client = node.create_client(ChangeState, "/inference_node/change_state")
    clients.wait_for_service(client, DISCOVERY_TIMEOUT_S)
    request = ChangeState.Request()
    request.transition.id = transition_id
    # Configure loads the models and runs the warm-up selection: allow for a loaded machine.
    return bool(clients.call(node, client, request, 15 * CALL_TIMEOUT_S).success)


def _set(node, **values) -> list[tuple[bool, str]]:
    client = node.create_client(SetParameters, "/inference_node/set_parameters")
    clients.wait_for_service(client, DISCOVERY_TIMEOUT_S)
    request = SetParameters.Request()
    for name, value in values.items():
        if isinstance(value, str):
            typed = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        elif isinstance(value, bool):
            typed = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
        else:
            typed = ParameterValue(
                type=ParameterType.PARAMETER_INTEGER_ARRAY, integer_array_value=list(value)
            )
        request.parameters.append(Parameter(name=name, value=typed))
    response = clients.call(node, client, request, 3 * CALL_TIMEOUT_S)
    return [(result.successful, result.reason) for result in response.results]


def _diagnostics(node, within_s: float = 10.0) -> dict[str, str]:
    from rclpy.executors import SingleThreadedExecutor

    received: list[DiagnosticArray] = []
    subscription = node.create_subscription(DiagnosticArray, "/diagnostics", received.append, 10)
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
            for array in received:
                for status in array.status:
                    values = {entry.key: entry.value for entry in status.values}
                    if "warm_up" in values:
                        return values
    finally:
        executor.remove_node(node)
        node.destroy_subscription(subscription)
    raise AssertionError("no inference_node diagnostics")


def _scores(response: SelectGrasp.Response) -> np.ndarray:
    return np.array([candidate.score for candidate in response.candidates])


def test_weights_swap_through_cleanup_and_configure(start_node, ros_node, tmp_path):
    first = _write_weights(tmp_path / "first", seed=1)
    second = _write_weights(tmp_path / "second", seed=2)
    process = start_node(
        "inference_node",
        *[part for name, value in first.items() for part in ("-p", f"{name}:={value}")],
        "-p",
        "device:=cpu",
        "-p",
        "precision:=fp32",
        "-p",
        "clip_tiles:=[1, 2]",
        "-p",
        "time_budget_s:=120.0",
    )
    assert _transition(ros_node, Transition.TRANSITION_CONFIGURE), process.output()
    assert _transition(ros_node, Transition.TRANSITION_ACTIVATE)
    values = _diagnostics(ros_node)
    assert values["mode"] == "a2" and values["warm_up"] == "NONE"
    assert float(values["warm_up_s"]) > 0.0
    assert "warm-up selection" in process.output()

    client = _client(ros_node)
    _publish_scene(ros_node)
    before = _select(ros_node, client, max_candidates=5)
    assert before.error_code == SelectErrorCode.NONE and before.mode == "a2"

    # Configured: the weights cannot change under a loaded model.
    ((ok, reason),) = _set(ros_node, fusion_weights_path=second["fusion_weights_path"])
    assert not ok and "unconfigured" in reason
    # Not reloadable at all: read-only.
    ((ok, _),) = _set(ros_node, scene_topic="other")
    assert not ok

    assert _transition(ros_node, Transition.TRANSITION_DEACTIVATE)
    assert _transition(ros_node, Transition.TRANSITION_CLEANUP)
    # Unconfigured: a bad value is refused when set, naming it ...
    ((ok, reason),) = _set(ros_node, precision="fp8")
    assert not ok and "precision" in reason
    ((ok, reason),) = _set(ros_node, clip_tiles=[0, 2])
    assert not ok and "clip_tiles" in reason
    # ... a missing file only when configure tries it: configure fails, the node stays
    # unconfigured, and a corrected value configures.
    assert _set(ros_node, fusion_weights_path=str(tmp_path / "missing.safetensors")) == [(True, "")]
    assert not _transition(ros_node, Transition.TRANSITION_CONFIGURE)
    assert "configure failed: cannot load the A2 policy" in process.output()
    assert _set(ros_node, **second) == [(True, ""), (True, "")]
    assert _transition(ros_node, Transition.TRANSITION_CONFIGURE), process.output()
    assert _transition(ros_node, Transition.TRANSITION_ACTIVATE)
    values = _diagnostics(ros_node)
    assert second["fusion_weights_path"] in values["model"]

    _publish_scene(ros_node)
    after = _select(ros_node, client, max_candidates=5)
    assert after.error_code == SelectErrorCode.NONE and after.mode == "a2"
    # Other weights, other logits (random heads of two seeds agree on no score).
    assert not np.allclose(_scores(before)[:1], _scores(after)[:1])
    # The same scene again: every CLIP tile comes from the cache (1x2 tiles of one view).
    again = _select(ros_node, client, max_candidates=5)
    assert again.error_code == SelectErrorCode.NONE
    np.testing.assert_array_equal(_scores(again), _scores(after))
    cache = _diagnostics(ros_node)["clip_cache"]
    computed = int(cache.split("computed=")[1].split()[0])
    reused = int(cache.split("reused=")[1].split()[0])
    assert reused >= 1 and computed <= 2 + 2  # warm-up's tiles + this scene's, each once

    # Back to attributes mode by emptying the weights, without a restart.
    assert _transition(ros_node, Transition.TRANSITION_DEACTIVATE)
    assert _transition(ros_node, Transition.TRANSITION_CLEANUP)
    assert _set(ros_node, fusion_weights_path="", clip_model="", warm_up=False) == [
        (True, ""),
        (True, ""),
        (True, ""),
    ]
    assert _transition(ros_node, Transition.TRANSITION_CONFIGURE)
    assert _transition(ros_node, Transition.TRANSITION_ACTIVATE)
    values = _diagnostics(ros_node)
    assert values["mode"] == "attributes" and values["warm_up"] == "none"


def test_the_recorder_reopens_after_cleanup_and_configure(start_node, ros_node, tmp_path):
    from a2_grasping.ros.bags.bags import read_messages

    bag = tmp_path / "requests"
    node = start_node("inference_node", "-p", f"record_path:={bag}")
    client = _client(ros_node)
    for round_number in (1, 2, 3):
        assert _transition(ros_node, Transition.TRANSITION_CONFIGURE), node.output()
        assert _transition(ros_node, Transition.TRANSITION_ACTIVATE)
        _publish_scene(ros_node)
        answer = _select(ros_node, client, max_candidates=1)
        assert answer.error_code == SelectErrorCode.NONE, answer.error_message
        refused = _select(ros_node, client, instruction=" ")
        assert refused.error_code == SelectErrorCode.INVALID_REQUEST
        assert _transition(ros_node, Transition.TRANSITION_DEACTIVATE)
        assert _transition(ros_node, Transition.TRANSITION_CLEANUP)
        assert node.output().count("request recording closed:") == round_number
    assert node.stop(timeout_s=10.0) == 0, node.output()

    types = {"a2_grasping/srv/SelectGrasp_Event": SelectGrasp.Event}
    for path in (bag, tmp_path / "requests_2", tmp_path / "requests_3"):
        events = [m for topic, _, m in read_messages(path, types) if topic.endswith("_event")]
        responses = [e.response[0].error_code for e in events if e.response]
        assert responses[-2:] == [SelectErrorCode.NONE, SelectErrorCode.INVALID_REQUEST], path
    assert not (tmp_path / "requests_4").exists()


def test_a_foreign_bag_at_record_path_still_fails_configure(start_node, ros_node, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    node = start_node("inference_node", "-p", f"record_path:={taken}")
    assert not _transition(ros_node, Transition.TRANSITION_CONFIGURE)
    assert "exists already" in node.output()
    # Unconfigured after the failure: another path may be set and configure succeeds.
    assert _set(ros_node, record_path=str(tmp_path / "fresh")) == [(True, "")]
    assert _transition(ros_node, Transition.TRANSITION_CONFIGURE), node.output()
    response = _select(ros_node, _client(ros_node))
    assert response.error_code == SelectGrasp.Response.MODEL_NOT_READY  # configured, not active
