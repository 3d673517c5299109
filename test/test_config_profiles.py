"""The shipped parameter files agree with each other and with the nodes' declared parameters."""

from __future__ import annotations

import dataclasses

import yaml

from a2_grasping.bringup import CELL_PARAMETERS_FILE, PIPELINE_NODES, node_parameters
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.perception_config import CameraConfig, PerceptionConfig
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place import PlaceConfig
from a2_grasping.installation import install_prefix

CONFIG = install_prefix() / "share" / "a2_grasping" / "config"
# The configurations each pipeline node declares (perception_node: plus one block per camera).
DECLARED = {
    "perception_node": (PerceptionConfig,),
    "inference_node": (InferenceConfig, SelectionConfig, SegmentationConfig, PlaceConfig),
    "executor_node": (ExecutorConfig, PlannerConfig, SegmentationConfig),
}


def _names(node: str) -> set[str]:
    return {f.name for config in DECLARED[node] for f in dataclasses.fields(config)}


def _file(directory, name: str) -> dict:
    document = yaml.safe_load((directory / name).read_text())
    return node_parameters(document, name.removesuffix(".yaml"))


def _profile(directory, name: str) -> dict:
    """A node's parameters as bringup loads them: the cell's names it declares, then its file."""
    own = _file(directory, f"{name}.yaml")
    if name not in DECLARED:
        return own
    cell = _file(directory, CELL_PARAMETERS_FILE)
    return {**{k: v for k, v in cell.items() if k in _names(name)}, **own}


def _parameters(name: str) -> dict:
    return _profile(CONFIG, name)


def test_the_cell_file_is_the_one_place_for_what_the_nodes_share():
    """table_height_m, table_margin_m and the segmentation settings are set once per profile
    (cell.yaml), each name there is declared by a pipeline node, and no node's own file sets
    it again (selection and place verification once segmented differently on a real cell)."""
    assert set(DECLARED) == set(PIPELINE_NODES)
    for directory in (CONFIG, CONFIG / "real"):
        cell = _file(directory, CELL_PARAMETERS_FILE)
        assert {"table_height_m", "table_margin_m"} <= set(cell), directory
        for name in cell:
            assert any(name in _names(node) for node in DECLARED), (directory, name)
        for node in DECLARED:
            assert not set(cell) & set(_file(directory, f"{node}.yaml")), (directory, node)
    segmentation = {f.name for f in dataclasses.fields(SegmentationConfig)}
    assert segmentation <= set(_file(CONFIG, CELL_PARAMETERS_FILE))
    for node in ("inference_node", "executor_node"):
        assert segmentation | {"table_height_m", "table_margin_m"} <= _names(node), node


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
    executor = _parameters("executor_node")
    defaults = {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for cls in DECLARED["executor_node"]
        for f in dataclasses.fields(cls)
    }
    assert executor == defaults


def _real_parameters(name: str) -> dict:
    return _profile(CONFIG / "real", name)


def test_real_cell_profile_names_only_declared_parameters_and_builds_valid_configs():
    def tuples(values: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}

    executor = tuples(_real_parameters("executor_node"))
    executor_fields = {f.name for f in dataclasses.fields(ExecutorConfig)}
    planner_fields = {f.name for f in dataclasses.fields(PlannerConfig)}
    assert set(executor) <= _names("executor_node")
    config = ExecutorConfig(**{k: v for k, v in executor.items() if k in executor_fields})
    PlannerConfig(**{k: v for k, v in executor.items() if k in planner_fields})
    assert config.controller_interface == "action"

    inference = tuples(_real_parameters("inference_node"))
    inference_fields = {f.name for f in dataclasses.fields(InferenceConfig)}
    selection_fields = {f.name for f in dataclasses.fields(SelectionConfig)}
    assert set(inference) <= _names("inference_node")
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
    from a2_grasping.core.executor_config import SELECT_TIMEOUT_MARGIN_S, select_timeout_covers

    default_budget = SelectionConfig().time_budget_s
    default_timeout = ExecutorConfig().select_timeout_s
    for parameters in (_parameters, _real_parameters):
        budget = parameters("inference_node").get("time_budget_s", default_budget)
        timeout = parameters("executor_node").get("select_timeout_s", default_timeout)
        assert select_timeout_covers(timeout, budget), (parameters.__name__, timeout, budget)
    assert not select_timeout_covers(default_budget + SELECT_TIMEOUT_MARGIN_S - 0.1, default_budget)
