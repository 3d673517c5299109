"""The cell's lights: today's fixed lab lighting, or a seeded variation per scene.

Why: colour grounding ("the red block") and the CLIP features see object colours through the
light; a real lab's light differs from room to room (warm LEDs, daylight through a window,
a lamp off to one side). With `lighting_variation` v > 0 each scene draws its own ceiling light:
- direction tilted from vertical by up to 35° x v (any azimuth), aimed at the workspace centre
  from 2 m away as the fixed light is;
- colour temperature 6500 K +- 3000 K x v (3500 K warm lab LEDs .. 9500 K overcast daylight),
  as RGB multipliers relative to 6500 K with the luminance kept;
- intensity x (1 +- 0.3 v), with no channel brighter than the nominal light (auto-exposure:
  the table would clip otherwise).
The headlight (MuJoCo's camera-attached fill light, our room light) takes the same colour and
intensity. v = 0 is the fixed lighting exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vector3 = tuple[float, float, float]

# The fixed lighting (as the cell had it before the variation existed).
_CEILING_POS_M: Vector3 = (0.5, 0.0, 2.0)
_CEILING_DIR: Vector3 = (0.0, 0.0, -1.0)
_CEILING_DIFFUSE: Vector3 = (0.6, 0.6, 0.6)
_HEADLIGHT_AMBIENT: Vector3 = (0.35, 0.35, 0.35)
_HEADLIGHT_DIFFUSE: Vector3 = (0.3, 0.3, 0.3)
# The ceiling light aims here from this distance, tilted or not.
_AIM_POINT_M = np.array([0.5, 0.0, 0.0])
_LIGHT_DISTANCE_M = 2.0

MAX_TILT_DEG = 35.0  # at v = 1
NOMINAL_TEMPERATURE_K = 6500.0
TEMPERATURE_SPREAD_K = 3000.0  # at v = 1
INTENSITY_SPREAD = 0.3  # at v = 1
# Keeps the lighting stream apart from other streams seeded by the same numbers.
_LIGHT_STREAM = 0x11647

# Linear sRGB from CIE XYZ (IEC 61966-2-1), and the luminance (Y) of linear sRGB.
_SRGB_FROM_XYZ = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)
_LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Lighting:
    """The cell's lights as `_build_model` sets them, and the draws they came from."""

    ceiling_pos_m: Vector3
    ceiling_dir: Vector3  # unit vector the light shines along
    ceiling_diffuse: Vector3
    headlight_ambient: Vector3
    headlight_diffuse: Vector3
    tilt_deg: float = 0.0
    color_temperature_k: float = NOMINAL_TEMPERATURE_K
    intensity: float = 1.0


NOMINAL_LIGHTING = Lighting(
    ceiling_pos_m=_CEILING_POS_M,
    ceiling_dir=_CEILING_DIR,
    ceiling_diffuse=_CEILING_DIFFUSE,
    headlight_ambient=_HEADLIGHT_AMBIENT,
    headlight_diffuse=_HEADLIGHT_DIFFUSE,
)


def scene_lighting(variation: float, *, scene_seed: int, sensor_seed: int) -> Lighting:
    """The lighting of one scene: nominal at variation 0, else drawn from the two seeds.

    Raises:
        ValueError: for a variation outside 0..1.
    """
    if not 0.0 <= variation <= 1.0:
        raise ValueError(f"lighting variation {variation} outside 0..1")
    if variation == 0.0:
        return NOMINAL_LIGHTING
    rng = np.random.default_rng([scene_seed, sensor_seed, _LIGHT_STREAM])
    tilt_rad = math.radians(rng.uniform(0.0, MAX_TILT_DEG * variation))
    azimuth_rad = rng.uniform(0.0, 2.0 * math.pi)
    temperature_k = NOMINAL_TEMPERATURE_K + TEMPERATURE_SPREAD_K * variation * rng.uniform(-1, 1)
    intensity = 1.0 + INTENSITY_SPREAD * variation * rng.uniform(-1.0, 1.0)
    direction = np.array(
        [
            math.sin(tilt_rad) * math.cos(azimuth_rad),
            math.sin(tilt_rad) * math.sin(azimuth_rad),
            -math.cos(tilt_rad),
        ]
    )
    color = intensity * color_temperature_rgb(temperature_k)
    # Auto-exposure: the table already reads 205/255 under the nominal light, so a brighter or
    # warmer light would clip a channel, which a camera's exposure control never lets the
    # dominant surface do. No channel of the light exceeds the nominal light's (the colour and
    # any dimming stay).
    color = color / max(1.0, float(color.max()))
    return Lighting(
        ceiling_pos_m=_vector3(_AIM_POINT_M - _LIGHT_DISTANCE_M * direction),
        ceiling_dir=_vector3(direction),
        ceiling_diffuse=_vector3(color * np.array(_CEILING_DIFFUSE)),
        headlight_ambient=_vector3(color * np.array(_HEADLIGHT_AMBIENT)),
        headlight_diffuse=_vector3(color * np.array(_HEADLIGHT_DIFFUSE)),
        tilt_deg=math.degrees(tilt_rad),
        color_temperature_k=float(temperature_k),
        intensity=float(intensity),
    )


def planckian_xy(temperature_k: float) -> tuple[float, float]:
    """CIE 1931 chromaticity (x, y) of a black body at 1667..25000 K.

    The cubic-spline approximation of Kim et al., "Design of advanced color temperature control
    system for HDTV applications", J. Korean Physical Society 41(6), 2002 (also given on
    Wikipedia's "Planckian locus" page); within ~1e-3 of the exact locus.

    Raises:
        ValueError: outside 1667..25000 K.
    """
    t = float(temperature_k)
    if not 1667.0 <= t <= 25000.0:
        raise ValueError(f"colour temperature {t} K outside 1667..25000 K")
    if t <= 4000.0:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222.0:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000.0:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def color_temperature_rgb(temperature_k: float) -> NDArray[np.float64]:
    """Linear RGB multipliers of a light at `temperature_k`, relative to 6500 K, luminance 1.

    Black-body chromaticity -> XYZ (Y = 1) -> linear sRGB, divided channel by channel by the
    6500 K values (so 6500 K is neutral grey, a von Kries-style relative scaling) and then by
    its luminance (so only the colour changes, not the brightness).
    """
    rgb = _linear_srgb(temperature_k) / _linear_srgb(NOMINAL_TEMPERATURE_K)
    result: NDArray[np.float64] = rgb / float(_LUMINANCE_WEIGHTS @ rgb)
    return result


def _linear_srgb(temperature_k: float) -> NDArray[np.float64]:
    x, y = planckian_xy(temperature_k)
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    rgb: NDArray[np.float64] = _SRGB_FROM_XYZ @ xyz
    return rgb


def _vector3(values: NDArray[np.float64]) -> Vector3:
    return float(values[0]), float(values[1]), float(values[2])
