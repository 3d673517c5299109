"""RGB-D sensor profiles: what a real RealSense adds to the simulator's perfect images.

Why: every success figure is reported for the ideal sensor and for a realistic one (DESIGN §8);
a grasp stack tuned on exact depth fails on the noise, the missing pixels and the flying pixels a
real camera delivers. `SensorModel.apply` turns one perfect render (colour + aligned depth in
metres, 0 = no return) into what a camera of the chosen `SensorProfile` would publish.

Effects, in order (each documented at its function):
a. depth scale error, constant per camera (a stereo pair's calibrated baseline / a ToF's range
   offset is off by a few tenths of a percent);
b. axial noise: stereo sigma_z = z^2 sigma_d / (f B) (Intel's depth RMS error formula), ToF
   sigma_z = sigma_0 + k z;
c. stereo occlusion band: background pixels the second imager cannot see read 0;
d. flying pixels: edge pixels take a depth between foreground and background;
e. holes: scattered small blobs of invalid pixels, and more of them on dark surfaces;
f. colour: auto-exposure gain and white balance per camera and scene, exposure jitter per
   frame, Gaussian sensor noise.

Not modelled: spatially correlated stereo noise (block matching correlates neighbouring pixels;
here noise is independent per pixel), depth quantisation in disparity steps, the invalid band at
the depth image's left border (after alignment to the narrower colour field of view it lies
mostly outside the image), IR projector texture, motion blur, rolling shutter, and auto white
balance undoing the light's colour (the white balance error here is independent of the
lighting variation in `lighting.py`).

Randomness: per-frame draws come from `np.random.default_rng([seed, camera_index,
frame_index])`, per-camera constants from `np.random.default_rng([seed, camera_index])`; the same
seed gives the same images whatever was rendered before.

Cost (`SensorModel.apply`, d435 profile, 640x480): median 13 ms per camera frame on a rendered
clutter scene (12-14 ms on synthetic boxes on a plane), so about 27 ms per pair of cameras, on an
"Intel(R) Xeon(R) Processor" (lscpu's model name; 2 cores shared with other jobs); rendering
the frame takes ~38 ms. The ideal profile costs nothing (the inputs are returned as they are).
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from a2_grasping.core.config_fields import config_field, validate_ranges

# Keeps the frame-drop stream apart from the noise stream of the same camera and frame.
_DROP_STREAM = 0x0D40
# Gaussian noise by inverse-CDF lookup of 16-bit uniform draws (see gaussian_noise).
_NORMAL_TABLE_SIZE = 1 << 16


class DepthTechnology(StrEnum):
    """How the depth is measured, which decides the noise model and the edge artefacts."""

    IDEAL = "ideal"  # the render itself
    STEREO = "stereo"  # active IR stereo (RealSense D4xx): noise ~ z^2, occlusion band
    TOF = "tof"  # LiDAR / time of flight (RealSense L515): noise ~ constant, no occlusion band


@dataclass(frozen=True)
class SensorProfile:
    """One camera model's error magnitudes (all zero / off for the ideal sensor)."""

    name: str = config_field("ideal", "Profile name (the key in SENSOR_PROFILES).")
    technology: str = config_field(
        "ideal", "How depth is measured: 'ideal', 'stereo' or 'tof' (DepthTechnology)."
    )
    baseline_m: float = config_field(
        0.0, "Stereo baseline between the two IR imagers (stereo only).", min_value=0.0
    )
    disparity_noise_px: float = config_field(
        0.0,
        "RMS subpixel disparity error sigma_d of the stereo matcher (stereo only).",
        min_value=0.0,
        max_value=2.0,
    )
    tof_noise_floor_m: float = config_field(
        0.0, "ToF axial noise sigma at zero range, sigma_0 (tof only).", min_value=0.0
    )
    tof_noise_fraction: float = config_field(
        0.0, "ToF axial noise growth k: sigma_z = sigma_0 + k z (tof only).", min_value=0.0
    )
    depth_scale_sigma: float = config_field(
        0.0,
        "Standard deviation of the per-camera depth scale error (fraction of z).",
        min_value=0.0,
        max_value=0.05,
    )
    max_disparity_jump_px: int = config_field(
        64,
        "Occlusion search reach: disparity jumps beyond this many pixels are cut off.",
        min_value=1,
        max_value=512,
    )
    flying_pixel_threshold_m: float = config_field(
        0.02,
        "A depth jump between 4-neighbours larger than this makes both of them edge pixels.",
        min_value=0.0,
    )
    flying_pixel_fraction: float = config_field(
        0.0,
        "Fraction of the (still valid) edge pixels that read a depth between the two sides.",
        min_value=0.0,
        max_value=1.0,
    )
    hole_fraction: float = config_field(
        0.0,
        "Expected fraction of pixels invalid in scattered blobs (before dark-surface holes).",
        min_value=0.0,
        max_value=0.5,
    )
    hole_blob_px: int = config_field(
        3, "Edge of the square blobs the scattered holes come in.", min_value=1, max_value=15
    )
    dark_luminance: float = config_field(
        0.0,
        "Pixels whose colour luminance (0..1, Rec. 601 weights) is below this are 'dark'.",
        min_value=0.0,
        max_value=1.0,
    )
    dark_invalid_probability: float = config_field(
        0.0,
        "Extra probability that a dark pixel reads 0 (dark surfaces return little IR).",
        min_value=0.0,
        max_value=1.0,
    )
    exposure_gain_range: tuple[float, float] = config_field(
        (1.0, 1.0), "Auto-exposure gain per camera and scene, drawn uniformly in this range."
    )
    white_balance_error: float = config_field(
        0.0,
        "White balance: each channel's multiplier is drawn uniformly in 1 +- this.",
        min_value=0.0,
        max_value=0.5,
    )
    exposure_jitter: float = config_field(
        0.0, "Per-frame exposure jitter: gain x U(1 - j, 1 + j).", min_value=0.0, max_value=0.5
    )
    color_noise_sigma_levels: float = config_field(
        0.0,
        "Gaussian colour sensor noise sigma in 8-bit levels (of 255).",
        min_value=0.0,
        max_value=64.0,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "exposure_gain_range", tuple(self.exposure_gain_range))
        validate_ranges(self)
        technology = DepthTechnology(self.technology)  # ValueError naming the bad value
        low, high = self.exposure_gain_range
        if not 0.0 < low <= high:
            raise ValueError(
                f"exposure_gain_range {self.exposure_gain_range}: need 0 < low <= high"
            )
        if technology is DepthTechnology.STEREO and self.baseline_m <= 0.0:
            raise ValueError(f"profile {self.name!r}: a stereo profile needs baseline_m > 0")

    @property
    def is_ideal(self) -> bool:
        """True when the profile changes nothing (apply returns its inputs)."""
        return (
            self.technology == DepthTechnology.IDEAL
            and self.depth_scale_sigma == 0.0
            and self.flying_pixel_fraction == 0.0
            and self.hole_fraction == 0.0
            and self.dark_invalid_probability == 0.0
            and self.exposure_gain_range == (1.0, 1.0)
            and self.white_balance_error == 0.0
            and self.exposure_jitter == 0.0
            and self.color_noise_sigma_levels == 0.0
        )

    def depth_sigma_m(
        self, depth_m: NDArray[np.float32] | float, focal_px: float
    ) -> NDArray[np.float64]:
        """Axial noise sigma at depth z: stereo z^2 sigma_d / (f B), tof sigma_0 + k z."""
        z = np.asarray(depth_m, dtype=np.float64)
        technology = DepthTechnology(self.technology)
        if technology is DepthTechnology.STEREO:
            return z * z * self.disparity_noise_px / (focal_px * self.baseline_m)
        if technology is DepthTechnology.TOF:
            return self.tof_noise_floor_m + self.tof_noise_fraction * z
        return np.zeros_like(z)


