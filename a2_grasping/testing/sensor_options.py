"""The simulated cell's sensor settings as command-line options, shared by the demo and benches.

`--sensor` names sim_node's `sensor_profile` (a2_grasping/sim/sensor.py); `--calibration-error`
and `--lighting` apply to realistic profiles only, so `--sensor ideal,d435` runs the perfect cell
and a realistic one on the same seeds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

IDEAL = "ideal"


@dataclass(frozen=True)
class SensorSetting:
    """One sensor setting of the simulated cell."""

    profile: str
    calibration_error_m: float = 0.0
    calibration_error_deg: float = 0.0
    lighting_variation: float = 0.0
    seed: int = 0

    def sim_fields(self) -> dict[str, float | int | str]:
        """SimConfig fields (sim_node's parameters of the same names)."""
        return {
            "sensor_profile": self.profile,
            "sensor_seed": self.seed,
            "calibration_error_m": self.calibration_error_m,
            "calibration_error_deg": self.calibration_error_deg,
            "lighting_variation": self.lighting_variation,
        }

    def sim_arguments(self) -> list[str]:
        """--ros-args parameter overrides for sim_node."""
        return [part for k, v in self.sim_fields().items() for part in ("-p", f"{k}:={v}")]

    def describe(self) -> dict[str, float | int | str]:
        return dict(self.sim_fields())


def add_sensor_arguments(parser: argparse.ArgumentParser, *, several: bool) -> None:
    parser.add_argument(
        "--sensor",
        default=IDEAL,
        help="simulated camera profile: ideal, d435, d415, d455, l515"
        + (" (a comma list runs each on the same seeds, side by side)" if several else ""),
    )
    parser.add_argument(
        "--calibration-error",
        default="0,0",
        help="per-camera extrinsic error 'metres,degrees' for realistic profiles "
        "(e.g. 0.003,0.4: the residual of a good hand-eye calibration)",
    )
    parser.add_argument(
        "--lighting",
        type=float,
        default=0.0,
        help="lighting variation 0..1 per scene for realistic profiles (direction, colour "
        "temperature, intensity)",
    )
    parser.add_argument("--sensor-seed", type=int, default=0, help="seed of the sensor noise")


def sensor_settings(args: argparse.Namespace) -> list[SensorSetting]:
    """The settings the options name, in order; SystemExit with a reason when malformed."""
    from a2_grasping.sim.sensor import SENSOR_PROFILES

    profiles = [p.strip() for p in str(args.sensor).split(",") if p.strip()]
    unknown = [p for p in profiles if p not in SENSOR_PROFILES]
    if unknown or not profiles:
        raise SystemExit(f"--sensor: use {', '.join(SENSOR_PROFILES)}; got {args.sensor!r}")
    parts = [p.strip() for p in str(args.calibration_error).split(",")]
    try:
        translation_m, rotation_deg = (float(p) for p in parts)
    except ValueError as error:
        raise SystemExit(
            f"--calibration-error: expected 'metres,degrees', got {args.calibration_error!r}"
        ) from error
    if not (0.0 <= translation_m <= 0.05 and 0.0 <= rotation_deg <= 5.0):
        raise SystemExit("--calibration-error: 0..0.05 m and 0..5 deg")
    if not 0.0 <= args.lighting <= 1.0:
        raise SystemExit("--lighting: 0..1")
    return [
        SensorSetting(profile, seed=args.sensor_seed)
        if profile == IDEAL
        else SensorSetting(
            profile, translation_m, rotation_deg, args.lighting, seed=args.sensor_seed
        )
        for profile in profiles
    ]
