"""The sensor options of the demo and the benches, and household instructions from truth."""

from __future__ import annotations

import argparse

import pytest

from a2_grasping.bench.language_episodes import HOUSEHOLD_TEMPLATES, plan_episodes
from a2_grasping.testing.sensor_options import (
    SensorSetting,
    add_sensor_arguments,
    sensor_settings,
)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sensor_arguments(parser, several=True)
    return parser.parse_args(argv)


def test_a_profile_list_runs_ideal_perfect_and_realistic_ones_degraded():
    ideal, d435 = sensor_settings(
        _parse("--sensor", "ideal,d435", "--calibration-error", "0.003,0.4", "--lighting", "1")
    )
    assert ideal == SensorSetting("ideal")  # the perfect cell: no calibration error, no light
    assert d435 == SensorSetting("d435", 0.003, 0.4, 1.0)
    assert d435.sim_arguments()[:2] == ["-p", "sensor_profile:=d435"]
    assert "calibration_error_deg:=0.4" in d435.sim_arguments()


@pytest.mark.parametrize(
    "argv",
    [
        ("--sensor", "kinect"),
        ("--calibration-error", "3mm"),
        ("--calibration-error", "0.1,0.4"),
        ("--lighting", "2"),
    ],
)
def test_bad_sensor_options_are_refused_with_a_reason(argv):
    with pytest.raises(SystemExit) as refused:
        sensor_settings(_parse(*argv))
    assert str(refused.value).startswith("--")


def test_household_instructions_name_objects_by_colour_size_and_position_only():
    episodes = plan_episodes(9000, 9, "household")
    assert {e.template for e in episodes} == set(HOUSEHOLD_TEMPLATES)
    for episode in episodes:
        assert "object" in episode.instruction  # never a noun grounding does not know
        assert episode.targets