# The RealSense D4xx family. Sources:
# - Intel, "Tuning depth cameras for best performance" (Grunnet-Jepsen et al., RealSense D400
#   white paper): depth RMS error = z^2 * subpixel / (f_px * baseline), subpixel 0.05-0.1 px for
#   a well-textured scene; 0.08 here. Baselines from the D400 series datasheet: D435 50 mm,
#   D415 55 mm, D455 95 mm.
# - Depth scale error: a few tenths of a percent after factory calibration (the datasheet's
#   absolute accuracy of <= 2 % at 2 m is an upper bound); sigma 0.2 % per camera here.
# - Holes and flying pixels: magnitudes typical of D4xx depth of table-top scenes, not datasheet
#   figures: 0.7 % scattered invalid pixels in 3-px blobs, dark surfaces (luma < 8 %) 15 % more
#   likely invalid, 20 % of the pixels bordering a > 2 cm jump mixed between the two depths.
# - Colour: auto exposure and auto white balance settle differently per camera and scene
#   (gain 0.85-1.15, channels +-6 %), small frame-to-frame exposure flicker (+-2 %), sensor noise
#   about 3 levels of 255 in indoor light.
# With the cell's aligned focal length f = 579 px (640x480, fovy 45°), a D435 at z = 0.8 m has
# sigma_z = 0.64 * 0.08 / (579 * 0.05) = 1.77 mm. (The real depth imager at 848x480 has
# f ~ 425 px, 36 % more noise; the model uses the aligned image's f, as the cell renders depth
# in the colour camera.)
_D435 = SensorProfile(
    name="d435",
    technology="stereo",
    baseline_m=0.050,
    disparity_noise_px=0.08,
    depth_scale_sigma=0.002,
    flying_pixel_threshold_m=0.02,
    flying_pixel_fraction=0.2,
    hole_fraction=0.007,
    hole_blob_px=3,
    dark_luminance=0.08,
    dark_invalid_probability=0.15,
    exposure_gain_range=(0.85, 1.15),
    white_balance_error=0.06,
    exposure_jitter=0.02,
    color_noise_sigma_levels=3.0,
)

