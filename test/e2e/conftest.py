"""The simulated cell for end-to-end tests: one per test module (starting the simulator and the
three pipeline nodes costs tens of seconds on 2 cores), on its own ROS_DOMAIN_ID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from a2_grasping.testing.sim_session import SimSession


@pytest.fixture(scope="module")
def cell(request, tmp_path_factory) -> Iterator[tuple[SimSession, int]]:
    """The running cell and the domain id it runs on (for a client of one's own)."""
    from domain_coordinator import domain_id

    module = request.module.__name__.rsplit(".", 1)[-1]
    log_dir = tmp_path_factory.mktemp(f"{module}_logs")
    with domain_id() as reserved, SimSession(reserved, log_dir) as running:
        yield running, reserved


@pytest.fixture(scope="module")
def session(cell) -> SimSession:
    return cell[0]
