"""Colour names for objects and instructions, decided in CIELAB (perceptual, lighting-tolerant).

Objects get one of the base names (`BASE_COLORS`). An instruction may use any word of
`COLOR_WORDS`: a base name, a synonym ("grey"/"gray"), or a finer name with its own reference
colour ("crimson", "teal"), which is mapped to the base name nearest to it, so "scarlet" finds the
red object. Naming uses hue first: shading on a real or rendered object changes lightness and
chroma far more than hue. Achromatic colours (low chroma) are named by lightness.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# Reference sRGB (0..1) of the base names, chosen near the centres of each name's region.
BASE_COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.80, 0.08, 0.08),
    "orange": (0.95, 0.50, 0.05),
    "yellow": (0.95, 0.85, 0.10),
    "green": (0.10, 0.60, 0.15),
    "cyan": (0.10, 0.80, 0.85),
    "blue": (0.10, 0.25, 0.85),
    "purple": (0.50, 0.15, 0.70),
    "pink": (0.95, 0.45, 0.70),
    "white": (0.92, 0.92, 0.92),
    "grey": (0.50, 0.50, 0.50),
    "black": (0.08, 0.08, 0.08),
}
ACHROMATIC = ("white", "grey", "black")
# Below this CIELAB chroma a colour has no usable hue: named by lightness.
ACHROMATIC_CHROMA = 14.0
# Words that mean a base name outright.
SYNONYMS: dict[str, str] = {
    "gray": "grey",
    "violet": "purple",
    "turquoise": "cyan",
    "aqua": "cyan",
    "silver": "grey",
}
# Finer names with their own reference colour (sRGB 0..1), mapped to the nearest base name.
FINE_COLORS: dict[str, tuple[float, float, float]] = {
    "crimson": (0.86, 0.08, 0.24),
    "scarlet": (1.00, 0.14, 0.00),
    "maroon": (0.50, 0.00, 0.00),
    "navy": (0.00, 0.00, 0.50),
    "teal": (0.00, 0.55, 0.55),
    "lime": (0.45, 0.85, 0.10),
    "olive": (0.50, 0.50, 0.00),
    "gold": (1.00, 0.84, 0.00),
    "golden": (1.00, 0.84, 0.00),
    "amber": (1.00, 0.75, 0.00),
    "magenta": (0.90, 0.10, 0.75),
    "lavender": (0.70, 0.55, 0.90),
    "indigo": (0.29, 0.00, 0.51),
    "azure": (0.00, 0.50, 1.00),
    "beige": (0.90, 0.85, 0.70),
    "tan": (0.82, 0.71, 0.55),
    "salmon": (0.98, 0.50, 0.45),
    "coral": (1.00, 0.50, 0.31),
    "emerald": (0.31, 0.78, 0.47),
    # Brown is dark orange: without a colour reference in view, shading alone makes an orange
    # object read as brown (measured in the simulated cell: orange at L* 37), so brown is not a
    # name objects get; the word finds orange things.
    "brown": (0.45, 0.27, 0.10),
}


def rgb_to_lab(rgb: NDArray[np.uint8] | NDArray[np.floating]) -> NDArray[np.float64]:
    """CIELAB (D65) of sRGB colours: uint8 0..255 or floats 0..1, shape (..., 3)."""
    values = np.asarray(rgb)
    srgb = values / 255.0 if values.dtype == np.uint8 else values.astype(np.float64)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


_BASE_LAB = {name: rgb_to_lab(np.array(rgb)) for name, rgb in BASE_COLORS.items()}


def _hue_deg(lab: NDArray[np.float64]) -> float:
    return math.degrees(math.atan2(float(lab[2]), float(lab[1]))) % 360.0


def name_color(lab: NDArray[np.float64]) -> str:
    """The base name of a CIELAB colour.

    Chromatic colours: nearest reference by hue difference (in units of 25 degrees) plus a weak
    lightness term (units of 60 L*): shading moves L* by 20-30 between a lit top and a side face
    (measured in the simulated cell), while the base hues lie at least 25 degrees apart.
    """
    lab = np.asarray(lab, dtype=np.float64)
    chroma = math.hypot(float(lab[1]), float(lab[2]))
    if chroma < ACHROMATIC_CHROMA:
        if lab[0] > 75.0:
            return "white"
        return "black" if lab[0] < 30.0 else "grey"
    hue = _hue_deg(lab)
    best, best_cost = "", math.inf
    for name, reference in _BASE_LAB.items():
        if name in ACHROMATIC:
            continue
        hue_diff = abs((hue - _hue_deg(reference) + 180.0) % 360.0 - 180.0)
        cost = (hue_diff / 25.0) ** 2 + ((float(lab[0]) - float(reference[0])) / 60.0) ** 2
        if cost < best_cost:
            best, best_cost = name, cost
    return best


def _base_name_of_word(word: str) -> str | None:
    if word in BASE_COLORS:
        return word
    if word in SYNONYMS:
        return SYNONYMS[word]
    if word in FINE_COLORS:
        return name_color(rgb_to_lab(np.array(FINE_COLORS[word])))
    return None


# Every colour word an instruction may use -> the base name objects are matched on.
COLOR_WORDS: dict[str, str] = {
    word: base
    for word in (*BASE_COLORS, *SYNONYMS, *FINE_COLORS)
    if (base := _base_name_of_word(word)) is not None
}
