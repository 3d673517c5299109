"""Declared, documented ROS parameters built from the core's configuration dataclasses."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

ConfigT = TypeVar("ConfigT")
_UNBOUNDED_INT = 2**62
_ARRAY_TYPES = {
    float: Parameter.Type.DOUBLE_ARRAY,
    int: Parameter.Type.INTEGER_ARRAY,
    str: Parameter.Type.STRING_ARRAY,
}


def declare_config(
    node: Node, config_type: type[ConfigT], prefix: str = "", *, reloadable: bool = False
) -> ConfigT:
    """Declare one parameter per dataclass field (named `prefix + field`) and build the config.

    A value outside a field's range or of the wrong type raises ValueError (from rclpy's descriptor
    check or the dataclass's own validation) naming the parameter, so a node never starts with a
    bad configuration. Array fields are tuples in the config; an empty default is declared by
    type, so YAML can fill it. `reloadable`: every parameter may be set after start-up (a
    lifecycle node refuses changes while configured and rebuilds with `read_config`); otherwise
    each field's own read_only applies. A name declared already (two configurations of one
    node with a field in common) is a ValueError naming it.
    """
    hints = typing.get_type_hints(config_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        hint = hints[field.name]
        descriptor = _descriptor(field, hint)
        if reloadable:
            descriptor.read_only = False
        default: Any = field.default
        if default == () and typing.get_origin(hint) is tuple:
            default = _ARRAY_TYPES[typing.get_args(hint)[0]]
        name = prefix + field.name
        if node.has_parameter(name):
            # Two configurations of one node sharing a name would silently share one value.
            raise ValueError(
                f"parameter '{name}' of {config_type.__name__} is declared already, by another "
                "configuration of this node: give one of them a prefix or rename the field"
            )
        try:
            value = node.declare_parameter(name, default, descriptor).value
        except Exception as error:  # rclpy raises several types; all mean "bad value"
            raise ValueError(f"parameter '{name}': {error}") from None
        if typing.get_origin(hint) is tuple:
            value = tuple(value) if value is not None else ()
        values[field.name] = value
    try:
        return config_type(**values)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}" if prefix else str(error)) from None


def read_config(node: Node, config_type: type[ConfigT], prefix: str = "") -> ConfigT:
    """The config built from the current values of parameters `declare_config` declared
    (ValueError naming the field when they no longer make a valid configuration)."""
    hints = typing.get_type_hints(config_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        try:
            value = node.get_parameter(prefix + field.name).value
        except ParameterUninitializedException:  # an empty array declared by type only
            value = None
        if typing.get_origin(hints[field.name]) is tuple:
            value = tuple(value) if value is not None else ()
        values[field.name] = value
    try:
        return config_type(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{prefix}{error}" if prefix else str(error)) from None


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