SENSOR_PROFILES: dict[str, SensorProfile] = {
    "ideal": SensorProfile(name="ideal"),
    "d435": _D435,
    "d415": replace(_D435, name="d415", baseline_m=0.055),
    # Nearly twice the D435's baseline: about half its noise at the same range, wider bands.
    "d455": replace(_D435, name="d455", baseline_m=0.095),
    # L515: solid-state LiDAR (time of flight). Noise nearly constant with range (the L515
    # datasheet quotes millimetre-level precision over its range); modelled as
    # sigma = 1 mm + 0.1 % of z. One emitter/receiver axis: no stereo occlusion band, but a
    # pixel's footprint mixes the returns of foreground and background at edges: more flying
    # pixels (40 %).
    "l515": replace(
        _D435,
        name="l515",
        technology="tof",
        baseline_m=0.0,
        disparity_noise_px=0.0,
        tof_noise_floor_m=0.001,
        tof_noise_fraction=0.001,
        flying_pixel_fraction=0.4,
    ),
}


def sensor_profile(name: str) -> SensorProfile:
    """The named profile.

    Raises:
        ValueError: naming the known profiles.
    """
    try:
        return SENSOR_PROFILES[name]
    except KeyError:
        known = ", ".join(repr(n) for n in SENSOR_PROFILES)
        raise ValueError(f"unknown sensor profile {name!r}; use one of {known}") from None


def scene_sensor_seed(sensor_seed: int, scene_seed: int) -> int:
    """One seed from the sensor seed and the scene seed, so each scene has its own draws."""
    return int(np.random.SeedSequence([sensor_seed, scene_seed]).generate_state(1)[0])


def frame_dropped(drop_rate: float, *, seed: int, camera_index: int, frame_index: int) -> bool:
    """Whether this camera's frame is lost (USB bandwidth, driver hiccups), seeded per frame."""
    if drop_rate <= 0.0:
        return False
    rng = np.random.default_rng([seed, camera_index, frame_index, _DROP_STREAM])
    return bool(rng.random() < drop_rate)


@dataclass(frozen=True)
class CameraDraws:
    """What stays constant for one camera and scene: depth scale, exposure gain, white balance
    (red, green, blue multipliers)."""

    depth_scale: float
    exposure_gain: float
    white_balance: tuple[float, float, float]


