import math

import pytest

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.inference_config import InferenceConfig
from a2_grasping.core.selection.request import (
    MAX_INSTRUCTION_CHARS,
    check_scene_age,
    validate_request,
)


def _validate(**overrides):
    fields = {
        "instruction": "grasp the red mug",
        "camera_names": [],
        "max_candidates": 0,
        "max_input_age_s": 0.0,
    }
    fields.update(overrides)
    return validate_request(**fields, default_max_candidates=10, default_max_input_age_s=2.0)


def test_zero_fields_take_the_server_defaults():
    request = _validate(instruction="  grasp the red mug ")
    assert request.instruction == "grasp the red mug"
    assert request.max_candidates == 10
    assert request.max_input_age_s == 2.0
    assert request.camera_names == ()


def test_explicit_fields_are_kept():
    request = _validate(camera_names=["front", "left"], max_candidates=3, max_input_age_s=0.5)
    assert request.camera_names == ("front", "left")
    assert (request.max_candidates, request.max_input_age_s) == (3, 0.5)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"instruction": "   "}, "instruction is empty"),
        ({"instruction": "x" * (MAX_INSTRUCTION_CHARS + 1)}, "characters"),
        ({"instruction": "grasp\x00the mug"}, "control characters"),
        ({"camera_names": ["front", ""]}, "empty name"),
        ({"camera_names": ["front", "front"]}, "duplicates"),
        ({"max_candidates": -1}, "max_candidates=-1"),
        ({"max_input_age_s": -0.1}, "max_input_age_s=-0.1"),
        ({"max_input_age_s": math.nan}, "max_input_age_s=nan"),
        ({"max_input_age_s": math.inf}, "max_input_age_s=inf"),
    ],
)
def test_invalid_fields_are_refused_by_name(overrides, fragment):
    with pytest.raises(SelectionError) as raised:
        _validate(**overrides)
    assert raised.value.code is SelectErrorCode.INVALID_REQUEST
    assert fragment in raised.value.message


def test_scene_age():
    assert check_scene_age(100.0, 100.5, 2.0, max_future_s=0.5) == pytest.approx(0.5)
    # A stamp slightly ahead (clock jitter within tolerance) counts as age 0.
    assert check_scene_age(100.2, 100.0, 2.0, max_future_s=0.5) == 0.0


@pytest.mark.parametrize(
    ("stamp_s", "code", "fragment"),
    [
        (None, SelectErrorCode.NO_SCENE, "no scene received"),
        (97.0, SelectErrorCode.STALE_SCENE, "3.000 s old"),
        (101.0, SelectErrorCode.STALE_SCENE, "in the future"),
    ],
)
def test_scene_age_refusals(stamp_s, code, fragment):
    with pytest.raises(SelectionError) as raised:
        check_scene_age(stamp_s, 100.0, 2.0, max_future_s=0.5)
    assert raised.value.code is code
    assert fragment in raised.value.message


def test_error_needs_a_failure_code():
    with pytest.raises(ValueError, match="NONE"):
        SelectionError(SelectErrorCode.NONE, "fine")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("max_input_age_s", 0.0, "below the minimum"),
        ("max_candidates", 5000, "above the maximum"),
        ("scene_topic", " ", "must not be empty"),
        ("max_candidates", "ten", "expected a number"),
    ],
)
def test_inference_config_validation_names_the_field(field, value, fragment):
    with pytest.raises(ValueError, match=field) as raised:
        InferenceConfig(**{field: value})
    assert fragment in str(raised.value)
