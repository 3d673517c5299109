"""`a2-grasping bench gpu`: skips cleanly without CUDA (exit 77, a reason, a JSON saying so), and
its stages run end to end (`--dry-run-cpu`: the same script on the CPU with a small CLIP)."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch

from a2_grasping.installation import install_prefix

EXIT_NO_CUDA = 77  # documented in bench_gpu.py and the README


def _bench_gpu(*arguments: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    command = [str(install_prefix() / "bin" / "a2-grasping"), "bench", "gpu", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: bench gpu measures")
def test_without_cuda_it_measures_nothing_and_says_why(tmp_path):
    out = tmp_path / "gpu.json"
    result = _bench_gpu("--json", str(out))
    assert result.returncode == EXIT_NO_CUDA, result.stdout + result.stderr
    assert "bench gpu: skipped, nothing measured: torch sees no CUDA device" in result.stderr
    report = json.loads(out.read_text())
    assert report["exit_code"] == EXIT_NO_CUDA and "no CUDA device" in report["skipped"]
    assert "stages" not in report


@pytest.mark.slow
def test_the_stages_run_as_a_dry_run_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = _bench_gpu(
        "--json", str(out), "--dry-run-cpu", "--runs", "1", "--graspnet-points", "4096"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["dry_run_cpu"] is True and report["clip_tiles"] == [3, 4]
    assert set(report["stages"]) == {
        "clip_l14_336_1view_3x4_fp32",
        "clip_l14_336_1view_3x4_fp32_batch1",
        "clip_l14_336_text",
        "fusion_500_points_200_candidates",
        "graspnet_forward_decode",
        "select_a2_2views_3x4_fp32",
    }
    assert all(stage["median_ms"] > 0 for stage in report["stages"].values())
    # Tile skipping in the two-view selection: some of the 24 tiles hold no workspace point.
    tiles = report["tiles_per_selection_fp32"]
    assert tiles["computed"] + tiles["skipped"] == 24 and tiles["skipped"] > 0
