"""Declaring configuration once: dataclass fields that carry their documentation and range.

Node configurations are frozen dataclasses whose fields are built with `config_field`. The ROS
layer turns each field into a declared parameter with that description and range
(`a2_grasping.ros.parameters`), the core validates values in `__post_init__` with
`validate_ranges`, and the config YAML tests compare against the same fields. One declaration,
three uses, no drift.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def config_field(
    default: T,
    description: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    read_only: bool = True,
) -> T:
    """A dataclass field with a description and an optional inclusive numeric range."""
    metadata = {
        "description": description,
        "min_value": min_value,
        "max_value": max_value,
        "read_only": read_only,
    }
    if isinstance(default, list | dict):
        raise TypeError("use a tuple default; configs are immutable")
    field: T = dataclasses.field(default=default, metadata=metadata)
    return field


def validate_ranges(config: Any) -> None:
    """Raise ValueError naming the first field whose value lies outside its declared range."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        low = field.metadata.get("min_value")
        high = field.metadata.get("max_value")
        if low is None and high is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{field.name}: expected a number, got {value!r}")
        if low is not None and value < low:
            raise ValueError(f"{field.name}={value!r} is below the minimum {low}")
        if high is not None and value > high:
            raise ValueError(f"{field.name}={value!r} is above the maximum {high}")


def describe(config_type: type) -> dict[str, str]:
    """Field name -> description, for documentation and consistency tests."""
    return {f.name: str(f.metadata.get("description", "")) for f in dataclasses.fields(config_type)}
