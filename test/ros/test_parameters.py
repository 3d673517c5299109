"""Configuration dataclasses declared as ROS parameters: a name two configurations of one node
share is refused at start-up, naming it; the shipped nodes' configurations share none."""

from __future__ import annotations

import dataclasses

import pytest

from a2_grasping.core.config_fields import config_field
from a2_grasping.core.executor_config import ExecutorConfig
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.planning.config import PlannerConfig
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.objects import SegmentationConfig
from a2_grasping.core.selection.place import PlaceConfig
from a2_grasping.ros.parameters import declare_config

pytestmark = pytest.mark.ros


@dataclasses.dataclass(frozen=True)
class _Table:
    table_height_m: float = config_field(0.0, "Table height (m).")


@dataclasses.dataclass(frozen=True)
class _AlsoTable:
    table_height_m: float = config_field(0.0, "The same name in another configuration.")
    margin_m: float = config_field(0.003, "Something else.")


def test_a_name_declared_by_two_configurations_is_refused_naming_it(ros_node):
    assert declare_config(ros_node, _Table).table_height_m == 0.0
    with pytest.raises(ValueError, match="'table_height_m' of _AlsoTable is declared already"):
        declare_config(ros_node, _AlsoTable)
    assert declare_config(ros_node, _AlsoTable, prefix="other.").margin_m == 0.003


@pytest.mark.parametrize(
    "configs",
    [
        (InferenceConfig, SelectionConfig, SegmentationConfig, PlaceConfig),  # inference_node
        (ExecutorConfig, PlannerConfig, SegmentationConfig),  # executor_node
    ],
    ids=["inference_node", "executor_node"],
)
def test_the_shipped_nodes_declare_each_name_once(ros_node, configs):
    for config_type in configs:
        declare_config(ros_node, config_type)
