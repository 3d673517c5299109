"""The shipped parameter files agree with each other and with the nodes' declared parameters."""

from __future__ import annotations

import dataclasses

import yaml

from a2_grasping.bringup import node_parameters
from a2_grasping.core.perception_config import CameraConfig, PerceptionConfig
from a2_grasping.tools.node_process import install_prefix

CONFIG = install_prefix() / "share" / "a2_grasping" / "config"


def _parameters(name: str) -> dict:
    return node_parameters(yaml.safe_load((CONFIG / f"{name}.yaml").read_text()), name)


def test_perception_profile_uses_the_simulated_cameras_poses():
    sim, perception = _parameters("sim_node"), _parameters("perception_node")
    assert perception["camera_names"] == sim["camera_names"]
    for i, camera in enumerate(sim["camera_names"]):
        assert perception[camera]["base_from_optical"] == sim["camera_poses"][7 * i : 7 * i + 7]


def test_perception_profile_names_only_declared_parameters_and_builds_valid_configs():
    perception = _parameters("perception_node")
    top_level = {f.name for f in dataclasses.fields(PerceptionConfig)}
    per_camera = {f.name for f in dataclasses.fields(CameraConfig)}
    cameras = set(perception["camera_names"])
    assert set(perception) - cameras == top_level  # every parameter documented, no typos
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in perception.items()}
    PerceptionConfig(**{k: v for k, v in values.items() if k in top_level})
    for camera in cameras:
        assert set(perception[camera]) == per_camera
        block = perception[camera]
        CameraConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in block.items()})


def test_executor_yaml_holds_exactly_the_declared_defaults():
    from a2_grasping.core.executor_config import ExecutorConfig
    from a2_grasping.core.planning.config import PlannerConfig

    executor = _parameters("executor_node")
    defaults = {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for cls in (ExecutorConfig, PlannerConfig)
        for f in dataclasses.fields(cls)
    }
    assert executor == defaults


def _real_parameters(name: str) -> dict:
    document = yaml.safe_load((CONFIG / "real" / f"{name}.yaml").read_text())
    return node_parameters(document, name)


def test_real_cell_profile_names_only_declared_parameters_and_builds_valid_configs():
    from a2_grasping.core.executor_config import ExecutorConfig
    from a2_grasping.core.inference_config import InferenceConfig
    from a2_grasping.core.planning.config import PlannerConfig

    def tuples(values: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}

    executor = tuples(_real_parameters("executor_node"))
    executor_fields = {f.name for f in dataclasses.fields(ExecutorConfig)}
    planner_fields = {f.name for f in dataclasses.fields(PlannerConfig)}
    assert set(executor) <= executor_fields | planner_fields
    config = ExecutorConfig(**{k: v for k, v in executor.items() if k in executor_fields})
    PlannerConfig(**{k: v for k, v in executor.items() if k in planner_fields})
    assert config.controller_interface == "action"

    from a2_grasping.core.selection.common import SelectionConfig

    inference = tuples(_real_parameters("inference_node"))
    inference_fields = {f.name for f in dataclasses.fields(InferenceConfig)}
    selection_fields = {f.name for f in dataclasses.fields(SelectionConfig)}
    assert set(inference) <= inference_fields | selection_fields
    InferenceConfig(**{k: v for k, v in inference.items() if k in inference_fields})
    SelectionConfig(**{k: v for k, v in inference.items() if k in selection_fields})

    perception = _real_parameters("perception_node")
    cameras = set(perception["camera_names"])
    top_level = {f.name for f in dataclasses.fields(PerceptionConfig)}
    assert set(perception) - cameras <= top_level
    PerceptionConfig(**{k: v for k, v in tuples(perception).items() if k in top_level})
    for camera in cameras:
        block = perception[camera]
        assert block["extrinsics_source"] == "tf"
        assert block["color_topic"].endswith("/color/image_raw")
        CameraConfig(**tuples(block))


def test_the_executor_waits_at_least_the_selection_budget_in_every_profile():
    """inference_node's time_budget_s is the one selection budget; the executor's
    select_timeout_s must cover it plus the margin, in the sim and the real profile (and in a
    params_file a site adds, which this cannot see: the README says so)."""
    from a2_grasping.core.executor_config import (
        SELECT_TIMEOUT_MARGIN_S,
        ExecutorConfig,
        select_timeout_covers,
    )
    from a2_grasping.core.selection.common import SelectionConfig

    default_budget = SelectionConfig().time_budget_s
    default_timeout = ExecutorConfig().select_timeout_s
    for parameters in (_parameters, _real_parameters):
        budget = parameters("inference_node").get("time_budget_s", default_budget)
        timeout = parameters("executor_node").get("select_timeout_s", default_timeout)
        assert select_timeout_covers(timeout, budget), (parameters.__name__, timeout, budget)
    assert not select_timeout_covers(default_budget + SELECT_TIMEOUT_MARGIN_S - 0.1, default_budget)
