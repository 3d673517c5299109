"""Declared, documented ROS parameters built from the core's configuration dataclasses."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

ConfigT = TypeVar("ConfigT")
_UNBOUNDED_INT = 2**62


def declare_config(node: Node, config_type: type[ConfigT]) -> ConfigT:
    """Declare one parameter per dataclass field and build the validated config.

    A value outside a field's range or of the wrong type raises ValueError (from rclpy's descriptor
    check or the dataclass's own validation) naming the parameter, so a node never starts with a
    bad configuration.
    """
    hints = typing.get_type_hints(config_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        descriptor = _descriptor(field, hints[field.name])
        parameter = node.declare_parameter(field.name, field.default, descriptor)
        values[field.name] = parameter.value
    return config_type(**values)


def _descriptor(field: dataclasses.Field[Any], type_hint: Any) -> ParameterDescriptor:
    meta = field.metadata
    descriptor = ParameterDescriptor(
        description=str(meta.get("description", "")),
        read_only=bool(meta.get("read_only", True)),
    )
    low, high = meta.get("min_value"), meta.get("max_value")
    if low is None and high is None:
        return descriptor
    if type_hint is int:
        descriptor.integer_range = [
            IntegerRange(
                from_value=int(low) if low is not None else -_UNBOUNDED_INT,
                to_value=int(high) if high is not None else _UNBOUNDED_INT,
                step=0,
            )
        ]
    elif type_hint is float:
        descriptor.floating_point_range = [
            FloatingPointRange(
                from_value=float(low) if low is not None else -math.inf,
                to_value=float(high) if high is not None else math.inf,
                step=0.0,
            )
        ]
    return descriptor
