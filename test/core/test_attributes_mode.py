"""Attributes mode: the instruction decides which object the grasps are on, in every outcome."""

from __future__ import annotations

import numpy as np
import pytest

from a2_grasping.core.candidates.antipodal import AntipodalGenerator
from a2_grasping.core.candidates.base import ObjectPrior
from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.scene import Scene
from a2_grasping.core.selection.common import SelectionConfig
from a2_grasping.core.selection.grasp import GraspSelector, SelectionMode
from a2_grasping.core.selection.request import SelectRequest
from a2_grasping.testing.synthetic_clouds import (
    box_points,
    cylinder_points,
    sphere_points,
    table_points,
)

WORKSPACE = np.array([0.2, 0.8, -0.35, 0.35, -0.02, 0.3])
# name -> (points, colour, centre xy)
_RED, _GREEN, _BLUE = (200, 25, 25), (30, 160, 40), (25, 60, 200)


@pytest.fixture(scope="module")
def scene() -> Scene:
    """Two red objects (a cube and a ball), a green cube and a blue cylinder, 10+ cm apart."""
    rng = np.random.default_rng(11)
    parts = [
        (box_points(rng, (0.04, 0.04, 0.04), (0.45, 0.15), 2500), _RED),
        (sphere_points(rng, 0.022, (0.45, -0.15), 2500), _RED),
        (box_points(rng, (0.05, 0.03, 0.05), (0.60, 0.00), 2500), _GREEN),
        (cylinder_points(rng, 0.02, 0.07, (0.35, 0.00), 2500), _BLUE),
        (table_points(rng, 10000, half_extent=0.3) + np.array([0.5, 0.0, 0.0]), (110, 110, 110)),
    ]
    points = np.vstack([p for p, _ in parts])
    colors = np.vstack([np.tile(np.array(c, np.uint8), (len(p), 1)) for p, c in parts])
    points = points + rng.normal(scale=3e-4, size=points.shape)
    return Scene("base_link", 1.0, points.astype(np.float32), colors, WORKSPACE)


def _select(scene: Scene, instruction: str, ground: bool = True):
    selector = GraspSelector(AntipodalGenerator(), SelectionConfig(), ground_instructions=ground)
    return selector.select(scene, SelectRequest(instruction, (), 5, 2.0))


@pytest.mark.parametrize(
    ("instruction", "centre_xy"),
    [
        ("pick the red ball", (0.45, -0.15)),
        ("pick the red cube", (0.45, 0.15)),
        ("pick the green block", (0.60, 0.00)),
        ("grasp the blue can", (0.35, 0.00)),
        ("pick the tallest object", (0.35, 0.00)),
        ("pick the left red object", (0.45, 0.15)),
    ],
)
def test_every_candidate_closes_on_the_named_object(scene, instruction, centre_xy):
    ranked = _select(scene, instruction)
    assert ranked.mode is SelectionMode.ATTRIBUTES and ranked.instruction_used
    assert len(ranked.candidates) >= 1
    tcp_xy = ranked.candidates.tcp_poses[:, :2, 3]
    assert np.all(np.linalg.norm(tcp_xy - centre_xy, axis=1) < 0.03), instruction
    assert ranked.target is not None
    assert np.linalg.norm(ranked.target.object.centroid_m[:2] - centre_xy) < 0.005
    assert "grounding" in ranked.timings_ms and "segmentation" in ranked.timings_ms


def test_two_instructions_on_one_scene_choose_two_objects(scene):
    ball = _select(scene, "pick the red ball")
    cube = _select(scene, "pick the red cube")
    assert ball.target is not None and cube.target is not None
    assert ball.target.object.shape.value == "sphere" and cube.target.object.shape.value == "box"
    distance = np.linalg.norm(
        ball.candidates.tcp_poses[0, :3, 3] - cube.candidates.tcp_poses[0, :3, 3]
    )
    assert distance > 0.2


def test_the_target_reports_the_words(scene):
    ranked = _select(scene, "please pick the shiny red ball")
    assert ranked.target is not None
    assert ranked.target.matched_words == ("red", "ball")
    assert ranked.target.unknown_words == ("shiny",)
    relation = _select(scene, "pick the cube next to the blue cylinder")
    assert relation.target is not None and relation.target.reference is not None
    assert relation.target.reference.color_name == "blue"


@pytest.mark.parametrize(
    ("instruction", "code", "text"),
    [
        ("pick the orange cylinder", SelectErrorCode.TARGET_NOT_FOUND, "seen: "),
        ("pick the red object", SelectErrorCode.AMBIGUOUS_TARGET, "fits 2 objects"),
        ("pick the banana", SelectErrorCode.TARGET_NOT_FOUND, "'banana'"),
        ("pick the red green ball", SelectErrorCode.INVALID_REQUEST, "'red' and 'green'"),
    ],
)
def test_refusals_name_what_is_wrong(scene, instruction, code, text):
    with pytest.raises(SelectionError) as caught:
        _select(scene, instruction)
    assert caught.value.code is code and text in caught.value.message


def test_a_generic_request_is_answered_geometrically_with_the_object_reported(scene):
    ranked = _select(scene, "pick anything")
    assert ranked.mode is SelectionMode.GEOMETRIC and not ranked.instruction_used
    assert ranked.target is not None  # which object the best grasp closes on, all the same


def test_geometric_mode_ignores_the_instruction_but_reports_the_object(scene):
    ball = _select(scene, "pick the red ball", ground=False)
    cube = _select(scene, "pick the red cube", ground=False)
    assert ball.mode is SelectionMode.GEOMETRIC
    np.testing.assert_array_equal(ball.candidates.tcp_poses, cube.candidates.tcp_poses)
    assert ball.target is not None


def test_box_priors_grasp_a_block_whose_far_side_is_not_seen():
    """A block seen only from the front (+x faces and top): no antipodal pair exists in the
    cloud; the prior from its segmented box gives grasps across it."""
    rng = np.random.default_rng(5)
    block = box_points(rng, (0.05, 0.03, 0.04), (0.5, 0.0), 4000)
    seen = block[(block[:, 2] > 0.0399) | (block[:, 0] < 0.5 - 0.0249) | (block[:, 1] < -0.0149)]
    cloud = np.vstack([seen, table_points(rng, 4000) + np.array([0.5, 0.0, 0.0])])
    generator = AntipodalGenerator()
    rng_seed = np.random.default_rng(0)
    assert len(generator.generate(cloud, 0.0, rng_seed)) == 0
    pose = np.eye(4)
    pose[:3, 3] = [0.5, 0.0, 0.02]
    prior = ObjectPrior(pose, np.array([0.05, 0.03, 0.04]), "box")
    candidates = generator.generate(cloud, 0.0, np.random.default_rng(0), priors=(prior,))
    assert len(candidates) >= 1
    assert np.all(np.linalg.norm(candidates.tcp_poses[:, :2, 3] - [0.5, 0.0], axis=1) < 0.01)
    # Closing across the 3 cm side (y) or the 5 cm side (x), at the widths of the box.
    assert set(np.round(candidates.width_m, 3)) <= {0.03, 0.05}
    assert np.all(candidates.quality <= 1.0)
