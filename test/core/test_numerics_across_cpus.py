"""The numeric tests again, on other kernel paths of this same CPU.

Float results computed in another order (another SIMD width, another BLAS kernel) are not
bit-identical, and a tolerance that only holds for the kernels of the machine it was written on
turns the suite red on the next one (issue 13: an Intel AVX-512 machine). So the numeric tests
also run here in child processes with
- `ATEN_CPU_CAPABILITY=default`: torch's own kernels (element-wise, reductions, grid_sample,
  interpolation, norms) without SIMD, as on a CPU torch does not recognise;
- `ATEN_CPU_CAPABILITY=avx2` + `MKL_CBWR=COMPATIBLE`: AVX2 kernels (an AVX2-only CPU such as
  Zen 3) and MKL's matrix products in its "compatible" code path. ATEN_CPU_CAPABILITY does not
  reach MKL, which picks its own kernels per CPU; its products are where most of the
  difference between two machines comes from, and MKL_CBWR changes them here.
The main run covers the native path (AVX-512 where the CPU has it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TEST_DIR = Path(__file__).parent
# Tests whose numbers come from torch kernels (the rest of the suite is geometry in numpy,
# ROS plumbing and the simulator).
NUMERIC_TESTS = (
    "test_clip_features.py",
    "test_fusion_model.py",
    "test_a2_mode.py",
    "graspnet",
)
PRINT_CAPABILITY = "import torch; print(torch.backends.cpu.get_cpu_capability())"
VARIANTS = {
    "aten_default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten_avx2_mkl_compatible": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"},
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_numeric_tests_pass_on_another_kernel_path(variant, tmp_path):
    env = {**os.environ, **VARIANTS[variant]}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [
        sys.executable,
        "-P",
        "-m",
        "pytest",
        "-p",
        "no:xdist",
        "-q",
        "--rootdir",
        str(TEST_DIR.parents[1]),
        "--basetemp",
        str(tmp_path / "pytest"),
        *(str(TEST_DIR / name) for name in NUMERIC_TESTS),
    ]
    capability = subprocess.run(
        [sys.executable, "-P", "-c", PRINT_CAPABILITY],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, (
        f"numeric tests fail with {VARIANTS[variant]} (torch capability {capability}): "
        f"{summary}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    )
