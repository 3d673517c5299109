"""Grounding: the words it understands, the object each template names, and what it refuses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.selection.colors import COLOR_WORDS, name_color, rgb_to_lab
from a2_grasping.core.selection.grounding import Relation, Selector, ground, parse_instruction
from a2_grasping.core.selection.objects import SceneObject, ShapeClass


def _object(index, color, shape, xy, size=(0.04, 0.04, 0.04)):
    extents = np.array(size, dtype=np.float64)
    return SceneObject(
        index=index,
        point_indices=np.arange(10) + 10 * index,
        centroid_m=np.array([xy[0], xy[1], 0.5 * extents[2]]),
        extents_m=extents,
        yaw_rad=0.0,
        color_lab=np.zeros(3),
        color_name=color,
        shape=ShapeClass(shape),
        shape_residual=0.01,
    )


# A scene where language matters: a repeated colour (two red objects of different shapes), two
# red boxes apart in y, close hues (orange next to red), different sizes.
SCENE = (
    _object(0, "red", "box", (0.45, 0.15)),  # the left red cube
    _object(1, "red", "box", (0.45, -0.15)),  # the right red cube
    _object(2, "red", "sphere", (0.60, 0.00)),
    _object(3, "orange", "cylinder", (0.50, 0.08), size=(0.03, 0.03, 0.09)),  # the tall one
    _object(4, "blue", "sphere", (0.35, 0.00), size=(0.06, 0.06, 0.06)),  # big, near the robot
    _object(5, "green", "box", (0.65, -0.20), size=(0.025, 0.025, 0.025)),  # small, far
)


def _targets(instruction: str) -> list[int]:
    return sorted(o.index for o in ground(parse_instruction(instruction), SCENE).targets)


def _refusal(instruction: str) -> SelectionError:
    with pytest.raises(SelectionError) as caught:
        ground(parse_instruction(instruction), SCENE)
    return caught.value


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        # colour
        ("pick the orange object", [3]),
        ("grasp the blue thing", [4]),
        ("pick up the crimson ball", [2]),  # synonym -> nearest base colour
        ("pick a red object", [0, 1, 2]),  # indefinite: any red one will do
        # shape
        ("pick the cylinder", [3]),
        ("give me the can", [3]),
        ("pick a ball", [2, 4]),
        # colour + shape: the shape decides between two red objects
        ("pick the red ball", [2]),
        ("pick the green cube", [5]),
        ("one of the red cubes", [0, 1]),
        # size superlatives
        ("pick the biggest ball", [4]),
        ("pick the smallest block", [5]),
        ("pick the tallest object", [3]),
        # spatial, robot's point of view (+y is its left)
        ("pick the left red cube", [0]),
        ("pick the right red block", [1]),
        ("pick the nearest object", [4]),
        ("pick the farthest box", [5]),
        # relations to another object
        ("pick the red cube left of the blue ball", [0]),
        ("pick the box right of the blue ball", [1]),
        ("pick the object next to the orange cylinder", [0]),
        ("pick the ball behind the orange can", [2]),
        ("pick the ball in front of the orange can", [4]),
        # generic
        ("pick anything", [0, 1, 2, 3, 4, 5]),
        ("pick an object", [0, 1, 2, 3, 4, 5]),
    ],
)
def test_templates_name_the_expected_objects(instruction, expected):
    assert _targets(instruction) == expected


def test_parse_reports_matched_and_unknown_words():
    parsed = parse_instruction("please pick the shiny big red cube next to the blue ball")
    assert parsed.target.color == "red" and parsed.target.shape is ShapeClass.BOX
    assert parsed.target.selectors == (Selector.LARGEST,)
    assert parsed.relation is Relation.NEXT_TO
    assert parsed.reference is not None and parsed.reference.shape is ShapeClass.SPHERE
    assert parsed.matched_words == ("big", "red", "cube", "next to", "blue", "ball")
    assert parsed.unknown_words == ("shiny",)
    assert not parsed.generic


def test_a_relation_word_without_an_object_describes_the_target():
    parsed = parse_instruction("pick the near cube")
    assert parsed.relation is None and parsed.target.selectors == (Selector.NEAREST,)
    assert parse_instruction("pick the one near the blue ball").relation is Relation.NEXT_TO


@pytest.mark.parametrize("word", ["crimson", "scarlet", "maroon"])
def test_finer_colour_words_find_red(word):
    assert COLOR_WORDS[word] == "red"


def test_base_colours_name_themselves_and_shading_keeps_the_name():
    for name in ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"):
        assert COLOR_WORDS[name] == name
    # Lab of the simulated cell's rendered objects (median over each object, measured): shaded
    # orange reads L* 37, a shade a lightness-based namer would call brown.
    measured = {
        "orange": (37.0, 23.0, 45.0),
        "red": (25.0, 43.0, 30.0),
        "pink": (36.0, 34.0, -6.0),
        "purple": (20.0, 39.0, -34.0),
        "yellow": (50.0, -5.0, 53.0),
        "cyan": (42.0, -23.0, -11.0),
        "blue": (19.0, 27.0, -51.0),
        "green": (33.0, -37.0, 32.0),
    }
    for name, lab in measured.items():
        assert name_color(np.array(lab)) == name, name
    assert name_color(rgb_to_lab(np.array([200, 200, 200], dtype=np.uint8))) == "white"
    assert name_color(rgb_to_lab(np.array([20, 20, 20], dtype=np.uint8))) == "black"


def test_nothing_that_fits_is_target_not_found_and_lists_the_scene():
    error = _refusal("pick the purple cube")
    assert error.code is SelectErrorCode.TARGET_NOT_FOUND
    assert "no purple box" in error.message
    assert (
        "seen: red box, red box, red ball, orange cylinder, blue ball, green box" in error.message
    )
    assert _refusal("pick the yellow cylinder").code is SelectErrorCode.TARGET_NOT_FOUND


def test_unknown_object_nouns_are_not_guessed():
    error = _refusal("pick the banana")
    assert error.code is SelectErrorCode.TARGET_NOT_FOUND and "'banana'" in error.message
    assert _refusal("grab the red banana").code is SelectErrorCode.TARGET_NOT_FOUND


def test_a_definite_description_of_several_objects_is_ambiguous_with_a_deciding_word():
    error = _refusal("pick the red cube")
    assert error.code is SelectErrorCode.AMBIGUOUS_TARGET
    assert "fits 2 objects" in error.message and "'left' or 'right'" in error.message
    shape_error = _refusal("pick the red object")
    assert "fits 3 objects" in shape_error.message and "shape" in shape_error.message


def test_a_superlative_within_measurement_noise_is_ambiguous():
    twins = (
        _object(0, "red", "box", (0.45, 0.10), size=(0.040, 0.040, 0.040)),
        _object(1, "red", "box", (0.45, -0.10), size=(0.041, 0.041, 0.041)),
    )
    with pytest.raises(SelectionError) as caught:
        ground(parse_instruction("pick the biggest red cube"), twins)
    assert caught.value.code is SelectErrorCode.AMBIGUOUS_TARGET
    assert "'largest' does not decide" in caught.value.message
    # 1.3x the volume decides
    distinct = (twins[0], _object(1, "red", "box", (0.45, -0.1), size=(0.044, 0.044, 0.044)))
    assert [o.index for o in ground(parse_instruction("the big red cube"), distinct).targets] == [1]


def test_a_relation_to_a_missing_or_ambiguous_reference_is_refused():
    missing = _refusal("pick the cube next to the yellow ball")
    assert missing.code is SelectErrorCode.TARGET_NOT_FOUND and "no yellow ball" in missing.message
    ambiguous = _refusal("pick the ball next to the red cube")
    assert ambiguous.code is SelectErrorCode.AMBIGUOUS_TARGET
    assert "the object to relate to" in ambiguous.message
    nothing_there = _refusal("pick the cylinder right of the green cube")
    assert nothing_there.code is SelectErrorCode.TARGET_NOT_FOUND
    assert "right of the green box" in nothing_there.message


@pytest.mark.parametrize(
    ("instruction", "words"),
    [
        ("pick the red blue cube", "'red' and 'blue'"),
        ("pick the cube ball", "'cube' and 'ball'"),
        ("pick the biggest smallest ball", "'biggest' and 'smallest'"),
        ("pick the left right cube", "'left' and 'right'"),
        ("pick the red cube next to the blue green ball", "'blue' and 'green'"),
    ],
)
def test_contradictory_descriptions_name_the_words(instruction, words):
    with pytest.raises(SelectionError) as caught:
        parse_instruction(instruction)
    assert caught.value.code is SelectErrorCode.INVALID_REQUEST
    assert words in caught.value.message


def test_no_objects_on_the_table_is_not_found():
    with pytest.raises(SelectionError) as caught:
        ground(parse_instruction("pick the red cube"), ())
    assert caught.value.code is SelectErrorCode.TARGET_NOT_FOUND
    assert "seen: nothing" in caught.value.message


def test_an_answer_that_depends_on_a_doubtful_shape_is_refused_not_guessed():
    """A small yellow ball read as a cylinder (its shape in doubt) and a real yellow cylinder:
    "the shortest yellow cylinder" would be the ball; the answer depends on the doubt, so it is
    AMBIGUOUS_TARGET (the lift check verifies the grounded object, so a guess here was reported
    as done under the D435 profile)."""
    ball = dataclasses.replace(
        _object(0, "yellow", "cylinder", (0.40, 0.22), size=(0.034, 0.034, 0.037)),
        shape_doubt=ShapeClass.SPHERE,
    )
    cylinder = _object(1, "yellow", "cylinder", (0.64, 0.03), size=(0.063, 0.063, 0.061))
    with pytest.raises(SelectionError) as refused:
        ground(parse_instruction("pick the shortest yellow cylinder"), (ball, cylinder))
    assert refused.value.code is SelectErrorCode.AMBIGUOUS_TARGET
    assert "might be a ball" in refused.value.message
    # words that do not depend on the shape still decide
    (target,) = ground(parse_instruction("pick the left yellow object"), (ball, cylinder)).targets
    assert target is ball
    # a doubt that changes nothing changes nothing: the cylinder is the tallest either way
    (tallest,) = ground(parse_instruction("the tallest cylinder"), (ball, cylinder)).targets
    assert tallest is cylinder


def test_the_only_object_that_can_be_meant_is_picked_though_its_shape_is_in_doubt():
    """Under the D435 profile a 3 cm green cube read as a box that might be a cylinder, a green
    cylinder that might be a ball: "the green box beside the purple cylinder" can only mean the
    cube (read strictly nothing fits, read loosely the same cube), so it is the answer (it was
    refused as AMBIGUOUS_TARGET, language bench seed 7211)."""
    cube = dataclasses.replace(
        _object(0, "green", "box", (0.43, -0.17), size=(0.034, 0.027, 0.027)),
        shape_doubt=ShapeClass.CYLINDER,
    )
    cylinder = dataclasses.replace(
        _object(1, "green", "cylinder", (0.63, -0.22), size=(0.038, 0.038, 0.038)),
        shape_doubt=ShapeClass.SPHERE,
    )
    reference = _object(2, "purple", "cylinder", (0.43, -0.10), size=(0.05, 0.05, 0.09))
    instruction = parse_instruction("get the green box beside the purple cylinder")
    grounding = ground(instruction, (cube, cylinder, reference))
    assert grounding.targets == (cube,)
    assert grounding.reference is reference
    # a competitor the loose reading admits (a green cylinder that might be a box) still refuses
    rival = dataclasses.replace(cylinder, shape_doubt=ShapeClass.BOX)
    rival = dataclasses.replace(rival, centroid_m=np.array([0.43, -0.03, 0.019]))
    with pytest.raises(SelectionError) as refused:
        ground(parse_instruction("get the green box"), (cube, rival, reference))
    assert refused.value.code is SelectErrorCode.AMBIGUOUS_TARGET


def test_any_object_of_a_shape_is_picked_among_those_whose_shape_is_sure():
    doubtful = dataclasses.replace(
        _object(0, "yellow", "cylinder", (0.40, 0.22)), shape_doubt=ShapeClass.BOX
    )
    sure = _object(1, "red", "box", (0.64, 0.03))
    grounding = ground(parse_instruction("grasp a box"), (doubtful, sure))
    assert grounding.targets == (sure,)
    # no sure box: the one object that might be a box is the one meant (an instruction names
    # something that is there; a 3 cm cube under the D435 profile is read so, bench seed 8604)
    only_doubtful = (doubtful, _object(1, "red", "sphere", (0.64, 0.03)))
    assert ground(parse_instruction("grasp a box"), only_doubtful).targets == (doubtful,)
    assert ground(parse_instruction("grasp the yellow cube"), only_doubtful).targets == (doubtful,)
    sure_cylinder = dataclasses.replace(doubtful, shape_doubt=None)
    with pytest.raises(SelectionError) as refused:  # nothing is even possibly a box
        ground(parse_instruction("grasp a box"), (sure_cylinder, only_doubtful[1]))
    assert refused.value.code is SelectErrorCode.TARGET_NOT_FOUND
