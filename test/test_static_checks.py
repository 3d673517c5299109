"""ruff (lint + format) on everything, mypy --strict on the ROS-free core and the ROS edge (ros/:
the adapters are checked against the core's Protocols they implement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint
REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_lint():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _run("ruff", "format", "--no-cache", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy():
    # The cache (under the ignored build/) makes reruns fast; analysing torch cold takes ~12 s.
    result = _run("mypy", "--cache-dir", str(REPO_ROOT / "build" / "mypy_cache"))
    assert result.returncode == 0, result.stdout + result.stderr