class SensorModel:
    """One camera's sensor: turns perfect renders into what that camera would publish."""

    def __init__(
        self, profile: SensorProfile, *, seed: int, camera_index: int, focal_px: float
    ) -> None:
        if not focal_px > 0.0:
            raise ValueError(f"focal_px must be positive, got {focal_px}")
        self.profile = profile
        self.seed, self.camera_index, self.focal_px = seed, camera_index, focal_px
        self._technology = DepthTechnology(profile.technology)
        rng = np.random.default_rng([seed, camera_index])
        balance = rng.uniform(
            1.0 - profile.white_balance_error, 1.0 + profile.white_balance_error, 3
        )
        self.draws = CameraDraws(
            depth_scale=float(1.0 + profile.depth_scale_sigma * rng.standard_normal()),
            exposure_gain=float(rng.uniform(*profile.exposure_gain_range)),
            white_balance=(float(balance[0]), float(balance[1]), float(balance[2])),
        )
        self._color_noise_levels = np.rint(
            profile.color_noise_sigma_levels * _normal_quantiles()
        ).astype(np.int16)

    def apply(
        self, rgb: NDArray[np.uint8], depth_m: NDArray[np.float32], frame_index: int
    ) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """(rgb, depth_m) as this camera would publish them for frame `frame_index`.

        `depth_m` is 0 where there is no return; such pixels stay 0. The ideal profile returns
        the very same arrays.

        Raises:
            ValueError: for mismatched shapes or wrong dtypes.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != depth_m.shape:
            raise ValueError(f"rgb {rgb.shape} and depth {depth_m.shape} do not match")
        if rgb.dtype != np.uint8 or depth_m.dtype != np.float32:
            raise ValueError(
                f"expected uint8 rgb and float32 depth, got {rgb.dtype}, {depth_m.dtype}"
            )
        if self.profile.is_ideal:
            return rgb, depth_m
        rng = np.random.default_rng([self.seed, self.camera_index, frame_index])
        jitter = rng.uniform(1.0 - self.profile.exposure_jitter, 1.0 + self.profile.exposure_jitter)
        depth = self._depth(rgb, depth_m, rng)
        return self._color(rgb, float(jitter), rng), depth

    # ---- depth ----

    def _depth(
        self, rgb: NDArray[np.uint8], depth_m: NDArray[np.float32], rng: np.random.Generator
    ) -> NDArray[np.float32]:
        profile = self.profile
        valid = depth_m > 0.0
        true_m = depth_m * np.float32(self.draws.depth_scale)  # (a); 0 stays 0
        noisy = self._noisy(true_m, valid, rng)  # (b)
        invalid = np.zeros(depth_m.shape, dtype=bool)
        if self._technology is DepthTechnology.STEREO:  # (c)
            invalid |= stereo_occlusion_mask(
                true_m,
                self.focal_px * profile.baseline_m,
                profile.max_disparity_jump_px,
            )
        if profile.flying_pixel_fraction > 0.0:  # (d)
            _add_flying_pixels(noisy, true_m, valid & ~invalid, profile, rng)
        if profile.hole_fraction > 0.0:  # (e)
            invalid |= hole_mask(depth_m.shape, profile.hole_fraction, profile.hole_blob_px, rng)
        if profile.dark_invalid_probability > 0.0:
            dark = np.flatnonzero(_luminance(rgb) < profile.dark_luminance)
            lost = dark[rng.random(dark.size) < profile.dark_invalid_probability]
            invalid.ravel()[lost] = True
        noisy[invalid] = 0.0
        return noisy

    def _noisy(
        self, true_m: NDArray[np.float32], valid: NDArray[np.bool_], rng: np.random.Generator
    ) -> NDArray[np.float32]:
        """(b) Axial noise: per-pixel Gaussian with the profile's sigma(z)."""
        profile = self.profile
        if self._technology is DepthTechnology.STEREO and profile.disparity_noise_px > 0.0:
            # sigma_z = z^2 sigma_d / (f B): disparity d = f B / z has an error sigma_d, and
            # dz = z^2 / (f B) dd. Zero depth stays zero (its sigma is 0).
            per_m2 = np.float32(profile.disparity_noise_px / (self.focal_px * profile.baseline_m))
            noise = gaussian_noise(rng, true_m.shape)
            noise *= true_m
            noise *= true_m
            noise *= per_m2
            noise += true_m
            return noise
        if self._technology is DepthTechnology.TOF and (
            profile.tof_noise_floor_m > 0.0 or profile.tof_noise_fraction > 0.0
        ):
            noise = gaussian_noise(rng, true_m.shape)
            sigma_m = true_m * np.float32(profile.tof_noise_fraction)
            sigma_m += np.float32(profile.tof_noise_floor_m)
            noise *= sigma_m
            noise += true_m
            noise[~valid] = 0.0
            return noise
        return true_m.copy()

    # ---- colour ----

    def _color(
        self, rgb: NDArray[np.uint8], jitter: float, rng: np.random.Generator
    ) -> NDArray[np.uint8]:
        """(f) Exposure gain x white balance x per-frame jitter, then sensor noise, in 8 bits.

        In integers, for speed: each channel goes through a 256-entry table of
        round(level x gain), then gets integer Gaussian noise round(sigma n) (variance
        sigma^2 + 1/12), and is clipped to 0..255. Within a level of the float computation.
        """
        gains = np.array(self.draws.white_balance, dtype=np.float64)
        gains *= self.draws.exposure_gain * jitter
        levels = np.arange(256, dtype=np.float64)
        table = np.rint(gains[:, None] * levels[None, :]).astype(np.int16)  # (3, 256)
        out = np.empty(rgb.shape, dtype=np.int16)
        for channel in range(3):
            np.take(table[channel], rgb[..., channel], out=out[..., channel])
        if self.profile.color_noise_sigma_levels > 0.0:
            index = rng.integers(0, _NORMAL_TABLE_SIZE, size=rgb.shape, dtype=np.uint16)
            out += np.take(self._color_noise_levels, index)
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)


