"""The RGB-D sensor model: noise statistics, occlusion bands, flying pixels, holes, colour,
seeding; and, in the MuJoCo cell, calibration error and lighting variation.

Tolerances are statistical: a standard deviation estimated from N samples has a relative
standard error of about 1 / sqrt(2 N) (0.13 % for a 640x480 plane), a fraction p estimated from
N independent draws a standard error of sqrt(p (1 - p) / N); each bound below is many of those.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a2_grasping.sim.cameras import intrinsics_from_fovy
from a2_grasping.sim.config import SimConfig
from a2_grasping.sim.lighting import (
    INTENSITY_SPREAD,
    MAX_TILT_DEG,
    NOMINAL_LIGHTING,
    NOMINAL_TEMPERATURE_K,
    TEMPERATURE_SPREAD_K,
    color_temperature_rgb,
    planckian_xy,
    scene_lighting,
)
from a2_grasping.sim.sensor import (
    SENSOR_PROFILES,
    DepthTechnology,
    SensorModel,
    SensorProfile,
    frame_dropped,
    gaussian_noise,
    hole_mask,
    scene_sensor_seed,
    sensor_profile,
    stereo_occlusion_mask,
)

HEIGHT, WIDTH = 480, 640
FOCAL_PX = float(intrinsics_from_fovy(45.0, WIDTH, HEIGHT)[0, 0])  # the cell's 579 px
GREY = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
# The near box of the discontinuity scenes: rows and columns it covers.
BOX_ROWS, BOX_COLS = slice(180, 300), slice(280, 400)


def _plane(depth_m: float) -> np.ndarray:
    return np.full((HEIGHT, WIDTH), depth_m, dtype=np.float32)


def _box_on_plane(near_m: float, far_m: float) -> np.ndarray:
    depth = _plane(far_m)
    depth[BOX_ROWS, BOX_COLS] = near_m
    return depth


def _model(name: str, seed: int = 7, camera_index: int = 0) -> SensorModel:
    return SensorModel(
        SENSOR_PROFILES[name], seed=seed, camera_index=camera_index, focal_px=FOCAL_PX
    )


def _quiet(name: str, **changes: float) -> SensorProfile:
    """The profile with only the depth noise and the occlusion band (or what `changes` sets)."""
    off = {
        "depth_scale_sigma": 0.0,
        "flying_pixel_fraction": 0.0,
        "hole_fraction": 0.0,
        "dark_invalid_probability": 0.0,
    }
    return dataclasses.replace(SENSOR_PROFILES[name], **{**off, **changes})


# ---- profiles ----


def test_d435_noise_at_0_8_m_is_the_documented_1_8_mm():
    sigma_m = float(SENSOR_PROFILES["d435"].depth_sigma_m(0.8, FOCAL_PX))
    assert sigma_m == pytest.approx(0.8**2 * 0.08 / (FOCAL_PX * 0.050))
    assert sigma_m == pytest.approx(1.77e-3, abs=0.03e-3)
    assert SENSOR_PROFILES["d455"].depth_sigma_m(0.8, FOCAL_PX) < 0.6 * sigma_m
    # From 0.5 to 2 m stereo noise grows 16-fold, the LiDAR's (1 mm + 0.1 % of z) 2-fold.
    d435, l515 = SENSOR_PROFILES["d435"], SENSOR_PROFILES["l515"]
    ratio = d435.depth_sigma_m(2.0, FOCAL_PX) / d435.depth_sigma_m(0.5, FOCAL_PX)
    assert ratio == pytest.approx(16.0)
    assert l515.depth_sigma_m(2.0, FOCAL_PX) == pytest.approx(2 * l515.depth_sigma_m(0.5, FOCAL_PX))


def test_profiles_are_valid_and_unknown_names_are_listed():
    assert set(SENSOR_PROFILES) >= {"ideal", "d435", "d455", "l515"}
    assert SENSOR_PROFILES["ideal"].is_ideal
    assert not any(p.is_ideal for n, p in SENSOR_PROFILES.items() if n != "ideal")
    assert all(name == profile.name for name, profile in SENSOR_PROFILES.items())
    with pytest.raises(ValueError, match="'d435'"):
        sensor_profile("d999")
    with pytest.raises(ValueError, match="sensor profile"):
        SimConfig(sensor_profile="kinect")
    with pytest.raises(ValueError, match="baseline"):
        SensorProfile(name="bad", technology="stereo", disparity_noise_px=0.08)
    with pytest.raises(ValueError, match="camera_drop_rate"):
        SimConfig(camera_drop_rate=0.95)


# ---- depth ----


@pytest.mark.parametrize("name", ["d435", "d455", "l515"])
@pytest.mark.parametrize("depth_m", [0.5, 1.0])
def test_depth_noise_sigma_matches_the_model(name, depth_m):
    model = _model(name)
    _, depth = model.apply(GREY, _plane(depth_m), frame_index=3)
    valid = depth > 0.0
    true_m = depth_m * model.draws.depth_scale
    residual_m = depth[valid].astype(np.float64) - true_m
    expected_m = float(model.profile.depth_sigma_m(true_m, FOCAL_PX))
    assert valid.sum() > 0.95 * depth.size  # a flat, bright plane: holes only
    assert residual_m.std() == pytest.approx(expected_m, rel=0.2)
    # Unbiased: the mean of N draws is within a few sigma / sqrt(N) of the truth.
    assert abs(residual_m.mean()) < 6.0 * expected_m / math.sqrt(valid.sum())


def test_depth_scale_error_is_constant_per_camera_and_of_the_profiles_size():
    scales = np.array([_model("d435", seed=s).draws.depth_scale for s in range(400)])
    # 400 draws: the sample std's relative standard error is 1 / sqrt(800) = 3.5 %.
    assert np.std(scales) == pytest.approx(0.002, rel=0.2)
    assert abs(np.mean(scales) - 1.0) < 5 * 0.002 / math.sqrt(400)
    model = _model("d435")
    depths = [model.apply(GREY, _plane(0.8), i)[1] for i in range(3)]
    for depth in depths:  # every frame scaled alike: the mean of a whole plane shows the scale
        assert np.mean(depth[depth > 0]) == pytest.approx(0.8 * model.draws.depth_scale, abs=2e-5)


@pytest.mark.parametrize(
    ("name", "near_m", "far_m"), [("d435", 0.75, 0.8), ("d435", 0.5, 0.8), ("d455", 0.6, 1.0)]
)
def test_occlusion_band_lies_left_of_the_foreground_as_wide_as_the_disparity_jump(
    name, near_m, far_m
):
    profile = _quiet(name)
    model = SensorModel(profile, seed=1, camera_index=0, focal_px=FOCAL_PX)
    _, depth = model.apply(GREY, _box_on_plane(near_m, far_m), frame_index=0)
    expected_px = FOCAL_PX * profile.baseline_m * (1.0 / near_m - 1.0 / far_m)
    rows = depth[BOX_ROWS]
    left = rows[:, : BOX_COLS.start]
    right = rows[:, BOX_COLS.stop :]
    # The band: zeros ending right at the box's left edge, in every row of the box.
    widths = [np.argmax(row[::-1] > 0.0) for row in left]
    assert min(widths) == max(widths)
    assert abs(widths[0] - expected_px) <= 1.0
    assert widths[0] >= 1
    assert np.all(left[:, : BOX_COLS.start - widths[0]] > 0.0)
    assert np.all(right > 0.0)  # nothing hidden on the right of the foreground
    assert np.all(depth[BOX_ROWS, BOX_COLS] > 0.0)  # nor the foreground itself
    # Rows above and below the box see the plane only.
    assert np.all(depth[: BOX_ROWS.start] > 0.0) and np.all(depth[BOX_ROWS.stop :] > 0.0)


def test_occlusion_mask_follows_the_disparity_condition():
    """Brute force over every k against the doubling implementation, on random steps."""
    rng = np.random.default_rng(0)
    depth = rng.choice(np.array([0.0, 0.3, 0.45, 0.6, 0.9, 1.4], dtype=np.float32), (12, 90))
    depth = np.repeat(depth, 3, axis=1)  # surfaces a few pixels wide
    focal_baseline = FOCAL_PX * 0.05
    valid = depth > 0
    disparity = np.where(valid, focal_baseline / np.where(valid, depth, 1.0), 0.0)
    expected = np.zeros_like(valid)
    for k in range(1, 65):
        expected[:, :-k] |= disparity[:, k:] - disparity[:, :-k] >= k
    expected &= valid
    actual = stereo_occlusion_mask(depth, focal_baseline, 64)
    # Equality cases (d' - d == k exactly) may round either way in float32.
    assert np.mean(actual != expected) < 0.01
    assert np.all(actual <= valid)


def test_the_lidar_has_no_occlusion_band():
    profile = _quiet("l515")
    model = SensorModel(profile, seed=1, camera_index=0, focal_px=FOCAL_PX)
    _, depth = model.apply(GREY, _box_on_plane(0.5, 0.8), frame_index=0)
    assert np.all(depth > 0.0)


@pytest.mark.parametrize("name", ["d435", "l515"])
def test_flying_pixels_lie_between_foreground_and_background_at_edges(name):
    near_m, far_m = 0.6, 0.8
    profile = _quiet(name, flying_pixel_fraction=SENSOR_PROFILES[name].flying_pixel_fraction)
    model = SensorModel(profile, seed=2, camera_index=0, focal_px=FOCAL_PX)
    truth = _box_on_plane(near_m, far_m)
    _, depth = model.apply(GREY, truth, frame_index=0)
    sigma_far_m = float(profile.depth_sigma_m(far_m, FOCAL_PX))
    off = (depth > 0.0) & (np.abs(depth - truth) > 6.0 * sigma_far_m)
    assert off.sum() > 20
    assert np.all(depth[off] > near_m - 6.0 * sigma_far_m)
    assert np.all(depth[off] < far_m + 6.0 * sigma_far_m)
    # Only on the first pixel either side of the box outline.
    outline = np.zeros_like(off)
    outline[BOX_ROWS.start - 1 : BOX_ROWS.stop + 1, BOX_COLS.start - 1 : BOX_COLS.stop + 1] = True
    outline[BOX_ROWS.start + 1 : BOX_ROWS.stop - 1, BOX_COLS.start + 1 : BOX_COLS.stop - 1] = False
    assert np.all(off <= outline)
    # About the profile's fraction of the valid edge pixels (t near 0 or 1 hides a few).
    edge_valid = outline & (depth > 0.0)
    share = off.sum() / edge_valid.sum()
    assert 0.5 * profile.flying_pixel_fraction < share < 1.2 * profile.flying_pixel_fraction


@pytest.mark.parametrize("name", ["d435", "l515"])
def test_hole_fraction_is_the_profiles_on_bright_surfaces_and_higher_on_dark_ones(name):
    profile = SENSOR_PROFILES[name]
    model = _model(name)
    _, depth = model.apply(GREY, _plane(0.7), frame_index=0)
    holes = float(np.mean(depth == 0.0))
    # About 300 blobs: the count's Poisson error is ~6 %.
    assert holes == pytest.approx(profile.hole_fraction, rel=0.3)
    black = np.zeros_like(GREY)
    _, depth = model.apply(black, _plane(0.7), frame_index=1)
    expected = 1.0 - (1.0 - profile.hole_fraction) * (1.0 - profile.dark_invalid_probability)
    assert float(np.mean(depth == 0.0)) == pytest.approx(expected, rel=0.1)


def test_holes_come_in_blobs():
    mask = hole_mask((HEIGHT, WIDTH), 0.01, 3, np.random.default_rng(4))
    assert float(mask.mean()) == pytest.approx(0.01, rel=0.3)
    # A blob pixel's horizontal neighbour is mostly a hole too (2/3 in a 3-wide square).
    pairs = mask[:, 1:] & mask[:, :-1]
    assert pairs.sum() > 0.5 * mask.sum()


def test_no_return_stays_no_return():
    depth = _box_on_plane(0.6, 0.9)
    depth[:, :100] = 0.0
    for name in ("d435", "l515"):
        _, noisy = _model(name).apply(GREY, depth, frame_index=0)
        assert np.all(noisy[:, :100] == 0.0)
        assert noisy.dtype == np.float32 and noisy.shape == depth.shape


# ---- seeding ----


def test_same_seed_same_images_whatever_came_before_and_frames_differ():
    rgb = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    depth = _box_on_plane(0.6, 0.85)
    first = _model("d435").apply(rgb, depth, frame_index=5)
    busy = _model("d435")
    for frame in range(3):
        busy.apply(rgb, depth, frame_index=frame)
    again = busy.apply(rgb, depth, frame_index=5)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    other_frame = busy.apply(rgb, depth, frame_index=6)
    assert not np.array_equal(first[0], other_frame[0])
    assert not np.array_equal(first[1], other_frame[1])
    other_camera = _model("d435", camera_index=1).apply(rgb, depth, frame_index=5)
    assert not np.array_equal(first[1], other_camera[1])
    assert scene_sensor_seed(0, 1) != scene_sensor_seed(0, 2)
    assert scene_sensor_seed(3, 1) == scene_sensor_seed(3, 1)


def test_ideal_returns_the_very_same_arrays():
    rgb, depth = GREY.copy(), _box_on_plane(0.6, 0.8)
    out_rgb, out_depth = _model("ideal").apply(rgb, depth, frame_index=9)
    assert out_rgb is rgb and out_depth is depth


def test_mismatched_inputs_are_refused():
    model = _model("d435")
    with pytest.raises(ValueError, match="match"):
        model.apply(GREY, _plane(0.8)[:, :-1], 0)
    with pytest.raises(ValueError, match="float32"):
        model.apply(GREY, _plane(0.8).astype(np.float64), 0)


# ---- colour ----


def test_colour_gains_lie_in_the_profiles_ranges():
    profile = SENSOR_PROFILES["d435"]
    low, high = profile.exposure_gain_range
    balance = profile.white_balance_error
    draws = [_model("d435", seed=s, camera_index=c).draws for s in range(50) for c in (0, 1)]
    gains = np.array([d.exposure_gain for d in draws])
    balances = np.array([d.white_balance for d in draws])
    assert np.all((gains >= low) & (gains <= high))
    assert np.all((balances >= 1 - balance) & (balances <= 1 + balance))
    assert gains.max() - gains.min() > 0.5 * (high - low)  # drawn, not constant

    level = 100
    grey = np.full((HEIGHT, WIDTH, 3), level, dtype=np.uint8)
    for seed in range(5):
        model = _model("d435", seed=seed)
        rgb, _ = model.apply(grey, _plane(0.8), frame_index=seed)
        assert rgb.dtype == np.uint8 and rgb.shape == grey.shape
        means = rgb.reshape(-1, 3).mean(axis=0) / level
        nominal = model.draws.exposure_gain * np.array(model.draws.white_balance)
        jitter = profile.exposure_jitter
        # Channel mean / level = gain x balance x jitter, to within the rounding of 8 bits.
        assert np.all(means >= nominal * (1 - jitter) - 0.006)
        assert np.all(means <= nominal * (1 + jitter) + 0.006)
        residual = rgb.reshape(-1, 3).astype(np.float64) - rgb.reshape(-1, 3).mean(axis=0)
        # Integer Gaussian noise: variance sigma^2 + 1/12 (the gain's rounding adds none here).
        expected = math.sqrt(profile.color_noise_sigma_levels**2 + 1 / 12)
        assert residual.std(axis=0) == pytest.approx(expected, rel=0.05)


def test_colour_saturates_instead_of_wrapping():
    white = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    rgb, _ = _model("d435").apply(white, _plane(0.8), frame_index=0)
    assert rgb.min() > 200  # no wrap-around to dark values


def test_gaussian_noise_is_standard_normal():
    raw = gaussian_noise(np.random.default_rng(1), (1000, 1000))
    assert raw.dtype == np.float32
    samples = raw.astype(np.float64)
    assert abs(samples.mean()) < 0.01
    assert samples.std() == pytest.approx(1.0, rel=0.005)
    assert np.mean(np.abs(samples) > 2.0) == pytest.approx(0.0455, rel=0.05)


# ---- frame drops ----


def test_frame_drops_are_seeded_and_at_the_configured_rate():
    dropped = [frame_dropped(0.3, seed=4, camera_index=1, frame_index=i) for i in range(4000)]
    # Standard error sqrt(0.3 * 0.7 / 4000) = 0.007.
    assert np.mean(dropped) == pytest.approx(0.3, abs=0.035)
    again = [frame_dropped(0.3, seed=4, camera_index=1, frame_index=i) for i in range(4000)]
    assert dropped == again
    other = [frame_dropped(0.3, seed=4, camera_index=0, frame_index=i) for i in range(4000)]
    assert dropped != other
    assert not any(frame_dropped(0.0, seed=4, camera_index=0, frame_index=i) for i in range(100))


# ---- lighting (no MuJoCo) ----


def test_planckian_locus_and_colour_temperature_multipliers():
    # Reference chromaticities of the Planckian locus (CIE 1931).
    assert planckian_xy(6500.0) == pytest.approx((0.3135, 0.3237), abs=2e-3)
    assert planckian_xy(3500.0) == pytest.approx((0.4053, 0.3907), abs=2e-3)
    np.testing.assert_allclose(color_temperature_rgb(NOMINAL_TEMPERATURE_K), 1.0, atol=1e-12)
    warm, cold = color_temperature_rgb(3500.0), color_temperature_rgb(9500.0)
    assert warm[0] > warm[1] > warm[2] and cold[2] > cold[1] > cold[0]
    weights = np.array([0.2126, 0.7152, 0.0722])
    assert float(weights @ warm) == pytest.approx(1.0) and float(weights @ cold) == pytest.approx(
        1.0
    )


def test_lighting_variation_zero_is_the_fixed_lighting():
    lighting = scene_lighting(0.0, scene_seed=5, sensor_seed=3)
    assert lighting == NOMINAL_LIGHTING
    assert lighting.ceiling_pos_m == (0.5, 0.0, 2.0)
    assert lighting.ceiling_dir == (0.0, 0.0, -1.0)
    assert lighting.ceiling_diffuse == (0.6, 0.6, 0.6)
    assert lighting.headlight_ambient == (0.35, 0.35, 0.35)
    assert lighting.headlight_diffuse == (0.3, 0.3, 0.3)


@pytest.mark.parametrize("variation", [0.3, 1.0])
def test_lighting_variation_is_seeded_and_within_its_ranges(variation):
    draws = [scene_lighting(variation, scene_seed=s, sensor_seed=1) for s in range(200)]
    assert draws[7] == scene_lighting(variation, scene_seed=7, sensor_seed=1)
    assert draws[7] != scene_lighting(variation, scene_seed=7, sensor_seed=2)
    assert len({d.ceiling_dir for d in draws}) == len(draws)
    for lighting in draws:
        direction = np.array(lighting.ceiling_dir)
        assert np.linalg.norm(direction) == pytest.approx(1.0)
        tilt_deg = math.degrees(math.acos(-direction[2]))
        assert tilt_deg == pytest.approx(lighting.tilt_deg, abs=1e-9)
        assert tilt_deg <= MAX_TILT_DEG * variation + 1e-9
        # Aimed at the workspace from 2 m, like the fixed light.
        aim = np.array(lighting.ceiling_pos_m) + 2.0 * direction
        np.testing.assert_allclose(aim, [0.5, 0.0, 0.0], atol=1e-12)
        spread_k = TEMPERATURE_SPREAD_K * variation
        assert abs(lighting.color_temperature_k - NOMINAL_TEMPERATURE_K) <= spread_k
        assert abs(lighting.intensity - 1.0) <= INTENSITY_SPREAD * variation
        light = lighting.intensity * color_temperature_rgb(lighting.color_temperature_k)
        expected = 0.6 * light / max(1.0, float(light.max()))  # auto-exposure: never brighter
        np.testing.assert_allclose(lighting.ceiling_diffuse, expected, rtol=1e-12)
        assert max(lighting.ceiling_diffuse) <= 0.6 + 1e-12  # than the nominal light per channel
        headlight = np.array(lighting.headlight_diffuse) / 0.3
        np.testing.assert_allclose(headlight, np.array(lighting.ceiling_diffuse) / 0.6, rtol=1e-9)
    temperatures = [d.color_temperature_k for d in draws]
    assert max(temperatures) - min(temperatures) > TEMPERATURE_SPREAD_K * variation  # spread out


# ---- in the MuJoCo cell ----


def _rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(Rotation.from_matrix(a[:3, :3] @ b[:3, :3].T).magnitude())


@pytest.fixture(scope="module")
def default_cell():
    from a2_grasping.sim.cell import SimCell

    cell = SimCell(SimConfig())
    yield cell
    cell.close()


@pytest.fixture(scope="module")
def realistic_cell():
    from a2_grasping.sim.cell import SimCell

    config = SimConfig(
        sensor_profile="d435",
        sensor_seed=3,
        calibration_error_m=0.02,
        calibration_error_deg=1.5,
        calibration_seed=11,
        lighting_variation=0.8,
    )
    cell = SimCell(config)
    yield cell
    cell.close()


@pytest.mark.sim
def test_default_cell_renders_ideal_images_from_the_nominal_poses(default_cell):
    cell = default_cell
    for camera in cell.cameras:
        rgb, depth = cell.render(camera.name)
        ideal_rgb, ideal_depth = cell.render_ideal(camera.name)
        assert np.array_equal(rgb, ideal_rgb) and np.array_equal(depth, ideal_depth)
        rendered = cell.rendered_base_from_optical(camera.name)
        np.testing.assert_allclose(rendered, camera.base_from_optical_matrix, atol=1e-6)
    assert cell.cameras == cell.config.cameras() == cell.config.rendered_cameras()


@pytest.mark.sim
def test_default_cell_keeps_the_fixed_lights(default_cell):
    model = default_cell.model
    light = model.light("ceiling")
    np.testing.assert_array_equal(light.pos, [0.5, 0.0, 2.0])
    np.testing.assert_array_equal(light.dir, [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(light.diffuse, np.float32([0.6, 0.6, 0.6]))
    np.testing.assert_array_equal(model.vis.headlight.ambient, np.float32([0.35] * 3))
    np.testing.assert_array_equal(model.vis.headlight.diffuse, np.float32([0.3] * 3))


@pytest.mark.sim
def test_cameras_are_rendered_from_the_perturbed_pose_and_published_nominal(realistic_cell):
    cell = realistic_cell
    nominal = SimConfig().cameras()
    assert cell.cameras == nominal  # what perception is told: poses and intrinsics
    moves = []
    for camera in cell.cameras:
        rendered = cell.rendered_base_from_optical(camera.name)
        offset_m = rendered[:3, 3] - camera.base_from_optical_matrix[:3, 3]
        assert np.linalg.norm(offset_m) == pytest.approx(0.02, abs=1e-6)
        assert _rotation_angle_deg(rendered, camera.base_from_optical_matrix) == pytest.approx(
            1.5, abs=1e-3
        )
        moves.append(offset_m)
    assert np.linalg.norm(moves[0] - moves[1]) > 1e-3  # each camera its own error


@pytest.mark.sim
def test_realistic_cell_lights_and_sensor_follow_the_config(realistic_cell):
    cell = realistic_cell
    expected = scene_lighting(0.8, scene_seed=cell.seed, sensor_seed=3)
    assert cell.lighting == expected
    light = cell.model.light("ceiling")
    np.testing.assert_allclose(light.dir, expected.ceiling_dir, atol=1e-6)
    np.testing.assert_allclose(light.pos, expected.ceiling_pos_m, atol=1e-6)
    np.testing.assert_allclose(light.diffuse, expected.ceiling_diffuse, rtol=1e-6)
    np.testing.assert_allclose(cell.model.vis.headlight.ambient, expected.headlight_ambient)

    name = cell.cameras[0].name
    ideal_rgb, ideal_depth = cell.render_ideal(name)
    rgb, depth = cell.render(name)
    assert rgb.dtype == np.uint8 and depth.dtype == np.float32
    valid = (depth > 0.0) & (ideal_depth > 0.0)
    assert 0.9 * (ideal_depth > 0).sum() < valid.sum() < (ideal_depth > 0).sum()
    residual_m = depth[valid] - ideal_depth[valid]
    assert 0.0 < np.median(np.abs(residual_m)) < 0.01
    assert not np.array_equal(rgb, ideal_rgb)
    _, next_depth = cell.render(name)  # the next frame: new noise
    assert not np.array_equal(depth, next_depth)


@pytest.mark.sim
def test_each_scene_draws_its_own_sensor_errors_and_lights(realistic_cell):
    cell = realistic_cell
    before = cell.lighting, cell.sensors[cell.cameras[0].name].draws
    cell.reset(cell.seed + 1, cell.scene)
    after = cell.lighting, cell.sensors[cell.cameras[0].name].draws
    assert before[0] != after[0] and before[1] != after[1]
    # Calibration is the cell's, not the scene's: the cameras stay where they were.
    moved = cell.rendered_base_from_optical(cell.cameras[0].name)
    cell.reset(cell.seed - 1, cell.scene)
    np.testing.assert_allclose(cell.rendered_base_from_optical(cell.cameras[0].name), moved)


def test_technology_names():
    assert {p.technology for p in SENSOR_PROFILES.values()} == {t.value for t in DepthTechnology}