def stereo_occlusion_mask(
    depth_m: NDArray[np.float32], focal_baseline_px_m: float, max_jump_px: int
) -> NDArray[np.bool_]:
    """Valid pixels the second (right) imager of a left-origin stereo pair cannot see.

    Why the band is where it is: a D4xx computes depth in its left imager; the right imager
    sits the baseline B to the right (+x optical). A point at column u with disparity
    d = f B / z appears in the right image at u - d. A nearer point at column u + k (k >= 1)
    with disparity d' appears at u + k - d', which is at or left of u - d exactly when
    d' - d >= k: the nearer surface then hides the point from the right imager, there is no
    match, and the pixel reads 0. So a foreground hides background pixels on its LEFT only,
    and the band is as wide as the disparity jump, f B (1/z_near - 1/z_far) px: 2.4 px for a
    D435 (f 579 px, B 50 mm) at 0.75 m in front of 0.8 m, 12 px for a box top at 0.6 m in
    front of a table at 0.8 m.

    Vectorised with doubling instead of one shift per k: reach_m(u) = max over k = 1..m of
    d(u + k) - k satisfies reach_2m(u) = max(reach_m(u), reach_m(u + m) - m), so log2(K)
    whole-image steps cover every k up to K (= the largest disparity jump in the image,
    capped at `max_jump_px`). A pixel is occluded when reach_K(u) >= d(u).
    """
    valid = depth_m > 0.0
    if not valid.any():
        return valid
    disparity = np.zeros(depth_m.shape, dtype=np.float32)
    np.divide(np.float32(focal_baseline_px_m), depth_m, out=disparity, where=valid)
    spread_px = float(disparity.max() - disparity[valid].min())
    reach_px = min(max_jump_px, math.ceil(spread_px))
    if reach_px < 1:
        return np.zeros(depth_m.shape, dtype=bool)
    reach = np.full(depth_m.shape, -np.inf, dtype=np.float32)
    np.subtract(disparity[:, 1:], np.float32(1.0), out=reach[:, :-1])
    step = 1
    while step < reach_px:
        shifted = reach[:, step:] - np.float32(step)
        np.maximum(reach[:, :-step], shifted, out=reach[:, :-step])
        step *= 2
    return valid & (reach >= disparity)


def _add_flying_pixels(
    noisy_m: NDArray[np.float32],
    true_m: NDArray[np.float32],
    candidates: NDArray[np.bool_],
    profile: SensorProfile,
    rng: np.random.Generator,
) -> None:
    """(d) Flying pixels: some pixels next to a depth jump read a depth between its two sides.

    Why: a stereo matcher's window (or a ToF pixel's footprint) straddles the edge and averages
    the two surfaces. An edge pixel is a valid pixel with a valid 4-neighbour more than the
    threshold nearer or farther: the first pixel on each side of a jump. A fraction of the
    candidate edge pixels reads lo + t (hi - lo), t ~ U(0, 1), lo and hi the nearest and
    farthest valid depth of its 3x3 neighbourhood.
    """
    height, width = true_m.shape
    with_gaps = np.where(true_m > 0.0, true_m, np.float32(np.nan))  # NaN compares false
    edge = np.zeros(true_m.shape, dtype=bool)
    jump = np.abs(with_gaps[:, 1:] - with_gaps[:, :-1]) > profile.flying_pixel_threshold_m
    edge[:, 1:] |= jump
    edge[:, :-1] |= jump
    jump = np.abs(with_gaps[1:] - with_gaps[:-1]) > profile.flying_pixel_threshold_m
    edge[1:] |= jump
    edge[:-1] |= jump
    edge &= candidates
    pixels = np.flatnonzero(edge)
    chosen = pixels[rng.random(pixels.size) < profile.flying_pixel_fraction]
    share = rng.random(chosen.size).astype(np.float32)
    offsets = np.array([-1, 0, 1])
    rows = np.clip((chosen // width)[:, None, None] + offsets[None, :, None], 0, height - 1)
    cols = np.clip((chosen % width)[:, None, None] + offsets[None, None, :], 0, width - 1)
    window = with_gaps[rows, cols].reshape(chosen.size, 9)  # never all NaN: the pixel is valid
    low_m, high_m = np.nanmin(window, axis=1), np.nanmax(window, axis=1)
    noisy_m.ravel()[chosen] = low_m + share * (high_m - low_m)


def hole_mask(
    shape: tuple[int, ...], fraction: float, blob_px: int, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """(e) Scattered holes: blob_px x blob_px squares around random seed pixels.

    A pixel is covered when a seed lies in the blob_px^2 window around it, so seeding each
    pixel with p = 1 - (1 - fraction)^(1 / blob_px^2) covers `fraction` of the image (less a
    little at the borders). The seeds are a binomial count of random positions (the same
    distribution as one draw per pixel up to O(p^2) coincidences, and far cheaper), and each
    square is set directly: a dilation of the seeds without a whole-image filter.
    """
    height, width = shape
    seed_probability = 1.0 - (1.0 - fraction) ** (1.0 / blob_px**2)
    count = int(rng.binomial(height * width, seed_probability))
    seeds = rng.integers(0, height * width, count)
    offsets = np.arange(blob_px) - (blob_px - 1) // 2
    rows = (seeds // width)[:, None, None] + offsets[None, :, None]
    cols = (seeds % width)[:, None, None] + offsets[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    mask = np.zeros((height, width), dtype=bool)
    mask[rows[inside], cols[inside]] = True
    return mask


def gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.float32]:
    """Standard normal float32 samples, about 4x faster than `rng.standard_normal`.

    Why: a colour frame needs 0.9 M samples a frame; the ziggurat took 10 ms of the frame budget
    on the reference CPU. A uniform 16-bit index into the normal distribution's 65536 quantiles
    (at (i + 0.5) / 65536) is inverse-CDF sampling at 16-bit resolution: unit variance to
    1e-5, tails cut at 4.3 sigma (a 1.5e-5 probability), far below what images resolve.
    """
    index = rng.integers(0, _NORMAL_TABLE_SIZE, size=shape, dtype=np.uint16)
    samples: NDArray[np.float32] = np.take(_normal_quantiles(), index)
    return samples


@functools.cache
def _normal_quantiles() -> NDArray[np.float32]:
    normal = statistics.NormalDist()
    return np.array(
        [normal.inv_cdf((i + 0.5) / _NORMAL_TABLE_SIZE) for i in range(_NORMAL_TABLE_SIZE)],
        dtype=np.float32,
    )


def _luminance(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Rec. 601 luma in 0..1 (integer weights 77/150/29 of 256: exact enough, and fast)."""
    luma = rgb[..., 0].astype(np.uint16) * np.uint16(77)
    luma += rgb[..., 1].astype(np.uint16) * np.uint16(150)
    luma += rgb[..., 2].astype(np.uint16) * np.uint16(29)
    return luma.astype(np.float32) * np.float32(1.0 / (256.0 * 255.0))
